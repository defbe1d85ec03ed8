"""The sections of the config schema (data, preprocessing, model, training, runtime,
output), with their defaults and the rules within each section."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator, Field, ValidationInfo, model_validator

from seqcls.config.fields import (
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
    Section,
    Vocabulary,
    Width,
    is_new_config,
    text_encoding,
)
from seqcls.config.limits import show
from seqcls.config.ngram_sections import LinearConfig, SubwordConfig, linear_setting


class DataConfig(Section):
    train: PathField
    # When `valid` is absent, a stratified, seeded `valid_split` of train is held out.
    valid: PathField | None = None
    valid_split: Annotated[float, Field(gt=0.0, lt=0.5)] = 0.1
    test: PathField | None = None
    format: Literal["auto", "csv", "tsv", "jsonl", "parquet"] = "auto"
    text_column: Column | list[Column] = "text"
    # multiclass/binary: one label per row; multilabel: labels joined by label_delimiter;
    # tagging: whitespace-separated tags, one per whitespace-separated token of the text.
    label_column: Column = "label"
    label_delimiter: Annotated[str, Field(min_length=1)] = "|"
    # Several text columns may be given as a list; they are joined with text_separator.
    text_separator: str = " "
    encoding: Annotated[str, AfterValidator(text_encoding)] = "utf-8"  # a UTF-8 BOM is accepted
    # TSV is read without quote processing (a '"' is a character) unless this is true.
    tsv_quoting: bool = False
    # error: stop and list bad rows; skip: leave them out, counted; warn: as skip, listed.
    on_bad_rows: Literal["error", "skip", "warn"] = "error"
    # Rows with this label are out of scope: never trained on as a class; in valid they
    # fit the abstention threshold, in valid/test/eval they measure out-of-scope recall.
    out_of_scope_label: Column | None = None
    # auto: CSV/TSV through Arrow's parser (fast, little memory), the exact reader for a
    # file Arrow cannot read with the same guarantees; exact: always Python's csv module,
    # which also refuses text after a closing quote ("ab"c) that Arrow keeps as abc.
    reader: Literal["auto", "exact"] = "auto"
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
        if is_new_config(info) and self.label_column in self.text_columns:
            raise ValueError(
                f"data.label_column {show(self.label_column)} is also a text column "
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
    # Punctuation separates words instead of joining them: with strip_punctuation each
    # mark becomes a space ("mind--and" -> "mind and", not "mindand"), without it each
    # mark becomes a token of its own ("it's" -> "it ' s").
    split_punctuation: bool = False
    # Vocabulary size including the padding and out-of-vocabulary entries.
    max_tokens: Vocabulary = 20000
    min_frequency: PositiveInt = 1
    # `auto`: the `length_percentile` of train lengths in tokens, reported at train time.
    max_length: Length | Literal["auto"] = "auto"
    length_percentile: Annotated[float, Field(gt=0.0, le=100.0)] = 99.0

    @model_validator(mode="after")
    def _split_characters(self) -> PreprocessingConfig:
        if self.tokenizer == "char" and self.split_punctuation and not self.strip_punctuation:
            raise ValueError(
                "preprocessing.split_punctuation with tokenizer: char and strip_punctuation: "
                "false would only add space tokens around each mark (every character is a "
                "token already); remove split_punctuation, or set strip_punctuation: true to "
                "make each mark a word break"
            )
        return self


class EmbeddingConfig(Section):
    dim: Width = 128
    trainable: bool = True
    # Word vectors in GloVe text format (`word v1 ... vd`, optionally .gz).
    pretrained: PathField | None = None
    # Drops single values of the token vectors.
    dropout: Fraction = 0.0
    # Drops whole channels (one of `dim` features, for every token of a text at once):
    # the model cannot lean on one feature of a few tokens (SpatialDropout1D).
    spatial_dropout: Fraction = 0.0
    # Hashed character n-grams added to each token's vector (see SubwordConfig).
    subwords: SubwordConfig | None = None


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
    # Also pool the encoder's steps these ways (masked, real tokens only) and put them
    # beside the attention's or pooling's vector before the head ("concat pooling").
    concat_pooling: Annotated[list[Literal["mean", "max"]], Field(max_length=2)] = Field(
        default_factory=list
    )

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
        if self.concat_pooling and self.type == "none" and self.pooling == "last":
            raise ValueError(
                "concat_pooling pools the encoder's steps, which pooling 'last' (the default "
                "for type none) does not keep; remove model.attention.concat_pooling, or (a "
                "text-level task) set model.attention.pooling: mean or max"
            )
        if self.type != "additive" and self.pooling in self.concat_pooling:
            raise ValueError(
                f"concat_pooling lists {self.pooling}, which model.attention.pooling already "
                f"is; remove {self.pooling} from model.attention.concat_pooling"
            )
        if len(set(self.concat_pooling)) != len(self.concat_pooling):
            raise ValueError("concat_pooling names a pooling twice; list each of mean, max once")
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
    # Train this many copies of the model side by side, each from its own random
    # initialisation and on its own loss, and predict with their average probabilities:
    # less variance, at about this many times the training and prediction cost.
    ensemble: Count(16, "more members cost more and add little past a handful") = 1
    # A linear model on the tokens' TF-IDF n-grams, fitted after the network and blended
    # with it (see LinearConfig). Multiclass and binary tasks, data held in memory.
    linear: Annotated[LinearConfig | None, BeforeValidator(linear_setting)] = None


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
    # The learning rate over training: constant, or cosine (from learning_rate down to 0 at
    # the last of training.epochs; early stopping may end training before).
    schedule: Literal["constant", "cosine"] = "constant"
    # Epochs (may be fractional) over which the learning rate rises linearly from 0.
    warmup_epochs: Annotated[float, Field(ge=0.0)] = 0.0
    # Decoupled weight decay (AdamW-style, applied by every optimizer); default: the
    # optimizer's own (adamw 0.004, the others none).
    weight_decay: Annotated[Float32, Field(ge=0.0)] | None = None
    # Softer targets against over-confident fits on small data: softmax tasks mix each
    # target with the uniform distribution (the target label gets 1 - s + s/K); sigmoid
    # tasks (binary, multilabel) move each 0/1 target s/2 towards 0.5.
    label_smoothing: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.0
    # Keep an exponential moving average of the weights, updated every step with this
    # momentum (0.99: about the last 100 steps), and validate, choose the best epoch and
    # save the model with the averaged weights: a cheap ensemble of nearby weights.
    ema_momentum: Annotated[float, Field(gt=0.0, lt=1.0)] | None = None
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

    @model_validator(mode="after")
    def _warmup_within_training(self, info: ValidationInfo) -> TrainingConfig:
        if is_new_config(info) and self.warmup_epochs >= self.epochs:
            raise ValueError(
                f"training.warmup_epochs ({self.warmup_epochs:g}) is not shorter than "
                f"training.epochs ({self.epochs}): the learning rate would never reach "
                "training.learning_rate; use fewer warmup epochs"
            )
        return self


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


class AbstentionConfig(Section):
    # What predict --abstain gives a text whose top probability is below the threshold.
    unknown_label: Annotated[str, Field(min_length=1)] = "unknown"
    # --abstain auto: the lowest threshold (fitted on valid after calibration) at which
    # the predictions kept are at least this precise.
    target_precision: Annotated[float, Field(gt=0.0, le=1.0)] = 0.95
