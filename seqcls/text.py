"""Tokenization, the vocabulary, and the tf.data pipelines.

Tokenization is Keras' own TextVectorization with built-in options only, so the
exact same code turns text into ids at training time and inside the exported
inference model (and the `.keras` file needs no custom code to load).

Texts in memory and streamed files go one way: their counts (`TextCounts`: tokens,
the length histogram, rows, labels) make the vocabulary (`vocabulary_from_counts`);
a length histogram makes the length buckets and the batches per epoch
(`bucket_boundaries`, `steps_per_epoch`); `clip_ids` and `clipped_lengths` are the
one clipping rule, on ids and on a length histogram.
"""

from __future__ import annotations

import bisect
import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

PADDING_ID = 0
OOV_ID = 1
# The padding and out-of-vocabulary entries (ids 0 and 1), as Keras names them; a token
# written so in a text is out of the vocabulary.
RESERVED_TOKENS = ("", "[UNK]")
# Length buckets: batches are formed from texts of similar length so little
# compute is spent on padding.
NUM_BUCKETS = 8
# Texts tokenized at once while counting (memory: the tokens of this many texts).
COUNT_CHUNK_ROWS = 4096


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


@dataclass
class TextCounts:
    """What the vocabulary, max_length, the length buckets and the batches per epoch are
    built from: token counts, the length histogram, rows and label counts. Counted from
    texts in memory (`of_texts`) or chunk by chunk by the streaming scan (`add_texts`,
    `labels.update`), with the same standardize and split as TextVectorization
    (`standardized_tokens`). `cap` bounds the distinct tokens kept: past it the rarest
    are dropped (lossy counting), which can only affect tokens too rare to enter the
    vocabulary; None (in memory) counts exactly."""

    tokens: Counter = field(default_factory=Counter)  # UTF-8 bytes -> occurrences
    lengths: Counter = field(default_factory=Counter)  # tokens per text -> texts
    labels: Counter = field(default_factory=Counter)  # label (or tag) -> occurrences
    rows: int = 0
    cap: int | None = None
    pruned_at: int = 0  # token counts at or below this were dropped (lossy counting)

    @classmethod
    def of_texts(cls, texts: list[str], preprocessing: Any) -> TextCounts:
        counts = cls()
        for start in range(0, len(texts), COUNT_CHUNK_ROWS):
            counts.add_texts(texts[start : start + COUNT_CHUNK_ROWS], preprocessing)
        return counts

    def add_texts(self, texts: list[str], preprocessing: Any) -> None:
        import tensorflow as tf

        tokens = standardized_tokens(texts, preprocessing)
        self.rows += len(texts)
        self.lengths.update(length_histogram(tokens.row_lengths().numpy()))
        unique, _, counts = tf.unique_with_counts(tokens.flat_values)
        self.tokens.update(dict(zip(unique.numpy().tolist(), counts.numpy().tolist())))
        if self.cap is not None and len(self.tokens) > self.cap:
            while len(self.tokens) > self.cap // 2:
                self.pruned_at += 1
                for token in [t for t, c in self.tokens.items() if c <= self.pruned_at]:
                    del self.tokens[token]


def build_vocabulary(texts: list[str], preprocessing: Any) -> Vocabulary:
    """The vocabulary of train texts in memory: their counts, then vocabulary_from_counts."""
    return vocabulary_from_counts(TextCounts.of_texts(texts, preprocessing), preprocessing)


def vocabulary_from_counts(counts: TextCounts, preprocessing: Any) -> Vocabulary:
    """Keep tokens seen `min_frequency` times, most frequent first (ties broken by the
    token itself, so the vocabulary is identical run to run), at most max_tokens entries;
    max_length from the length histogram; the train OOV rate and truncated share."""
    reserved = {token.encode() for token in RESERVED_TOKENS}
    candidates = sorted(
        (
            (count, token.decode("utf-8"))
            for token, count in counts.tokens.items()
            if count >= preprocessing.min_frequency and token not in reserved
        ),
        key=lambda item: (-item[0], item[1]),
    )
    kept = candidates[: preprocessing.max_tokens - len(RESERVED_TOKENS)]
    lengths = counts.lengths
    if preprocessing.max_length == "auto":
        auto = histogram_percentile(lengths, preprocessing.length_percentile)
        max_length = max(1, math.ceil(auto))
        source = f"auto: {preprocessing.length_percentile:g}th percentile of train lengths"
    else:
        max_length, source = preprocessing.max_length, "config"
    total = sum(length * texts for length, texts in lengths.items())
    in_vocabulary = sum(count for count, _ in kept)
    truncated = sum(texts for length, texts in lengths.items() if length > max_length)
    return Vocabulary(
        tokens=[*RESERVED_TOKENS, *(token for _, token in kept)],
        max_length=int(max_length),
        max_length_source=source,
        train_length_percentiles=length_percentiles(lengths),
        train_oov_rate=float(1.0 - in_vocabulary / total) if total else 0.0,
        train_truncated_share=float(truncated / counts.rows) if counts.rows else 0.0,
        tokens_seen=sum(1 for token in counts.tokens if token not in reserved),
    )


def length_histogram(lengths: Mapping[int, int] | np.ndarray) -> Mapping[int, int]:
    """Tokens per text -> texts: a histogram as it is, or counted from an array of lengths."""
    if isinstance(lengths, Mapping):
        return lengths
    values, counts = np.unique(np.asarray(lengths, dtype=np.int64), return_counts=True)
    return dict(zip(values.tolist(), counts.tolist()))


def histogram_quantile(histogram: Mapping[int, int], q: float) -> float:
    """np.quantile(values, q) of the values a histogram counts, bit for bit: numpy's
    linear method (virtual index (n - 1) * q between the two order statistics around it,
    interpolated as numpy's _lerp does), without the values in memory."""
    keys = sorted(histogram)
    ends = np.cumsum([histogram[key] for key in keys])
    n = int(ends[-1])
    position = (n - 1) * q
    if position >= n - 1:
        return float(keys[-1])

    def value(index: int) -> int:  # the value at this index of the sorted values
        return keys[int(np.searchsorted(ends, index, side="right"))]

    below = math.floor(position)
    gamma = position - below
    low, high = value(below), value(below + 1)
    difference = high - low
    return high - difference * (1 - gamma) if gamma >= 0.5 else low + difference * gamma


def histogram_percentile(histogram: Mapping[int, int], q: float) -> float:
    """np.percentile(values, q) of the values a histogram counts (see histogram_quantile)."""
    return histogram_quantile(histogram, q / 100)


def length_percentiles(lengths: Mapping[int, int]) -> dict[str, int]:
    """The percentiles of a length histogram that reports show (p50 ... p100), in tokens."""
    return {f"p{q}": int(histogram_percentile(lengths, q)) for q in (50, 90, 95, 99, 100)}


def encode(vectorizer: Any, texts: list[str], max_length: int):
    """Texts -> ragged ids (batch, None), clipped (clip_ids)."""
    import tensorflow as tf

    return clip_ids(vectorizer(tf.constant(texts, dtype=tf.string)), max_length)


def clip_ids(ids: Any, max_length: int):
    """The clipping rule, on ragged ids (batch, None): a text is cut at `max_length`
    tokens, and an empty one (nothing left once standardized) becomes one OOV token, as
    in the exported model (see SequenceClip). `clipped_lengths` is the same rule on
    lengths. Works eagerly and inside tf.data."""
    import tensorflow as tf

    ids = ids[:, :max_length]
    empty = tf.cast(ids.row_lengths() == 0, tf.int64)
    oov = tf.fill([tf.reduce_sum(empty)], tf.constant(OOV_ID, ids.dtype))
    return tf.concat([ids, tf.RaggedTensor.from_row_lengths(oov, empty)], axis=1)


def clipped_lengths(lengths: Mapping[int, int], max_length: int) -> Counter:
    """A length histogram as clip_ids leaves the texts: cut at max_length, at least 1."""
    clipped: Counter = Counter()
    for length, texts in lengths.items():
        clipped[max(1, min(length, max_length))] += texts
    return clipped


def bucket_boundaries(
    lengths: Mapping[int, int] | np.ndarray, num_buckets: int = NUM_BUCKETS
) -> list[int]:
    """Length buckets from the quantiles of the lengths (a histogram, or an array)."""
    histogram = length_histogram(lengths)
    edges = np.linspace(0, 1, num_buckets + 1)[1:-1]
    quantiles = [histogram_quantile(histogram, float(q)) for q in edges]
    return sorted({int(q) + 1 for q in quantiles if q >= 1})


def _padded_shapes(targets: Any) -> tuple:
    # Ragged targets (tagging) are padded per batch like the ids.
    # A list, not a tuple: tf.data reads a tuple as a nested structure.
    return ([None], [None] if _is_ragged(targets) else list(targets.shape[1:]))


def _is_ragged(values: Any) -> bool:
    import tensorflow as tf

    return isinstance(values, tf.RaggedTensor)


def steps_per_epoch(
    lengths: Mapping[int, int] | np.ndarray, batch_size: int, bucketing: bool = True
) -> int:
    """How many batches `training_dataset` (or a streamed dataset) yields per epoch, from
    the lengths of its texts as clipped (a histogram, or an array of lengths). The same
    every epoch: a text's bucket depends on its length only."""
    histogram = length_histogram(lengths)
    if not bucketing:
        return math.ceil(sum(histogram.values()) / batch_size)
    boundaries = bucket_boundaries(histogram)
    # bucket_by_sequence_length puts a text of length n in the bucket of the first
    # boundary above n.
    per_bucket: Counter = Counter()
    for length, texts in histogram.items():
        per_bucket[bisect.bisect_right(boundaries, length)] += texts
    return sum(math.ceil(texts / batch_size) for texts in per_bucket.values())


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
