"""Build the Keras models from the config's `model` section.

Three views of one set of layers:

- the *core* model: token ids (batch, time) -> {"probabilities", "attention_weights"...};
- the *training* model: token ids -> probabilities (what `fit` optimises);
- the *inference* model: raw strings (batch,) -> the core's outputs, with
  tokenization inside, so `model.keras` alone turns text into predictions.
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import keras
import numpy as np
from keras import layers

from seqcls.config import Config, EncoderConfig
from seqcls.errors import ConfigError, DataError
from seqcls.modeling.ensemble import ensemble_core
from seqcls.modeling.layers import (
    AdditiveAttention,
    Bidirectional,
    MaskedPooling,
    MaskedSelfAttention,
    PaddingMask,
    SequenceClip,
    SubwordEmbedding,
    TimeDistributed,
)
from seqcls.modeling.outputs import (
    ATTENTION_WEIGHTS,
    MEMBER_PROBABILITIES,
    PROBABILITIES,
    TOKEN_IDS,
)
from seqcls.modeling.subwords import ngram_table
from seqcls.tasks import get_task


def _recurrent_layer(
    cell: str,
    units: int,
    dropout: float,
    recurrent_dropout: float,
    return_sequences: bool,
    name: str,
    go_backwards: bool = False,
):
    layer = layers.LSTM if cell == "lstm" else layers.GRU
    return layer(
        units,
        return_sequences=return_sequences,
        dropout=dropout,
        recurrent_dropout=recurrent_dropout,
        go_backwards=go_backwards,
        name=name,
    )


def _backward_layer(encoder: EncoderConfig, return_sequences: bool, name: str):
    """The explicitly configured backward layer: Keras' `backward_layer`, go_backwards=True."""
    backward = encoder.backward

    def pick(key: str):
        value = getattr(backward, key)
        return getattr(encoder, key) if value is None else value

    return _recurrent_layer(
        pick("cell"),
        pick("units"),
        pick("dropout"),
        pick("recurrent_dropout"),
        return_sequences,
        name,
        go_backwards=True,
    )


def _encode(x, mask, encoder: EncoderConfig, last_step_only: bool) -> list:
    """Run the (stacked, optionally bidirectional) recurrent encoder.

    Returns one stream, or two for merge_mode none (forward, backward), each
    (batch, time, units) -- or (batch, units) when `last_step_only`, in which
    case the last layer returns only its final state: the forward direction's
    state after the last real token and the backward direction's after the
    first, which is what "last" means for a bidirectional encoder.

    With `residual`, layers 2..n add their input to their output when the output
    is one sequence (all stacked layers have equal widths by construction); the
    last layer is left as is when it returns final states or separate directions.
    """
    for index in range(encoder.num_layers):
        is_last_layer = index == encoder.num_layers - 1
        return_sequences = not (is_last_layer and last_step_only)
        name = f"{encoder.cell}_{index + 1}"
        layer_input = x
        recurrent = _recurrent_layer(
            encoder.cell,
            encoder.units,
            encoder.dropout,
            encoder.recurrent_dropout,
            return_sequences,
            name,
        )
        if not encoder.bidirectional:
            x = recurrent(x, mask=mask)  # (batch, time, units) or (batch, units)
        else:
            merge = None if encoder.merge_mode == "none" else encoder.merge_mode
            backward = None
            if encoder.backward is not None:
                backward = _backward_layer(encoder, return_sequences, f"backward_{name}")
            outputs = Bidirectional(
                recurrent,
                merge_mode=merge,
                backward_layer=backward,
                name=f"bidirectional_{index + 1}",
            )(x, mask=mask)
            if merge is not None:
                # concat: (batch, time, units + backward units); sum, mul, ave: (batch, time, units).
                x = outputs
            elif is_last_layer:
                return list(outputs)  # forward and backward, each (batch, time, units)
            else:
                # A stacked layer needs one input: the two directions side by side.
                x = layers.Concatenate(name=f"stack_{index + 1}")(list(outputs))
        if encoder.residual and index > 0 and return_sequences:
            x = layers.Add(name=f"residual_{index + 1}")([layer_input, x])
    return [x]


def build_core_model(
    config: Config,
    vocab_size: int,
    num_outputs: int,
    task: str = "multiclass",
    tokens: list[str] | None = None,
) -> keras.Model:
    """Token ids (batch, time) -> dict of outputs; id 0 is padding (right-padded).

    Text-level tasks: probabilities (batch, num_outputs). Tagging: probabilities
    (batch, time, num_outputs), one distribution per step. `tokens` (the vocabulary in
    id order) gives model.embedding.subwords its n-grams; without it (a model described,
    not trained) every token has none.

    With model.ensemble N > 1 the core holds N such models ("member_1"...), each from its
    own random initialisation, and its outputs are their averages, plus the members'
    probabilities side by side (MEMBER_PROBABILITIES) for training.
    """
    members = config.model.ensemble
    if members == 1:
        return _single_core(config, vocab_size, num_outputs, task, tokens, "seqcls_core")
    return ensemble_core(
        [
            _single_core(config, vocab_size, num_outputs, task, tokens, f"member_{index + 1}")
            for index in range(members)
        ]
    )


def _single_core(
    config: Config,
    vocab_size: int,
    num_outputs: int,
    task: str,
    tokens: list[str] | None,
    name: str,
) -> keras.Model:
    model_config = config.model
    ids = keras.Input(shape=(None,), dtype="int64", name="token_ids")
    mask = PaddingMask(name="padding_mask")(ids)  # (batch, time), True on real tokens
    x = _embed(ids, model_config.embedding, vocab_size, tokens)  # (batch, time, dim)

    attention = model_config.attention
    if get_task(task).per_token:
        streams = _encode(x, mask, model_config.encoder, last_step_only=False)
        # merge_mode none: the two directions side by side at every step.
        x = streams[0] if len(streams) == 1 else layers.Concatenate(name="directions")(streams)
        return _tagging_head(ids, x, model_config.head, num_outputs, name)
    last_step_only = attention.type == "none" and attention.pooling == "last"
    streams = _encode(x, mask, model_config.encoder, last_step_only)

    outputs: dict[str, Any] = {}
    suffixes = [""] if len(streams) == 1 else ["_forward", "_backward"]
    pooled = []
    for stream, suffix in zip(streams, suffixes):
        if last_step_only:
            pooled.append(stream)  # already (batch, features)
        elif attention.type == "multihead":
            attended, weights = MaskedSelfAttention(
                attention.num_heads,
                attention.key_dim,
                return_token_weights=True,
                name=f"self_attention{suffix}",
            )(stream, mask=mask)  # (batch, time, features), (batch, time)
            # Attention received per token, averaged over heads and queries.
            outputs[ATTENTION_WEIGHTS + suffix] = weights
            pooled.append(
                MaskedPooling(attention.pooling, name=f"{attention.pooling}_pool{suffix}")(
                    attended, mask=mask
                )
            )
        elif attention.type == "additive":
            vector, weights = AdditiveAttention(name=f"attention{suffix}")(stream, mask=mask)
            pooled.append(vector)  # (batch, features)
            outputs[ATTENTION_WEIGHTS + suffix] = weights  # (batch, time)
        else:
            pooled.append(
                MaskedPooling(attention.pooling, name=f"{attention.pooling}_pool{suffix}")(
                    stream, mask=mask
                )
            )
    # (The schema refuses concat_pooling with pooling last: no steps to pool.)
    for stream, suffix in zip(streams, suffixes):
        for how in attention.concat_pooling:
            pooled.append(MaskedPooling(how, name=f"concat_{how}_pool{suffix}")(stream, mask=mask))
    joined = "pooled" if attention.concat_pooling else "directions"
    x = pooled[0] if len(pooled) == 1 else layers.Concatenate(name=joined)(pooled)

    head = model_config.head
    for index, width in enumerate(head.hidden):
        x = layers.Dense(width, activation=head.activation, name=f"hidden_{index + 1}")(x)
        if head.dropout:
            x = layers.Dropout(head.dropout, name=f"hidden_dropout_{index + 1}")(x)
    activation = get_task(task).activation
    probabilities = layers.Dense(
        num_outputs, activation=activation, dtype="float32", name=PROBABILITIES
    )(x)
    outputs = {PROBABILITIES: probabilities, **outputs}
    return keras.Model(ids, outputs, name=name)


def _embed(ids, embedding: Any, vocab_size: int, tokens: list[str] | None):
    """Token ids -> token vectors (batch, time, dim): the embedding, its subwords, dropouts."""
    x = layers.Embedding(
        vocab_size, embedding.dim, trainable=embedding.trainable, name="embedding"
    )(ids)
    subwords = embedding.subwords
    if subwords is not None:
        table = None
        if tokens is not None:
            table = ngram_table(tokens, subwords.min_n, subwords.max_n, subwords.buckets)
        x = SubwordEmbedding(
            vocab_size,
            width=1 if table is None else table.shape[1],
            buckets=subwords.buckets,
            combine=subwords.combine,
            table=table,
            name="subwords",
        )(x, ids)
    if embedding.spatial_dropout:
        x = layers.SpatialDropout1D(embedding.spatial_dropout, name="spatial_dropout")(x)
    if embedding.dropout:
        x = layers.Dropout(embedding.dropout, name="embedding_dropout")(x)
    return x


def _tagging_head(ids, x, head: Any, num_tags: int, name: str) -> keras.Model:
    """TimeDistributed Dense layers: the same weights applied at every step.
    (batch, time, features) -> (batch, time, num_tags)."""
    for index, width in enumerate(head.hidden):
        x = TimeDistributed(
            layers.Dense(width, activation=head.activation), name=f"hidden_{index + 1}"
        )(x)
        if head.dropout:
            x = layers.Dropout(head.dropout, name=f"hidden_dropout_{index + 1}")(x)
    probabilities = TimeDistributed(
        layers.Dense(num_tags, activation="softmax", dtype="float32"), name=PROBABILITIES
    )(x)  # (batch, time, num_tags)
    return keras.Model(ids, {PROBABILITIES: probabilities}, name=name)


def training_model(core: keras.Model) -> keras.Model:
    """The same layers with one output for fit/evaluate: the probabilities, or for an
    ensemble every member's (batch, members, ...), each trained on its own loss."""
    name = MEMBER_PROBABILITIES if MEMBER_PROBABILITIES in core.output else PROBABILITIES
    return keras.Model(core.input, core.output[name], name="seqcls_classifier")


def build_inference_model(
    core: keras.Model, vectorizer: Any, max_length: int | None
) -> keras.Model:
    """Raw strings (batch,) -> the core's outputs; tokenization and truncation inside.
    `max_length` None keeps every token (tagging: every token gets a tag)."""
    texts = keras.Input(shape=(), dtype="string", name="text")
    ids = vectorizer(texts)  # (batch, longest text in batch)
    ids = SequenceClip(max_length, name="clip")(ids)  # (batch, <= max_length + 1)
    # The ids come out too, so attention weights can be matched to tokens; an ensemble's
    # members' own probabilities (for training only) do not.
    outputs = {key: value for key, value in core(ids).items() if key != MEMBER_PROBABILITIES}
    return keras.Model(texts, {**outputs, TOKEN_IDS: ids}, name="seqcls_inference")


def make_optimizer(training: Any, steps_per_epoch: int = 1) -> keras.optimizers.Optimizer:
    """The optimizer training.optimizer names, with its learning-rate schedule
    (training.schedule, warmup_epochs over `steps_per_epoch` steps), weight decay and
    gradient clipping."""
    options: dict[str, Any] = {"learning_rate": learning_rate_schedule(training, steps_per_epoch)}
    if training.clipnorm is not None:
        options["clipnorm"] = training.clipnorm
    if training.weight_decay is not None:
        options["weight_decay"] = training.weight_decay
    if training.ema_momentum is not None:
        # The averages are optimizer variables: saved in checkpoints, restored on resume.
        options.update(use_ema=True, ema_momentum=training.ema_momentum)
    optimizers = {
        "adam": keras.optimizers.Adam,
        "adamw": keras.optimizers.AdamW,
        "sgd": keras.optimizers.SGD,
        "rmsprop": keras.optimizers.RMSprop,
    }
    return optimizers[training.optimizer](**options)


def learning_rate_schedule(training: Any, steps_per_epoch: int) -> Any:
    """training.learning_rate as a number (constant, no warmup), or a Keras schedule of the
    optimizer's step count, so that a resumed run continues the same curve: a linear
    warmup from 0 over warmup_epochs, then constant or cosine decay to 0 at the end of
    training.epochs."""
    rate = float(training.learning_rate)
    warmup = round(training.warmup_epochs * steps_per_epoch)
    if training.schedule == "constant" and not warmup:
        return rate
    total = max(1, training.epochs * steps_per_epoch)
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0 if warmup else rate,
        decay_steps=max(1, total - warmup),
        # alpha is the floor as a share of the rate: 1 keeps it constant after warmup.
        alpha=1.0 if training.schedule == "constant" else 0.0,
        warmup_target=rate if warmup else None,
        warmup_steps=warmup,
    )


def _is_word2vec_header(word: str, rest: str) -> bool:
    """word2vec's text format starts with "<count> <dim>"; GloVe's has no header."""
    return word.isdigit() and rest.isdigit()


def load_pretrained_vectors(
    path: Path, tokens: list[str], dim: int, initial: np.ndarray
) -> tuple[np.ndarray, float]:
    """Fill rows of `initial` (vocab, dim) with vectors from a GloVe or word2vec text file
    (`word v1 ... vd` per line; word2vec's "<count> <dim>" first line is skipped).

    Returns the matrix and the share of the vocabulary (excluding padding and
    OOV) found in the file. Tokens are matched exactly, then lowercased.
    """
    if not path.is_file():
        raise DataError(f"pretrained vectors not found: {path}; fix model.embedding.pretrained")
    wanted: dict[str, list[int]] = {}
    for index, token in enumerate(tokens[2:], start=2):
        wanted.setdefault(token, []).append(index)
    lowered: dict[str, list[int]] = {}
    for token, indices in wanted.items():
        lowered.setdefault(token.lower(), []).extend(indices)
    matrix = initial.copy()
    matrix[0] = 0.0  # padding
    found_exact: set[int] = set()
    found_lower: set[int] = set()
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            word, _, rest = line.rstrip().partition(" ")
            if not rest or (number == 1 and _is_word2vec_header(word, rest)):
                continue
            if number == 1 and len(rest.split(" ")) != dim:
                raise ConfigError(
                    f"model.embedding.dim is {dim} but {path} has {len(rest.split(' '))}-"
                    f"dimensional vectors; set model.embedding.dim: {len(rest.split(' '))}"
                )
            if word not in wanted and word not in lowered:
                continue
            values = rest.split(" ")
            if len(values) != dim:
                raise DataError(
                    f"{path}, line {number}: expected {dim} values, found {len(values)}"
                )
            try:
                vector = np.asarray(values, dtype=np.float32)
            except ValueError:
                raise DataError(
                    f"{path}, line {number}: the vector has non-numeric values"
                ) from None
            for index in wanted.get(word, []):
                matrix[index] = vector
                found_exact.add(index)
            for index in lowered.get(word, []):
                if index not in found_exact:
                    matrix[index] = vector
                    found_lower.add(index)
    coverage = len(found_exact | found_lower) / max(1, len(tokens) - 2)
    return matrix, coverage
