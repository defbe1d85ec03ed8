"""Tokenization, the vocabulary, and the tf.data pipelines.

Tokenization is Keras' own TextVectorization with built-in options only, so the
exact same code turns text into ids at training time and inside the exported
inference model (and the `.keras` file needs no custom code to load).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

PADDING_ID = 0
OOV_ID = 1
# Length buckets: batches are formed from texts of similar length so little
# compute is spent on padding.
NUM_BUCKETS = 8


def standardize_mode(preprocessing: Any) -> str | None:
    lower, strip = preprocessing.lowercase, preprocessing.strip_punctuation
    if lower and strip:
        return "lower_and_strip_punctuation"
    if lower:
        return "lower"
    if strip:
        return "strip_punctuation"
    return None


def split_mode(preprocessing: Any) -> str:
    return "character" if preprocessing.tokenizer == "char" else "whitespace"


@dataclass
class Vocabulary:
    """Token list (index = id; 0 is padding, 1 is out-of-vocabulary) and the sequence length."""

    tokens: list[str]
    max_length: int
    # How max_length was chosen and what it means for the training data.
    max_length_source: str
    train_length_percentiles: dict[str, int]
    train_oov_rate: float
    train_truncated_share: float
    tokens_seen: int  # distinct tokens in train, before min_frequency / max_tokens

    @property
    def size(self) -> int:
        return len(self.tokens)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Vocabulary:
        return cls(**data)


def make_vectorizer(preprocessing: Any, tokens: list[str] | None = None, ragged: bool = False):
    """A TextVectorization layer for this config; with `tokens`, fixed to that vocabulary."""
    from keras import layers

    vectorizer = layers.TextVectorization(
        max_tokens=None,
        standardize=standardize_mode(preprocessing),
        split=split_mode(preprocessing),
        output_mode="int",
        ragged=ragged,
        name="text_vectorization",
    )
    if tokens is not None:
        # Keras adds the padding and OOV entries itself.
        vectorizer.set_vocabulary(tokens[2:])
    return vectorizer


def build_vocabulary(texts: list[str], preprocessing: Any) -> Vocabulary:
    """Adapt on train only; keep tokens seen `min_frequency` times, most frequent first."""
    import tensorflow as tf

    full = make_vectorizer(preprocessing, ragged=True)
    full.adapt(tf.data.Dataset.from_tensor_slices(texts).batch(2048))
    all_tokens = full.get_vocabulary()
    ids = full(tf.constant(texts))
    counts = np.bincount(ids.flat_values.numpy(), minlength=len(all_tokens))
    candidates = [
        (int(counts[index]), token)
        for index, token in enumerate(all_tokens)
        if index >= 2 and counts[index] >= preprocessing.min_frequency
    ]
    # Ties broken by the token itself so the vocabulary is identical run to run.
    candidates.sort(key=lambda item: (-item[0], item[1]))
    kept = [token for _, token in candidates[: preprocessing.max_tokens - 2]]
    tokens = ["", "[UNK]", *kept]

    lengths = ids.row_lengths().numpy()
    percentiles = {f"p{q}": int(np.percentile(lengths, q)) for q in (50, 90, 95, 99, 100)}
    if preprocessing.max_length == "auto":
        max_length = max(1, math.ceil(np.percentile(lengths, preprocessing.length_percentile)))
        source = f"auto: {preprocessing.length_percentile:g}th percentile of train lengths"
    else:
        max_length = preprocessing.max_length
        source = "config"
    kept_set = set(kept)
    kept_ids = [index for index, token in enumerate(all_tokens) if token in kept_set]
    flat = ids.flat_values.numpy()
    in_vocabulary = np.isin(flat, np.asarray(kept_ids, dtype=flat.dtype))
    return Vocabulary(
        tokens=tokens,
        max_length=int(max_length),
        max_length_source=source,
        train_length_percentiles=percentiles,
        train_oov_rate=float(1.0 - in_vocabulary.mean()) if flat.size else 0.0,
        train_truncated_share=float((lengths > max_length).mean()),
        tokens_seen=len(all_tokens) - 2,
    )


def encode(vectorizer: Any, texts: list[str], max_length: int):
    """Texts -> ragged ids (batch, None), cut to `max_length`, never empty (see SequenceClip)."""
    import tensorflow as tf

    ids = vectorizer(tf.constant(texts, dtype=tf.string))[:, :max_length]
    empty = ids.row_lengths() == 0
    if bool(tf.reduce_any(empty)):
        extra_lengths = tf.cast(empty, tf.int64)
        extra = tf.RaggedTensor.from_row_lengths(
            tf.fill([tf.reduce_sum(extra_lengths)], tf.constant(OOV_ID, ids.dtype)), extra_lengths
        )
        ids = tf.concat([ids, extra], axis=1)
    return ids


def bucket_boundaries(lengths: np.ndarray, num_buckets: int = NUM_BUCKETS) -> list[int]:
    quantiles = np.quantile(lengths, np.linspace(0, 1, num_buckets + 1)[1:-1])
    return sorted({int(q) + 1 for q in quantiles if q >= 1})


def _padded_shapes(targets: Any) -> tuple:
    # Ragged targets (tagging) are padded per batch like the ids.
    # A list, not a tuple: tf.data reads a tuple as a nested structure.
    return ([None], [None] if _is_ragged(targets) else list(targets.shape[1:]))


def _is_ragged(values: Any) -> bool:
    import tensorflow as tf

    return isinstance(values, tf.RaggedTensor)


def steps_per_epoch(lengths: np.ndarray, batch_size: int, bucketing: bool = True) -> int:
    """How many batches `training_dataset` yields per epoch (the same every epoch: a
    text's bucket depends on its length only)."""
    if not bucketing:
        return math.ceil(len(lengths) / batch_size)
    boundaries = bucket_boundaries(lengths)
    # bucket_by_sequence_length puts a text of length n in the bucket of the first
    # boundary above n.
    buckets = np.searchsorted(np.asarray(boundaries), lengths, side="right")
    counts = np.bincount(buckets, minlength=len(boundaries) + 1)
    return int(sum(math.ceil(count / batch_size) for count in counts))


def _with_token_weights(dataset):
    """Add per-step sample weights: 1 on real tokens, 0 on padding (tagging's loss mask)."""
    import tensorflow as tf

    return dataset.map(lambda ids, targets: (ids, targets, tf.cast(ids != PADDING_ID, tf.float32)))


def training_dataset(
    ids, targets, batch_size: int, seed: int, per_token: bool = False, bucketing: bool = True
):
    """Shuffled batches padded on the right to each batch's longest text; with `bucketing`,
    batches are formed from texts of similar length (far less padding to compute)."""
    import tensorflow as tf

    lengths = ids.row_lengths().numpy()
    if not _is_ragged(targets):
        targets = tf.constant(targets)
    # Shuffle row indices, then look rows up: slicing a ragged tensor row gives
    # a dense 1-D tensor, which padded batching needs.
    dataset = tf.data.Dataset.range(len(lengths))
    dataset = dataset.shuffle(len(lengths), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.map(lambda row: (ids[row], targets[row]))
    boundaries = bucket_boundaries(lengths) if bucketing else None
    return batch_by_length(
        dataset, boundaries, batch_size, _padded_shapes(targets), seed, per_token
    )


def batch_by_length(
    dataset, boundaries, batch_size: int, padded_shapes, seed: int, per_token: bool = False
):
    """(ids, target) elements -> padded batches; with `boundaries`, of texts of similar
    length (one bucket per boundary interval), else in arrival order."""
    import tensorflow as tf

    if boundaries is not None:
        dataset = dataset.bucket_by_sequence_length(
            element_length_func=lambda sequence, _: tf.shape(sequence)[0],
            bucket_boundaries=boundaries,
            bucket_batch_sizes=[batch_size] * (len(boundaries) + 1),
            padded_shapes=padded_shapes,
        )
    else:
        dataset = dataset.padded_batch(batch_size, padded_shapes=padded_shapes)
    if per_token:
        dataset = _with_token_weights(dataset)
    # Buckets fill at different rates; shuffling batches keeps epochs from
    # sweeping short-to-long.
    dataset = dataset.shuffle(64, seed=seed, reshuffle_each_iteration=True)
    return dataset.prefetch(tf.data.AUTOTUNE)


def evaluation_dataset(ids, targets, batch_size: int, per_token: bool = False):
    """Deterministic batches of similar length (sorted), for validation during training."""
    import tensorflow as tf

    order = np.argsort(ids.row_lengths().numpy(), kind="stable")
    ids = tf.gather(ids, order)
    if _is_ragged(targets):
        sorted_targets = tf.gather(targets, order)
    else:
        sorted_targets = tf.constant(targets[order])
    dataset = tf.data.Dataset.range(len(order)).map(lambda row: (ids[row], sorted_targets[row]))
    dataset = dataset.padded_batch(batch_size, padded_shapes=_padded_shapes(targets))
    if per_token:
        dataset = _with_token_weights(dataset)
    return dataset.cache().prefetch(tf.data.AUTOTUNE)


# Keras' TextVectorization punctuation set (keras/src/layers/preprocessing/text_vectorization.py).
KERAS_PUNCTUATION = r'[!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~\']'


def display_tokens(texts: list[str], preprocessing: Any, max_length: int) -> list[list[str]]:
    """The tokens the model sees for each text (standardized, split, cut to max_length),
    as strings, including those outside the vocabulary. Mirrors TextVectorization's
    built-in standardize and split, so token i lines up with attention weight i."""
    tokens = standardized_tokens(texts, preprocessing)
    return [[token.decode("utf-8") for token in row[:max_length]] for row in tokens.to_list()]


def standardized_tokens(texts: list[str], preprocessing: Any):
    """Ragged (texts, tokens) of UTF-8 byte strings: TextVectorization's built-in
    standardize and split, mirrored with the same TensorFlow string ops."""
    import tensorflow as tf

    values = tf.constant(texts, dtype=tf.string)
    mode = standardize_mode(preprocessing)
    if mode in ("lower", "lower_and_strip_punctuation"):
        values = tf.strings.lower(values)
    if mode in ("strip_punctuation", "lower_and_strip_punctuation"):
        values = tf.strings.regex_replace(values, KERAS_PUNCTUATION, "")
    if split_mode(preprocessing) == "character":
        return tf.strings.unicode_split(values, "UTF-8")
    return tf.strings.split(values)
