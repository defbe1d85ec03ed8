"""The one config schema: pydantic models closed to typos, YAML loading, --set overrides.

Defaults live in the schema (sections.py, schema.py) and only there. Loading never
imports TensorFlow, so `seqcls validate` and config errors stay instant.

Modules, by role:
- limits: the bounds on a config, and how a user's value is shown in a message;
- fields: the types of settings (bounded integers, paths, encodings) and Section;
- sections, schema: the config sections, and Config (the root, rules across sections);
- tune: the tune section (seqcls tune's search space), checked against Config;
- starter: `seqcls init`'s commented starter configs;
- estimate: the model's parameter count, without TensorFlow;
- yaml_reading: safe, bounded YAML; overrides: `--set KEY.PATH=VALUE`;
- error_messages: pydantic's errors as config messages;
- loading: load_config, validate_config; resolved: the resolved config and its YAML.
"""

from __future__ import annotations

from seqcls.config.error_messages import format_validation_error
from seqcls.config.fields import (
    SIZE,
    AtMost,
    BatchSize,
    ClassWeight,
    Column,
    Count,
    Float32,
    Fraction,
    Heads,
    Layers,
    Length,
    PathField,
    PositiveInt,
    RunName,
    Section,
    Seed,
    Vocabulary,
    Width,
)
from seqcls.config.limits import (
    MAX_CONFIG_BYTES,
    MAX_ERRORS_SHOWN,
    MAX_INT_CHARS,
    MAX_PARAMETERS,
    MAX_SHOWN,
    MAX_STRING,
    MAX_YAML_DEPTH,
    MAX_YAML_VALUES,
)
from seqcls.config.loading import PATH_KEYS, config_from_yaml_text, load_config, validate_config
from seqcls.config.overrides import apply_overrides, parse_override
from seqcls.config.resolved import FROM_DATA, config_to_yaml, resolved_dict
from seqcls.config.schema import Config, distribution_kind, estimate_parameters, space_problems
from seqcls.config.sections import (
    AbstentionConfig,
    AttentionConfig,
    BackwardConfig,
    DataConfig,
    EarlyStoppingConfig,
    EmbeddingConfig,
    EncoderConfig,
    HeadConfig,
    MergeMode,
    ModelConfig,
    Monitor,
    OutputConfig,
    PreprocessingConfig,
    RuntimeConfig,
    TrainingConfig,
)
from seqcls.config.tune import Distribution, PruningConfig, TuneConfig
from seqcls.config.yaml_reading import YamlLimitError, yaml_load

__all__ = [
    "MAX_CONFIG_BYTES",
    "MAX_ERRORS_SHOWN",
    "MAX_INT_CHARS",
    "MAX_PARAMETERS",
    "MAX_SHOWN",
    "MAX_STRING",
    "MAX_YAML_DEPTH",
    "MAX_YAML_VALUES",
    "FROM_DATA",
    "PATH_KEYS",
    "SIZE",
    "AtMost",
    "AttentionConfig",
    "BackwardConfig",
    "BatchSize",
    "ClassWeight",
    "Column",
    "Config",
    "Count",
    "DataConfig",
    "Distribution",
    "EarlyStoppingConfig",
    "EmbeddingConfig",
    "EncoderConfig",
    "Float32",
    "Fraction",
    "HeadConfig",
    "Heads",
    "Layers",
    "Length",
    "MergeMode",
    "ModelConfig",
    "Monitor",
    "OutputConfig",
    "AbstentionConfig",
    "PathField",
    "PositiveInt",
    "PreprocessingConfig",
    "PruningConfig",
    "RunName",
    "RuntimeConfig",
    "Section",
    "Seed",
    "TrainingConfig",
    "TuneConfig",
    "Vocabulary",
    "Width",
    "YamlLimitError",
    "apply_overrides",
    "config_from_yaml_text",
    "config_to_yaml",
    "distribution_kind",
    "estimate_parameters",
    "format_validation_error",
    "load_config",
    "parse_override",
    "resolved_dict",
    "space_problems",
    "validate_config",
    "yaml_load",
]
