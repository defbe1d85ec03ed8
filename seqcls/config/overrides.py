"""`--set KEY.PATH=VALUE` overrides: parsed, and applied to a config mapping."""

from __future__ import annotations

from typing import Any

import yaml

from seqcls.config.limits import clip, show
from seqcls.config.yaml_reading import yaml_load
from seqcls.errors import ConfigError


def parse_override(text: str) -> tuple[list[str], Any]:
    """Split `a.b.c=value` into the key path and the value parsed as a YAML scalar."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key or any(not part for part in key.split(".")):
        raise ConfigError(
            f"--set {show(text)}: expected KEY.PATH=VALUE, for example --set model.encoder.units=64"
        )
    try:
        value = yaml_load(raw) if raw.strip() else ""
    except ConfigError as error:
        raise ConfigError(f"--set {show(text)}: {error}") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"--set {show(text)}: the value is not valid YAML ({error})") from None
    return key.split("."), value


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> set[str]:
    """Apply `--set` overrides to the nested dict in place; return the dotted keys set."""
    touched = set()
    for text in overrides:
        path, value = parse_override(text)
        node = raw
        for depth, part in enumerate(path[:-1]):
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                where = ".".join(path[: depth + 1])
                raise ConfigError(
                    f"--set {show(text)}: {clip(where)} is a value ({show(child)}), not a "
                    "section, so it has no sub-keys"
                )
            node = child
        node[path[-1]] = value
        touched.add(".".join(path))
    return touched
