"""The one config schema: pydantic models closed to typos, YAML loading, --set overrides.

Defaults live here and only here. Loading never imports TensorFlow, so
`seqcls validate` and config errors stay instant.
"""

from __future__ import annotations

import codecs
import difflib
import re
import reprlib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    model_validator,
)

from seqcls.errors import ConfigError

# What a hostile or mistaken config may make the loader and the validator do is bounded:
# the file's size, YAML nesting and alias expansion, every string, every integer (see
# AtMost), every float (finite), the model's size, and the length of error messages.
MAX_CONFIG_BYTES = 1_000_000  # a config is a few kilobytes
MAX_YAML_DEPTH = 50  # a config nests a few levels (section, sub-section, key, value)
MAX_YAML_VALUES = 100_000  # values after YAML aliases are expanded
MAX_STRING = 4096  # characters in any string (Linux's PATH_MAX for paths)
MAX_INT_CHARS = 40  # characters of an integer in YAML (2**64 has 20 digits)
MAX_SHOWN = 100  # characters of a user's value echoed in an error message
MAX_ERRORS_SHOWN = 20
MAX_PARAMETERS = 2_000_000_000


def _clip(text: str, limit: int = MAX_SHOWN) -> str:
    """`text`, cut to `limit` characters with a note of the full length."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} characters)"


_repr = reprlib.Repr()
_repr.maxstring = _repr.maxother = MAX_SHOWN
_repr.maxlevel, _repr.maxlist, _repr.maxdict = 3, 6, 4


def _show(value: Any) -> str:
    """A short repr of a user's value for an error message, cheap however large the value."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 100:
        return f"an integer of about {int(value.bit_length() * 0.30103) + 1:,} digits"
    try:
        return _clip(_repr.repr(value))
    except ValueError:  # an integer too long to print, deep inside
        return f"a {type(value).__name__}"


def _new_config(info: ValidationInfo) -> bool:
    """Whether the config being validated is a user's new one (load_config), not one that
    seqcls wrote into a run directory. Sanity limits apply to new configs only: a run
    trained before a limit existed stays readable (predict, eval, resume)."""
    return bool(info.context and info.context.get("new_config"))


@dataclass(frozen=True)
class AtMost:
    """Upper bound of a setting, with the reason; every integer of the schema has one.

    `always`: a hard limit (past it, something crashes: nothing can have been trained with
    such a value); otherwise a sanity limit, checked for new configs only."""

    limit: int | float
    why: str
    always: bool = False

    def __call__(self, value: Any, info: ValidationInfo) -> Any:
        if (self.always or _new_config(info)) and value > self.limit:
            limit = f"{self.limit:,}" if isinstance(self.limit, int) else f"{self.limit:g}"
            raise ValueError(
                f"got {_show(value)}; at most {limit} is allowed ({self.why}); use a smaller value"
            )
        return value


def Count(limit: int, why: str, low: int = 1, always: bool = False) -> Any:  # noqa: N802
    """An integer setting from `low` to `limit` (used like a type)."""
    return Annotated[int, Field(ge=low), AfterValidator(AtMost(limit, why, always))]


SIZE = "a sanity limit far above any real model, which would not fit in memory"
PositiveInt = Count(2**31 - 1, "the largest 32-bit integer, far more than any run needs")
Width = Count(65_536, SIZE)  # units, embedding and hidden sizes, attention key size
Layers = Count(100, SIZE)
Heads = Count(1024, SIZE)
Vocabulary = Count(100_000_000, "a sanity limit far above any real vocabulary", low=3)
Length = Count(1_000_000, "a sanity limit far above any text a recurrent encoder can read")
BatchSize = Count(1_048_576, "a sanity limit far above any real batch")
Seed = Count(2**32 - 1, "seeds are unsigned 32-bit integers, as NumPy requires", 0, True)
# Floats that TensorFlow receives as float32 (larger ones become inf there).
Float32 = Annotated[
    float,
    AfterValidator(AtMost(3.4028234663852886e38, "the largest float32, TensorFlow's type", True)),
]
ClassWeight = Annotated[
    float,
    Field(gt=0.0),
    AfterValidator(AtMost(1_000_000, "weights are relative; far larger ones overflow the loss")),
]


def _path_text(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        raise ValueError("an empty path; name a file, or remove the key")
    if isinstance(value, str):
        for part in Path(value).parts:
            if len(part.encode("utf-8", "surrogatepass")) > 255:
                raise ValueError(
                    f"the path has a part of more than 255 bytes ({_show(part)}), longer "
                    "than any file system allows in one name; shorten it"
                )
    return value


# Path fields accept strings from YAML even though the models are strict.
PathField = Annotated[Path, Field(strict=False), BeforeValidator(_path_text)]
Column = Annotated[str, Field(min_length=1)]
Fraction = Annotated[float, Field(ge=0.0, lt=1.0)]


class Section(BaseModel):
    """Base for every config section: unknown keys, loose types and non-finite floats
    (.inf, .nan) are errors."""

    model_config = ConfigDict(
        extra="forbid", strict=True, validate_default=True, allow_inf_nan=False
    )


def _text_encoding(name: str) -> str:
    """Refuse what `open(path, encoding=name)` cannot read text with."""
    fix = "use a text encoding such as utf-8, latin-1 or cp1252"
    try:
        info = codecs.lookup(name)
    except LookupError:
        raise ValueError(f"got {_show(name)}, which is not a codec Python knows; {fix}") from None
    if not getattr(info, "_is_text_encoding", True):
        # rot13 maps str to str; base64, hex and zlib map bytes to bytes: none reads text.
        raise ValueError(
            f"got {_show(name)}, a codec but not a text encoding (it does not turn bytes "
            f"into text); {fix}"
        )
    try:
        info.decode(b"")
    except Exception:  # e.g. `undefined`, which refuses everything
        raise ValueError(f"got {_show(name)}, a codec that decodes nothing; {fix}") from None
    return name


class DataConfig(Section):
    train: PathField
    # When `valid` is absent, a stratified, seeded `valid_split` of train is held out.
    valid: PathField | None = None
    valid_split: Annotated[float, Field(gt=0.0, lt=0.5)] = 0.1
    test: PathField | None = None
    format: Literal["auto", "csv", "tsv", "jsonl"] = "auto"
    text_column: Column | list[Column] = "text"
    # multiclass/binary: one label per row; multilabel: labels joined by label_delimiter;
    # tagging: whitespace-separated tags, one per whitespace-separated token of the text.
    label_column: Column = "label"
    label_delimiter: Annotated[str, Field(min_length=1)] = "|"
    # Several text columns may be given as a list; they are joined with text_separator.
    text_separator: str = " "
    encoding: Annotated[str, AfterValidator(_text_encoding)] = "utf-8"  # a UTF-8 BOM is accepted
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

    @property
    def text_columns(self) -> list[str]:
        return self.text_column if isinstance(self.text_column, list) else [self.text_column]

    @model_validator(mode="after")
    def _valid_or_split(self, info: ValidationInfo) -> DataConfig:
        if isinstance(self.text_column, list) and not self.text_column:
            raise ValueError("text_column is an empty list; name at least one column")
        if _new_config(info) and self.label_column in self.text_columns:
            raise ValueError(
                f"data.label_column {_show(self.label_column)} is also a text column "
                "(data.text_column): the model would read the answer; name the label column "
                "and the text column(s) apart"
            )
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
    max_tokens: Vocabulary = 20000
    min_frequency: PositiveInt = 1
    # `auto`: the `length_percentile` of train lengths in tokens, reported at train time.
    max_length: Length | Literal["auto"] = "auto"
    length_percentile: Annotated[float, Field(gt=0.0, le=100.0)] = 99.0


class EmbeddingConfig(Section):
    dim: Width = 128
    trainable: bool = True
    # Word vectors in GloVe text format (`word v1 ... vd`, optionally .gz).
    pretrained: PathField | None = None
    dropout: Fraction = 0.0


MergeMode = Literal["concat", "sum", "mul", "ave", "none"]


class BackwardConfig(Section):
    """A separately configured backward layer; an unset key takes the forward layer's value."""

    cell: Literal["lstm", "gru"] | None = None
    units: Width | None = None
    dropout: Fraction | None = None
    recurrent_dropout: Fraction | None = None


class EncoderConfig(Section):
    cell: Literal["lstm", "gru"] = "lstm"
    units: Width = 128
    num_layers: Layers = 1
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
    num_heads: Heads = 4
    key_dim: Width = 32

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
    hidden: Annotated[list[Width], Field(max_length=100)] = Field(default_factory=list)
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
    batch_size: BatchSize = 32
    optimizer: Literal["adam", "adamw", "sgd", "rmsprop"] = "adam"
    learning_rate: Annotated[Float32, Field(gt=0.0)] = 1e-3
    clipnorm: Annotated[Float32, Field(gt=0.0)] | None = None
    # Loss weight per label: none (all 1), balanced (n / (labels * count), from train), or
    # {label: weight} (unlisted labels weigh 1). Multiclass and binary tasks only.
    class_weight: Literal["none", "balanced"] | dict[str, ClassWeight] = "none"
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
    devices: list[Column] | None = None

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


def _name(value: str, info: ValidationInfo) -> str:
    # The run directory is named NAME-YYYYmmdd-HHMMSS[-N], within 255 bytes.
    if _new_config(info) and len(value) > 200:
        raise ValueError(
            f"a name of {len(value):,} characters; at most 200 are allowed (the run "
            "directory's name adds a timestamp to it, within the 255 a file name may have)"
        )
    return value


RunName = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$"), AfterValidator(_name)]


class Config(Section):
    name: RunName = "run"
    seed: Seed = 42
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
        if self.data.streaming and self.runtime.distribution == "multi_worker":
            # Every worker would read every shard (the files are not split per worker).
            raise ValueError(
                "data.streaming is not supported with runtime.distribution multi_worker: each "
                "worker would read every file; train in memory (data.streaming: false) or use "
                "runtime.distribution mirrored on one machine"
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

    @model_validator(mode="after")
    def _fits_in_memory(self, info: ValidationInfo) -> Config:
        if not _new_config(info):
            return self
        parts = estimate_parameters(self)
        total = sum(parts.values())
        if total > MAX_PARAMETERS:
            largest = max(parts, key=parts.__getitem__)
            raise ValueError(
                f"model: about {total:,} parameters, more than the {MAX_PARAMETERS:,} seqcls "
                f"builds (the weights alone would take {total * 4 / 2**30:,.0f} GiB, four times "
                f"that with the optimizer's state); the largest part is {largest} "
                f"({parts[largest]:,}); make it smaller"
            )
        return self


def _recurrent_parameters(cell: str, inputs: int, units: int) -> int:
    """Keras LSTM: 4 gates; GRU (reset_after, Keras' default): 3 gates with two biases."""
    if cell == "lstm":
        return 4 * units * (inputs + units + 1)
    return 3 * units * (inputs + units + 2)


def estimate_parameters(config: Config) -> dict[str, int]:
    """Parameters of the model `config` describes, per part (named by its config keys),
    computed as model.py builds it, without TensorFlow. The embedding counts
    preprocessing.max_tokens rows (the vocabulary can come out smaller); the output
    layer, sized by the labels in the data, is left out."""
    model = config.model
    encoder = model.encoder
    parts = {
        "the embedding (preprocessing.max_tokens x model.embedding.dim)": (
            config.preprocessing.max_tokens * model.embedding.dim
        )
    }
    backward = encoder.backward or BackwardConfig()
    backward_cell = backward.cell or encoder.cell
    width, recurrent = model.embedding.dim, 0
    for _ in range(encoder.num_layers):
        recurrent += _recurrent_parameters(encoder.cell, width, encoder.units)
        if encoder.bidirectional:
            recurrent += _recurrent_parameters(backward_cell, width, encoder.backward_units)
        width = encoder.output_width
    parts["the encoder (model.encoder.units, num_layers)"] = recurrent
    # merge_mode none: two streams, each attended or pooled on its own.
    if encoder.bidirectional and encoder.merge_mode == "none":
        streams = [encoder.units, encoder.backward_units]
    else:
        streams = [width]
    attention = model.attention
    if attention.type == "additive" and config.task != "tagging":
        parts["the attention"] = sum(streams)
    elif attention.type == "multihead" and config.task != "tagging":
        heads = attention.num_heads * attention.key_dim
        # query, key, value and output projections with biases; LayerNormalization.
        parts["the attention (model.attention.num_heads x key_dim)"] = sum(
            4 * stream * heads + 3 * heads + stream + 2 * stream for stream in streams
        )
    width, head = sum(streams), 0
    for size in model.head.hidden:
        head += (width + 1) * size
        width = size
    parts["the head (model.head.hidden)"] = head
    return parts


class YamlLimitError(ConfigError, yaml.YAMLError):
    """YAML past a bound, or with a key twice in one mapping: a ConfigError for a user's
    config, and a YAMLError (with `problem`) for readers of the YAML files seqcls writes."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.problem = message


class _ConfigLoader(yaml.SafeLoader):
    """YAML's safe loader, also reading `1e-3` as a number, with bounds and duplicate keys.

    PyYAML follows YAML 1.1, where a float needs a dot (`1.0e-3`), so the `1e-3` that
    people write for learning rates would arrive as a string.

    Bounded: nesting depth and values composed (a huge file), values after alias expansion
    (a "billion laughs" of a few hundred bytes expands to 9**9 values, which validation and
    error messages would walk), aliases that contain themselves, and integer length. A key
    that appears twice in one mapping is an error (YAML would keep the last silently).
    Bounds raise YamlLimitError naming the key path and line, without the file name;
    callers add where the text came from.
    """

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._path: list[str] = []  # key path of the node being composed
        self._composed = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        # index: the key node for a mapping's value, the position for a sequence's item.
        if isinstance(index, int):
            part = f"[{index}]"
        elif isinstance(index, yaml.ScalarNode):
            part = f".{_clip(index.value, 40)}"
        else:
            part = ""
        self._path.append(part)
        self._composed += 1
        try:
            if len(self._path) > MAX_YAML_DEPTH or self._composed > MAX_YAML_VALUES:
                if len(self._path) > MAX_YAML_DEPTH:
                    what = f"values nested more than {MAX_YAML_DEPTH} levels deep"
                else:
                    what = f"more than {MAX_YAML_VALUES:,} values"
                where = _clip("".join(self._path).lstrip("."), 200) or "the top level"
                line = self.peek_event().start_mark.line + 1
                raise YamlLimitError(
                    f"{where} (line {line}): the YAML holds {what}; a config has a few "
                    "sections of settings, so this is not one (or is damaged)"
                )
            return super().compose_node(parent, index)
        finally:
            self._path.pop()

    def construct_document(self, node: Any) -> Any:
        _check_yaml_graph(self, node)
        return super().construct_document(node)


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

_MERGE_TAG = "tag:yaml.org,2002:merge"
_INT_TAG = "tag:yaml.org,2002:int"


def _check_int_length(node: yaml.Node, path: str) -> None:
    # Python refuses to parse integers of over 4300 digits (a ValueError), and YAML 1.1's
    # base 60 (`1:1:1:...`) takes quadratic time; no setting needs either.
    if isinstance(node, yaml.ScalarNode) and node.tag == _INT_TAG:
        if len(node.value) > MAX_INT_CHARS:
            raise YamlLimitError(
                f"{path or 'the top level'} (line {node.start_mark.line + 1}): an integer "
                f"written with {len(node.value):,} characters; no setting needs more than "
                f"{MAX_INT_CHARS}"
            )


def _node_children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [child for pair in node.value for child in pair]
    return []


def _check_yaml_graph(loader: _ConfigLoader, root: yaml.Node) -> None:
    """Refuse duplicate keys, self-containing aliases and alias expansion past
    MAX_YAML_VALUES, before anything is constructed. Linear in the nodes composed."""
    # Each node once, with the key path it is first reached by.
    paths: dict[int, str] = {id(root): ""}
    stack = [root]
    while stack:
        node = stack.pop()
        path = paths[id(node)]
        _check_int_length(node, path)
        children: list[tuple[str, yaml.Node]] = []
        if isinstance(node, yaml.SequenceNode):
            children = [(f"{path}[{index}]", child) for index, child in enumerate(node.value)]
        elif isinstance(node, yaml.MappingNode):
            seen: dict[Any, yaml.Node] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == _MERGE_TAG:
                    children += [(path, key_node), (path, value_node)]
                    continue
                key_path = f"{path}.{_clip(key_node.value)}" if path else _clip(key_node.value)
                _check_int_length(key_node, key_path)
                key = loader.construct_object(key_node)
                try:
                    first = seen.setdefault(key, key_node)
                except TypeError:  # unhashable: constructing the mapping reports it
                    first = key_node
                if first is not key_node:
                    raise YamlLimitError(
                        f"{key_path}: the key {_show(key)} appears twice in one mapping "
                        f"(line {first.start_mark.line + 1} and line "
                        f"{key_node.start_mark.line + 1}); YAML would silently keep the last "
                        "value only; delete one of them"
                    )
                children += [(key_path, key_node), (key_path, value_node)]
        for child_path, child in children:
            if id(child) not in paths:
                paths[id(child)] = child_path
                stack.append(child)
    # Values after expansion: 1 + the children's, memoised per node (aliases share nodes).
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    pending: list[tuple[yaml.Node, bool]] = [(root, False)]
    while pending:
        node, finished = pending.pop()
        where = f"{paths[id(node)] or 'the top level'} (line {node.start_mark.line + 1})"
        if finished:
            open_nodes.discard(id(node))
            size = 1 + sum(sizes[id(child)] for child in _node_children(node))
            if size > MAX_YAML_VALUES:
                raise YamlLimitError(
                    f"{where}: YAML aliases (*name) expand this value to {size:,} values, more "
                    f"than the {MAX_YAML_VALUES:,} a config may hold; write the value out "
                    "without aliases"
                )
            sizes[id(node)] = size
            continue
        if id(node) in sizes:
            continue
        if id(node) in open_nodes:
            raise YamlLimitError(
                f"{where}: a YAML alias (*name) refers to a value that contains the alias "
                "itself, so the value would be infinite; write the value out"
            )
        open_nodes.add(id(node))
        pending.append((node, True))
        pending += [(child, False) for child in _node_children(node) if id(child) not in sizes]


def yaml_load(text: str) -> Any:
    """Parse config YAML (a SafeLoader: no arbitrary objects), bounded as _ConfigLoader says.

    Raises yaml.YAMLError for text that is not YAML, YamlLimitError (a ConfigError and a
    YAMLError) past a bound."""
    if len(text) > MAX_CONFIG_BYTES:
        raise YamlLimitError(
            f"{len(text):,} characters of YAML, more than the {MAX_CONFIG_BYTES:,} a config "
            "may have (a config is a few kilobytes)"
        )
    return yaml.load(text, Loader=_ConfigLoader)


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
                    child_path = f"{path}.{_clip(str(key))}" if path else _clip(str(key))
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
            f"invalid config:\n  {path}: {what} {_show(value)} holds a lone surrogate "
            "(an escape such as \\ud800), which is not text and cannot be written or "
            "printed; remove it"
        ) from None
    if "\x00" in value:
        raise ConfigError(
            f"invalid config:\n  {path}: {what} {_show(value)} contains a NUL character "
            "(\\x00), which no file name, column or setting can hold; remove it"
        )
    if len(value) > MAX_STRING:
        raise ConfigError(
            f"invalid config:\n  {path}: {what} is a string of {len(value):,} characters, "
            f"more than the {MAX_STRING:,} any setting may have: {_show(value)}"
        )


PATH_KEYS = ("data.train", "data.valid", "data.test", "model.embedding.pretrained")


def parse_override(text: str) -> tuple[list[str], Any]:
    """Split `a.b.c=value` into the key path and the value parsed as a YAML scalar."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key or any(not part for part in key.split(".")):
        raise ConfigError(
            f"--set {_show(text)}: expected KEY.PATH=VALUE, for example "
            "--set model.encoder.units=64"
        )
    try:
        value = yaml_load(raw) if raw.strip() else ""
    except ConfigError as error:
        raise ConfigError(f"--set {_show(text)}: {error}") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"--set {_show(text)}: the value is not valid YAML ({error})") from None
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
                    f"--set {_show(text)}: {_clip(where)} is a value ({_show(child)}), not a "
                    "section, so it has no sub-keys"
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


_PYDANTIC_LOC = re.compile(r"[a-z][a-z-]*\[.*\]$|(constrained-)?(str|int|float|bool|bytes)$")


def _config_loc(item: Any) -> tuple[Any, ...]:
    """An error's key path, without pydantic's names of union members and validators
    ('str', 'list[constrained-str]', 'function-after[...]'), which are not config keys."""
    return tuple(part for part in item["loc"] if not _PYDANTIC_LOC.match(str(part)))


def _is_mismatch(item: Any) -> bool:
    return item["type"] == "literal_error" or item["type"].endswith("_type")


def _mismatches_elsewhere(item: Any, items: list[Any]) -> bool:
    """A union member's "wrong type" error, when another member of the union took the
    value and found something more specific (class_weight: {a: .inf} is not 'none' or
    'balanced', but the useful error is that a's weight is not finite)."""
    if not _is_mismatch(item):
        return False
    loc = _config_loc(item)
    for other in items:
        other_loc = _config_loc(other)
        if other is item or other_loc[: len(loc)] != loc:
            continue
        if len(other_loc) > len(loc) or not _is_mismatch(other):
            return True
    return False


def format_validation_error(error: ValidationError, overridden: set[str]) -> str:
    lines = []
    items = error.errors()
    items = [item for item in items if not _mismatches_elsewhere(item, items)]
    for item in items[:MAX_ERRORS_SHOWN]:
        loc = _config_loc(item)
        key = ".".join(_clip(str(part)) for part in loc) or "(top level)"
        origin = " (from --set)" if key in overridden else ""
        kind = item["type"]
        message = _clip(item["msg"].removeprefix("Value error, "), 600)
        if kind == "extra_forbidden":
            section = _section_at(loc[:-1])
            allowed = sorted(section.model_fields) if section else []
            hint = difflib.get_close_matches(_clip(str(loc[-1])), allowed, n=1)
            suggestion = f"; did you mean '{hint[0]}'?" if hint else ""
            lines.append(
                f"unknown key '{key}'{origin}{suggestion} allowed keys here: {', '.join(allowed)}"
            )
        elif kind == "missing":
            lines.append(f"missing required key '{key}'")
        elif kind == "value_error" and not loc:
            lines.append(message)  # a rule across sections; the message names the keys
        elif kind == "value_error":
            lines.append(f"{key}{origin}: {message}")
        else:
            lines.append(f"{key}{origin}: got {_show(item.get('input'))}; {message}")
    lines = list(dict.fromkeys(lines))  # union members can repeat a line
    if len(items) > MAX_ERRORS_SHOWN:
        lines.append(f"... and {len(items) - MAX_ERRORS_SHOWN:,} more errors")
    return "invalid config:\n  " + "\n  ".join(lines)


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
