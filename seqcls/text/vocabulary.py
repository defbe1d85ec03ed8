"""The vocabulary, built from counts (`TextCounts`: tokens, the length histogram, rows)
that texts in memory and streamed files produce alike.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from seqcls.text.lengths import histogram_percentile, length_histogram, length_percentiles
from seqcls.text.tokens import RESERVED_TOKENS, standardized_tokens

# Texts tokenized at once while counting (memory: the tokens of this many texts).
COUNT_CHUNK_ROWS = 4096


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


@dataclass
class TextCounts:
    """What the vocabulary, max_length, the length buckets and the batches per epoch are
    built from: token counts, the length histogram, rows and label counts. Counted from
    texts in memory (`of_texts`) or chunk by chunk by the streaming scan (`add_texts`,
    `labels.update`; from Arrow batches, text.arrow_counts.ArrowCounting), with the same
    standardize and split as TextVectorization (`standardized_tokens`). `cap` bounds the distinct tokens kept: past it the rarest
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
        self.prune()

    def prune(self) -> None:
        """Past `cap` distinct tokens, drop the rarest until half the cap is left (what
        add_texts does after each chunk; seqcls.text.arrow_counts calls it where the same
        chunks end)."""
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
