"""The one config schema: pydantic models closed to typos, YAML loading, --set overrides.

Defaults live here and only here. Loading never imports TensorFlow, so
`seqcls validate` and config errors stay instant.
"""

from __future__ import annotations

import codecs
import difflib
import re
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from seqcls.errors import ConfigError

# Path fields accept strings from YAML even though the models are strict.
PathField = Annotated[Path, Field(strict=False)]
PositiveInt = Annotated[int, Field(gt=0)]
Fraction = Annotated[float, Field(ge=0.0, lt=1.0)]


class Section(BaseModel):
    """Base for every config section: unknown keys and loose types are errors."""

    model_config = ConfigDict(extra="forbid", strict=True, validate_default=True)


class DataConfig(Section):
    train: PathField
    # When `valid` is absent, a stratified, seeded `valid_split` of train is held out.
    valid: PathField | None = None
    valid_split: Annotated[float, Field(gt=0.0, lt=0.5)] = 0.1
    test: PathField | None = None
    format: Literal["auto", "csv", "tsv", "jsonl"] = "auto"
    text_column: str | list[str] = "text"
    # multiclass/binary: one label per row; multilabel: labels joined by label_delimiter;
    # tagging: whitespace-separated tags, one per whitespace-separated token of the text.
    label_column: str = "label"
    label_delimiter: Annotated[str, Field(min_length=1)] = "|"
    # Several text columns may be given as a list; they are joined with text_separator.
    text_separator: str = " "
    encoding: str = "utf-8"  # a UTF-8 byte-order mark is accepted
    # TSV is read without quote processing (a '"' is a character) unless this is true.
    tsv_quoting: bool = False
    # error: stop and list bad rows; skip: leave them out, counted; warn: as skip, listed.
    on_bad_rows: Literal["error", "skip", "warn"] = "error"
    # Train from the files without loading them whole (data larger than memory): one
    # streaming pass builds the vocabulary and label map, then tf.data reads the shards
    # (train may be a glob such as data/part-*.csv) through a shuffle buffer. Needs a
    # valid file; valid and test are read whole.
    streaming: bool = False
    # Streaming: rows held for shuffling (more: better mixing, more memory).
    shuffle_buffer: PositiveInt = 10000

    @model_validator(mode="after")
    def _valid_or_split(self) -> DataConfig:
        try:
            codecs.lookup(self.encoding)
        except LookupError:
            raise ValueError(
                f"encoding {self.encoding!r} is not a codec Python knows; use for example "
                "utf-8, latin-1 or cp1252"
            ) from None
        if isinstance(self.text_column, list) and not self.text_column:
            raise ValueError("text_column is an empty list; name at least one column")
        if self.streaming and self.valid is None:
            raise ValueError(
                "data.streaming needs data.valid (a file): a held-out valid_split would have "
                "to be kept in memory; split off a validation file first"
            )
        # (Compared with the default, not "was it set": a resolved config spells it out.)
        if self.shuffle_buffer != 10000 and not self.streaming:
            raise ValueError(
                "data.shuffle_buffer applies to data.streaming: true (in memory, the whole "
                "training set is shuffled); remove it or set data.streaming: true"
            )
        if self.valid is not None and "valid_split" in self.model_fields_set:
            raise ValueError(
                "set either data.valid (a file) or data.valid_split (a fraction of train), not both"
            )
        return self


class PreprocessingConfig(Section):
    tokenizer: Literal["word", "char"] = "word"
    lowercase: bool = True
    strip_punctuation: bool = True
    # Vocabulary size including the padding and out-of-vocabulary entries.
    max_tokens: Annotated[int, Field(ge=3)] = 20000
    min_frequency: PositiveInt = 1
    # `auto`: the `length_percentile` of train lengths in tokens, reported at train time.
    max_length: PositiveInt | Literal["auto"] = "auto"
    length_percentile: Annotated[float, Field(gt=0.0, le=100.0)] = 99.0


class EmbeddingConfig(Section):
    dim: PositiveInt = 128
    trainable: bool = True
    # Word vectors in GloVe text format (`word v1 ... vd`, optionally .gz).
    pretrained: PathField | None = None
    dropout: Fraction = 0.0


MergeMode = Literal["concat", "sum", "mul", "ave", "none"]


class BackwardConfig(Section):
    """A separately configured backward layer; an unset key takes the forward layer's value."""

    cell: Literal["lstm", "gru"] | None = None
    units: PositiveInt | None = None
    dropout: Fraction | None = None
    recurrent_dropout: Fraction | None = None


class EncoderConfig(Section):
    cell: Literal["lstm", "gru"] = "lstm"
    units: PositiveInt = 128
    num_layers: PositiveInt = 1
    bidirectional: bool = True
    # How Bidirectional combines the forward and backward outputs; `none` keeps
    # them apart, each pooled on its own, concatenated before the head.
    merge_mode: MergeMode = "concat"
    dropout: Fraction = 0.0
    # Any value above 0 rules out the fused cuDNN kernel on GPU.
    recurrent_dropout: Fraction = 0.0
    # Add each stacked layer's input to its output (layers 2..num_layers, equal widths).
    residual: bool = False
    backward: BackwardConfig | None = None

    @property
    def backward_units(self) -> int:
        return self.backward.units if self.backward and self.backward.units else self.units

    @property
    def output_width(self) -> int:
        """Width of one merged step: what the next layer (or the pooling) receives."""
        if not self.bidirectional:
            return self.units
        if self.merge_mode in ("concat", "none"):
            return self.units + self.backward_units
        return self.units

    @model_validator(mode="after")
    def _consistent(self) -> EncoderConfig:
        if not self.bidirectional and "merge_mode" in self.model_fields_set:
            raise ValueError(
                "merge_mode only applies to a bidirectional encoder; "
                "remove model.encoder.merge_mode or set model.encoder.bidirectional: true"
            )
        if not self.bidirectional and self.backward is not None:
            raise ValueError(
                "backward configures the backward direction of a bidirectional encoder; "
                "remove model.encoder.backward or set model.encoder.bidirectional: true"
            )
        if self.merge_mode in ("sum", "mul", "ave") and self.backward_units != self.units:
            raise ValueError(
                f"merge_mode {self.merge_mode} combines the two directions element-wise, so both "
                f"need the same width, but units is {self.units} and backward.units is "
                f"{self.backward_units}; use merge_mode concat or none, or equal units"
            )
        if self.residual and self.num_layers < 2:
            raise ValueError(
                "residual connects stacked layers; set model.encoder.num_layers to 2 or more, "
                "or remove model.encoder.residual"
            )
        return self


class AttentionConfig(Section):
    # additive: Zhou et al. (2016) attention pooling, masked before the softmax.
    # multihead: self-attention over the encoder's steps (padding masked), then `pooling`.
    type: Literal["none", "additive", "multihead"] = "additive"
    # With type none or multihead: how the sequence becomes one vector (masked).
    # `last` (the encoder's final states) is for type none only; multihead defaults to mean.
    pooling: Literal["last", "mean", "max"] = "last"
    # multihead only.
    num_heads: PositiveInt = 4
    key_dim: PositiveInt = 32

    @model_validator(mode="after")
    def _consistent(self) -> AttentionConfig:
        if self.type == "additive" and "pooling" in self.model_fields_set:
            raise ValueError(
                "pooling is only used when model.attention.type is none or multihead (it is "
                "'additive', which pools by itself); remove model.attention.pooling or change "
                "model.attention.type"
            )
        if self.type == "multihead" and "pooling" not in self.model_fields_set:
            # The default pooling depends on the type: `last` needs final states,
            # which self-attention outputs do not have.
            object.__setattr__(self, "pooling", "mean")
        if self.type == "multihead" and self.pooling == "last":
            raise ValueError(
                "multihead attention is followed by mean or max pooling over real tokens; set "
                "model.attention.pooling: mean or max ('last' is the default for type none only)"
            )
        if self.type != "multihead" and self.model_fields_set & {"num_heads", "key_dim"}:
            raise ValueError("num_heads and key_dim only apply to model.attention.type: multihead")
        return self


class HeadConfig(Section):
    hidden: list[PositiveInt] = Field(default_factory=list)
    activation: Literal["relu", "gelu", "tanh", "selu", "swish"] = "relu"
    dropout: Fraction = 0.0


class ModelConfig(Section):
    embedding: EmbeddingConfig = Field(default_factory=EmbeddingConfig)
    encoder: EncoderConfig = Field(default_factory=EncoderConfig)
    attention: AttentionConfig = Field(default_factory=AttentionConfig)
    head: HeadConfig = Field(default_factory=HeadConfig)


Monitor = Literal["val_loss", "val_accuracy"]


class EarlyStoppingConfig(Section):
    enabled: bool = True
    # Also the quantity the best checkpoint is chosen by.
    monitor: Monitor = "val_loss"
    patience: PositiveInt = 3
    # Load the best checkpoint's weights after training, whether or not training stopped early.
    restore_best: bool = True


class TrainingConfig(Section):
    epochs: PositiveInt = 10
    batch_size: PositiveInt = 32
    optimizer: Literal["adam", "adamw", "sgd", "rmsprop"] = "adam"
    learning_rate: Annotated[float, Field(gt=0.0)] = 1e-3
    clipnorm: Annotated[float, Field(gt=0.0)] | None = None
    # Loss weight per label: none (all 1), balanced (n / (labels * count), from train), or
    # {label: weight} (unlisted labels weigh 1). Multiclass and binary tasks only.
    class_weight: Literal["none", "balanced"] | dict[str, Annotated[float, Field(gt=0.0)]] = "none"
    early_stopping: EarlyStoppingConfig = Field(default_factory=EarlyStoppingConfig)
    # Batch texts of similar length together (length buckets): much less padding computed.
    bucketing: bool = True
    # Batches per epoch; default: one pass over the training data. Useful with very large
    # (streamed) data, where validation and checkpoints should come more often.
    steps_per_epoch: PositiveInt | None = None
    # TensorFlow op determinism: bit-identical reruns on the same machine, somewhat slower
    # (on CPU, runs with the same seed already matched in our tests without it).
    deterministic: bool = False


class RuntimeConfig(Section):
    # auto: a GPU when TensorFlow sees one, else the CPU; gpu: fail unless one is visible.
    device: Literal["auto", "cpu", "gpu"] = "auto"
    # mixed_float16 / mixed_bfloat16: compute in half precision, variables and the output
    # layer (softmax/sigmoid) in float32. Pays off on GPUs with tensor cores only.
    mixed_precision: Literal["none", "mixed_float16", "mixed_bfloat16"] = "none"
    # mirrored: one machine, several devices (tf.distribute.MirroredStrategy);
    # multi_worker: several machines (MultiWorkerMirroredStrategy, cluster from TF_CONFIG).
    distribution: Literal["none", "mirrored", "multi_worker"] = "none"
    # mirrored only: the devices to mirror over (default: every visible GPU, else the CPU).
    devices: list[str] | None = None

    @model_validator(mode="after")
    def _consistent_runtime(self) -> RuntimeConfig:
        if self.devices is not None and self.distribution != "mirrored":
            raise ValueError(
                "runtime.devices lists the devices of a mirrored strategy; set "
                "runtime.distribution: mirrored or remove runtime.devices"
            )
        if self.devices is not None and not self.devices:
            raise ValueError("runtime.devices is an empty list; name at least one device")
        if self.distribution == "multi_worker" and self.mixed_precision == "mixed_float16":
            # Keras' LossScaleOptimizer decides "finite gradients?" on each worker's own,
            # not yet all-reduced gradients: when one worker overflows and another does
            # not, only one enters the optimizer's all-reduce, and training hangs.
            raise ValueError(
                "runtime.mixed_precision mixed_float16 is not supported with "
                "runtime.distribution multi_worker (its loss scaling can make the workers "
                "disagree); use mixed_bfloat16 (no loss scaling) or none"
            )
        return self


class OutputConfig(Section):
    # TensorBoard logs (scalars per epoch) in RUN_DIR/tensorboard.
    tensorboard: bool = False
    # confusion_matrix.png and training_curves.png (needs the plots extra: matplotlib).
    # auto: when matplotlib is installed; true: required (an error without it); false: never.
    plots: Literal["auto"] | bool = "auto"
    # report.html: config, metrics, plots, per-class table, confident mistakes.
    html_report: bool = True


class Config(Section):
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")] = "run"
    seed: int = 42
    # auto: binary (one sigmoid output) for two labels, multiclass (softmax) otherwise.
    # multilabel: any number of labels per text (sigmoid per label, tuned thresholds).
    # tagging: one tag per token (many-to-many).
    task: Literal["auto", "multiclass", "binary", "multilabel", "tagging"] = "auto"
    data: DataConfig
    preprocessing: PreprocessingConfig = Field(default_factory=PreprocessingConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    runtime: RuntimeConfig = Field(default_factory=RuntimeConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)

    @model_validator(mode="after")
    def _task_fits(self) -> Config:
        if self.task in ("multilabel", "tagging") and self.training.class_weight != "none":
            raise ValueError(
                f"training.class_weight applies to multiclass and binary tasks, not {self.task}; "
                "remove it"
            )
        if self.data.streaming and self.task == "tagging":
            raise ValueError(
                "data.streaming supports text-level tasks (multiclass, binary, multilabel), "
                "not tagging; set data.streaming: false"
            )
        if self.task != "tagging":
            return self
        problems = []
        if self.preprocessing.tokenizer != "word":
            problems.append("preprocessing.tokenizer must be word (tags belong to words)")
        if self.preprocessing.strip_punctuation:
            problems.append(
                "preprocessing.strip_punctuation must be false (stripping would delete "
                "punctuation tokens and shift every tag after them)"
            )
        if self.model.attention.type != "none":
            problems.append(
                "model.attention.type must be none (tagging keeps one vector per token; "
                "there is nothing to pool)"
            )
        elif "pooling" in self.model.attention.model_fields_set:
            problems.append("model.attention.pooling does not apply to tagging; remove it")
        if problems:
            raise ValueError("task tagging needs: " + "; ".join(problems))
        return self


class _ConfigLoader(yaml.SafeLoader):
    """YAML's safe loader, also reading `1e-3` as a number.

    PyYAML follows YAML 1.1, where a float needs a dot (`1.0e-3`), so the `1e-3` that
    people write for learning rates would arrive as a string.
    """


_ConfigLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


def yaml_load(text: str) -> Any:
    return yaml.load(text, Loader=_ConfigLoader)  # a SafeLoader: no arbitrary objects


PATH_KEYS = ("data.train", "data.valid", "data.test", "model.embedding.pretrained")


def parse_override(text: str) -> tuple[list[str], Any]:
    """Split `a.b.c=value` into the key path and the value parsed as a YAML scalar."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key or any(not part for part in key.split(".")):
        raise ConfigError(
            f"--set {text!r}: expected KEY.PATH=VALUE, for example --set model.encoder.units=64"
        )
    try:
        value = yaml_load(raw) if raw.strip() else ""
    except yaml.YAMLError as error:
        raise ConfigError(f"--set {text!r}: the value is not valid YAML ({error})") from None
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
                    f"--set {text!r}: {where} is a value ({child!r}), not a section, "
                    "so it has no sub-keys"
                )
            node = child
        node[path[-1]] = value
        touched.add(".".join(path))
    return touched


def _section_at(path: tuple[Any, ...]) -> type[BaseModel] | None:
    """The pydantic model class found at a key path of Config, if the path names one."""
    model: type[BaseModel] = Config
    for part in path:
        field = model.model_fields.get(part) if isinstance(part, str) else None
        annotation = field.annotation if field else None
        # `Section | None` fields: look inside the union.
        candidates = [annotation, *get_args(annotation)]
        sections = [c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)]
        if not sections:
            return None
        model = sections[0]
    return model


def format_validation_error(error: ValidationError, overridden: set[str]) -> str:
    lines = []
    for item in error.errors():
        loc = tuple(part for part in item["loc"] if not str(part).startswith("function-"))
        key = ".".join(str(part) for part in loc) or "(top level)"
        origin = " (from --set)" if key in overridden else ""
        kind = item["type"]
        if kind == "extra_forbidden":
            section = _section_at(loc[:-1])
            allowed = sorted(section.model_fields) if section else []
            hint = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
            suggestion = f"; did you mean '{hint[0]}'?" if hint else ""
            lines.append(
                f"unknown key '{key}'{origin}{suggestion} allowed keys here: {', '.join(allowed)}"
            )
        elif kind == "missing":
            lines.append(f"missing required key '{key}'")
        elif kind == "value_error":
            lines.append(f"{key}{origin}: {item['msg'].removeprefix('Value error, ')}")
        else:
            received = item.get("input")
            message = item["msg"].removeprefix("Value error, ")
            lines.append(f"{key}{origin}: got {received!r}; {message}")
    return "invalid config:\n  " + "\n  ".join(lines)


def validate_config(raw: Any, overridden: set[str] | None = None) -> Config:
    if not isinstance(raw, dict):
        raise ConfigError(
            f"invalid config: expected a mapping of sections (name, data, model, ...), "
            f"got {type(raw).__name__}"
        )
    try:
        return Config.model_validate(raw)
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
    try:
        raw = yaml_load(path.read_text(encoding="utf-8"))
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
        config = validate_config(raw, overridden)
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None
    return _resolve_paths(config, path.resolve().parent, overridden)


def resolved_dict(config: Config) -> dict[str, Any]:
    """Every setting that applies, defaults spelled out; settings that this config makes
    inapplicable (and that would be contradictions if written) are left out."""
    data = config.model_dump(mode="json")
    if config.data.valid is not None:
        del data["data"]["valid_split"]
    if config.model.attention.type == "additive" or config.task == "tagging":
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


def config_from_yaml_text(text: str) -> Config:
    """Load a config written by `config_to_yaml` (a run directory's own copy)."""
    return validate_config(yaml_load(text))
