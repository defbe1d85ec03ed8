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


def config_to_yaml(config: Config) -> str:
    """The fully resolved config as YAML; it validates back to the same config."""
    return yaml.safe_dump(resolved_dict(config), sort_keys=False)
