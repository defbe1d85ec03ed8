"""Loading a config: read the YAML file, apply `--set` overrides, check every string,
validate against the schema, and make relative paths absolute."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from seqcls.config.error_messages import format_validation_error
from seqcls.config.limits import MAX_CONFIG_BYTES, MAX_STRING, clip, show
from seqcls.config.overrides import apply_overrides
from seqcls.config.schema import Config
from seqcls.config.yaml_reading import yaml_load
from seqcls.errors import ConfigError

PATH_KEYS = ("data.train", "data.valid", "data.test", "model.embedding.pretrained")


def _check_strings(raw: Any) -> None:
    """Refuse NUL characters (which paths cannot hold), lone surrogates (not UTF-8) and
    overlong strings, in any key or value: one rule for every string field, present and
    future."""
    stack: list[tuple[str, Any]] = [("", raw)]
    seen: set[int] = set()
    while stack:
        path, value = stack.pop()
        if isinstance(value, (dict, list)):
            if id(value) in seen:
                continue
            seen.add(id(value))
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, child in items:
                if isinstance(value, list):
                    child_path = f"{path}[{key}]"
                else:
                    _check_string(path or "(top level)", key, what="a key")
                    child_path = f"{path}.{clip(str(key))}" if path else clip(str(key))
                stack.append((child_path, child))
        else:
            _check_string(path, value, what="the value")


def _check_string(path: str, value: Any, what: str) -> None:
    if not isinstance(value, str):
        return
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ConfigError(
            f"invalid config:\n  {path}: {what} {show(value)} holds a lone surrogate "
            "(an escape such as \\ud800), which is not text and cannot be written or "
            "printed; remove it"
        ) from None
    if "\x00" in value:
        raise ConfigError(
            f"invalid config:\n  {path}: {what} {show(value)} contains a NUL character "
            "(\\x00), which no file name, column or setting can hold; remove it"
        )
    if len(value) > MAX_STRING:
        raise ConfigError(
            f"invalid config:\n  {path}: {what} is a string of {len(value):,} characters, "
            f"more than the {MAX_STRING:,} any setting may have: {show(value)}"
        )


def validate_config(
    raw: Any, overridden: set[str] | None = None, *, new_config: bool = False
) -> Config:
    """Validate a config mapping. `new_config`: a user's config (load_config passes it),
    held to the sanity limits too (sizes, the model's size, label column apart from the
    text columns); without it, as for a run directory's own config.yaml, only what would
    crash is refused, so that runs trained before a limit existed stay readable."""
    if not isinstance(raw, dict):
        raise ConfigError(
            f"invalid config: expected a mapping of sections (name, data, model, ...), "
            f"got {type(raw).__name__}"
        )
    _check_strings(raw)
    try:
        return Config.model_validate(raw, context={"new_config": new_config})
    except ValidationError as error:
        raise ConfigError(format_validation_error(error, overridden or set())) from None


def _resolve_paths(config: Config, base_dir: Path, overridden: set[str]) -> Config:
    """Make relative paths absolute: file keys against the config's folder, --set ones against
    the current directory (where the user typed them)."""
    for key in PATH_KEYS:
        section_name, *rest = key.split(".")
        section = getattr(config, section_name)
        owner = section
        for part in rest[:-1]:
            owner = getattr(owner, part)
        value = getattr(owner, rest[-1])
        if value is None or value.is_absolute():
            continue
        base = Path.cwd() if key in overridden else base_dir
        setattr(owner, rest[-1], (base / value).resolve())
    return config


def load_config(path: str | Path, overrides: list[str] | None = None) -> Config:
    """Read a YAML config, apply `--set` overrides, validate, and resolve relative paths."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    size = path.stat().st_size
    if size > MAX_CONFIG_BYTES:
        raise ConfigError(
            f"{path}: {size:,} bytes, more than the {MAX_CONFIG_BYTES:,} a config may have "
            "(a config is a few kilobytes); is this the right file?"
        )
    try:
        raw = yaml_load(path.read_text(encoding="utf-8"))
    except ConfigError as error:  # a bound of the loader (also a YAMLError)
        raise ConfigError(f"{path}: {error}") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from None
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path}: not UTF-8 text ({error})") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of sections at the top level")
    overridden = apply_overrides(raw, overrides or [])
    try:
        config = validate_config(raw, overridden, new_config=True)
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None
    return _resolve_paths(config, path.resolve().parent, overridden)


def config_from_yaml_text(text: str) -> Config:
    """Load a config written by `config_to_yaml` (a run directory's own copy)."""
    return validate_config(yaml_load(text))
