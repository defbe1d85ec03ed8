"""Length histograms (tokens per text -> texts): their percentiles, the length buckets
and the batches per epoch, the same for texts in memory and streamed files.
"""

from __future__ import annotations

import bisect
import math
from collections import Counter
from collections.abc import Mapping

import numpy as np

# Length buckets: batches are formed from texts of similar length so little
# compute is spent on padding.
NUM_BUCKETS = 8


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
