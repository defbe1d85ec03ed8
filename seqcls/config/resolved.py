"""The resolved config: every setting that applies, defaults spelled out, as a mapping
and as YAML (what a run directory keeps)."""

from __future__ import annotations

from typing import Any

import yaml

from seqcls.config.schema import Config


def resolved_dict(config: Config) -> dict[str, Any]:
    """Every setting that applies, defaults spelled out; settings that this config makes
    inapplicable (and that would be contradictions if written) are left out."""
    data = config.model_dump(mode="json")
    if config.data.valid is not None:
        del data["data"]["valid_split"]
    from seqcls.tasks import reading_task

    if config.model.attention.type == "additive" or reading_task(config.task).per_token:
        del data["model"]["attention"]["pooling"]
    if config.model.attention.type != "multihead":
        del data["model"]["attention"]["num_heads"]
        del data["model"]["attention"]["key_dim"]
    if not config.model.encoder.bidirectional:
        del data["model"]["encoder"]["merge_mode"]
    return data


# Settings a config may leave to the data ("auto"); a run's config.yaml records what the
# data made of them.
FROM_DATA = ("task", "preprocessing.max_length")


def config_to_yaml(config: Config, from_data: dict[str, Any] | None = None) -> str:
    """The fully resolved config as YAML; it validates back to the same config.

    `from_data` gives the values the data decided for FROM_DATA settings left `auto`
    (the task, max_length); they are written in place of `auto`, each line keeping the
    original in a comment, so the run's config.yaml says what was trained."""
    data = resolved_dict(config)
    decided = []
    for key, value in (from_data or {}).items():
        *sections, name = key.split(".")
        owner = data
        for section in sections:
            owner = owner[section]
        if owner.get(name) == "auto" and value is not None:
            owner[name] = value
            decided.append(key)
    lines = yaml.safe_dump(data, sort_keys=False).splitlines()
    for key in decided:
        lines = _comment(lines, key, "auto in the config trained with; decided from the data")
    return "\n".join(lines) + "\n"


def _comment(lines: list[str], key: str, comment: str) -> list[str]:
    """Add `# comment` to the line of the dotted `key` in block-style YAML `lines`."""
    *sections, name = key.split(".")
    depth, start = 0, 0
    for section in sections:  # the section's block starts after its own line
        start = lines.index(" " * depth + section + ":", start) + 1
        depth += 2
    prefix = " " * depth + name + ":"
    for index in range(start, len(lines)):
        line = lines[index]
        if line.startswith(prefix):
            lines[index] = f"{line}  # {comment}"
            break
        if depth and not line.startswith(" " * depth):
            break  # left the section without finding the key
    return lines
