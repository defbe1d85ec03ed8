"""Token counts and length histograms of texts held as Arrow string arrays (the streaming
scan's batches), counted with Arrow compute and NumPy: the same counts `TextCounts.add_texts`
builds with TensorFlow's string ops (`standardized_tokens`), without a TensorFlow op or a
Python string per text.

Why they are the same tokens:

- standardize lowercases ASCII letters only (tf.strings.lower without an encoding, as
  Arrow's ascii_lower) and deletes the ASCII characters KERAS_PUNCTUATION matches (the
  same RE2 expression, in Arrow's replace_substring_regex); with split_punctuation each
  mark becomes a space, or itself between spaces, with the same rewrite, before splitting;
- word split cuts at runs of ASCII white space: space, \\t, \\n, \\v, \\f, \\r (TensorFlow's
  whitespace split, as Arrow's ascii_split_whitespace; U+00A0 and the like stay inside a
  token in both);
- neither standardize step touches white space, so splitting first and standardizing each
  distinct token gives the same tokens, less those that standardize to nothing (all
  punctuation, or the empty tokens Arrow reports at the ends of a text), which leave
  their text's length too;
- character split: each code point of the standardized text (tf.strings.unicode_split on
  valid UTF-8), counted as UTF-8 bytes.

`ArrowCounting` adds such counts to a TextCounts as the scan reads, in worker threads
(Arrow's kernels release the GIL), with its lossy-count cap applied exactly where
add_texts on chunks of `chunk_rows` texts would apply it.
"""

from __future__ import annotations

import os
from collections import deque
from functools import lru_cache
from typing import Any

from seqcls.text.punctuation import KERAS_PUNCTUATION, punctuation_rewrite
from seqcls.text.tokens import split_mode
from seqcls.text.vocabulary import TextCounts


def token_counts(texts: Any, preprocessing: Any) -> tuple[dict[bytes, int], dict[int, int]]:
    """(token as UTF-8 bytes -> occurrences, tokens per text -> texts) of an Arrow string
    array without nulls, as TextVectorization's standardize and split make them."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if texts.null_count:
        raise ValueError("token_counts: the texts hold a null")
    if texts.type != pa.string():
        texts = texts.cast(pa.string())
    lower, strip = preprocessing.lowercase, preprocessing.strip_punctuation
    if preprocessing.split_punctuation:
        # Each mark becomes a space (or itself between spaces) in the whole text first;
        # then there is nothing left to delete.
        rewrite = punctuation_rewrite(strip, split=True)
        texts, strip = pc.replace_substring_regex(texts, KERAS_PUNCTUATION, rewrite), False
    if split_mode(preprocessing) == "character":
        return _character_counts(texts, lower, strip)
    return _word_counts(texts, lower, strip)


def _word_counts(texts: Any, lower: bool, strip: bool) -> tuple[dict, dict]:
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    split = pc.ascii_split_whitespace(texts)
    lengths = pc.list_value_length(split).to_numpy()
    encoded = pc.dictionary_encode(pc.list_flatten(split))
    indices = encoded.indices.to_numpy()
    occurrences = np.bincount(indices, minlength=len(encoded.dictionary))
    standard = encoded.dictionary
    if lower:
        standard = pc.ascii_lower(standard)
    if strip:
        standard = pc.replace_substring_regex(standard, KERAS_PUNCTUATION, "")
    # Arrow splits "" into [""] and " a " into ["", "a", ""]; TensorFlow gives no empty
    # token, and a token all punctuation is none once standardized: not counted, and not
    # in its text's length.
    gone = pc.binary_length(standard).to_numpy() == 0
    if gone.any():
        at = np.flatnonzero(gone[indices])
        offsets = split.offsets.to_numpy()
        rows = np.searchsorted(offsets - offsets[0], at, side="right") - 1
        lengths = lengths - np.bincount(rows, minlength=len(lengths))
    if lower or strip:  # distinct tokens may standardize alike ("Card", "card")
        merged = pc.dictionary_encode(standard)
        occurrences = np.bincount(
            merged.indices.to_numpy(), weights=occurrences, minlength=len(merged.dictionary)
        )
        standard = merged.dictionary
    tokens = dict(
        zip(standard.cast(pa.binary()).to_pylist(), occurrences.astype(np.int64).tolist())
    )
    tokens.pop(b"", None)
    return tokens, _histogram(lengths)


def _character_counts(texts: Any, lower: bool, strip: bool) -> tuple[dict, dict]:
    import numpy as np
    import pyarrow.compute as pc

    lengths = pc.utf8_length(texts).to_numpy().astype(np.int64)
    points = _code_points(texts)
    if strip:
        punctuation = _punctuation()[np.minimum(points, 127)] & (points < 128)
        if punctuation.any():
            ends = np.cumsum(lengths)
            before = np.concatenate(([0], np.cumsum(punctuation)))
            lengths = lengths - (before[ends] - before[ends - lengths])
            points = points[~punctuation]
    if lower:
        points = np.where((points >= 65) & (points <= 90), points + 32, points)
    found = np.bincount(points)
    present = np.flatnonzero(found)
    tokens = {
        chr(point).encode("utf-8"): count
        for point, count in zip(present.tolist(), found[present].tolist())
    }
    return tokens, _histogram(lengths)


def _code_points(texts: Any) -> Any:
    """The code points of all the texts, one after another (a NumPy uint32 array)."""
    import numpy as np

    _, offsets, data = texts.buffers()
    ends = np.frombuffer(offsets, dtype=np.int32)[texts.offset : texts.offset + len(texts) + 1]
    if data is None or ends[-1] == ends[0]:
        return np.zeros(0, dtype=np.uint32)
    decoded = str(memoryview(data)[int(ends[0]) : int(ends[-1])], "utf-8")
    return np.frombuffer(decoded.encode("utf-32-le"), dtype=np.uint32)


@lru_cache(maxsize=1)
def _punctuation() -> Any:
    """For each ASCII code point, whether KERAS_PUNCTUATION deletes it (NumPy bools)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    ascii_chars = pa.array([chr(point) for point in range(128)])
    kept = pc.replace_substring_regex(ascii_chars, KERAS_PUNCTUATION, "")
    return pc.binary_length(kept).to_numpy() == 0


def _histogram(lengths: Any) -> dict[int, int]:
    import numpy as np

    found = np.bincount(lengths)
    present = np.flatnonzero(found)
    return dict(zip(present.tolist(), found[present].tolist()))


class ArrowCounting:
    """Adds Arrow string arrays of texts, in order, to `counts`: the tokens, lengths and
    rows that `counts.add_texts` would add if the same texts came in chunks of
    `chunk_rows` (the scan's chunks run on across its batches and files), the lossy-count
    cap included. A batch is counted whole in a worker thread; when the distinct tokens
    would pass the cap, it is recounted chunk by chunk and pruned where each chunk ends,
    as add_texts prunes. Use as a context manager; `finish` counts what is left."""

    def __init__(self, counts: TextCounts, preprocessing: Any, chunk_rows: int):
        from concurrent.futures import ThreadPoolExecutor

        self.counts, self.preprocessing, self.chunk_rows = counts, preprocessing, chunk_rows
        self.texts_seen = 0
        workers = max(1, min(4, os.cpu_count() or 1))
        self.pool = ThreadPoolExecutor(workers, thread_name_prefix="seqcls-count")
        self.depth = workers + 1
        self.waiting: deque = deque()

    def __enter__(self) -> ArrowCounting:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)

    def add(self, texts: Any) -> None:
        if len(texts):
            self.waiting.append((texts, self.pool.submit(token_counts, texts, self.preprocessing)))
        while len(self.waiting) > self.depth:
            self._merge(*self.waiting.popleft())

    def finish(self) -> None:
        while self.waiting:
            self._merge(*self.waiting.popleft())
        if self.texts_seen % self.chunk_rows:
            self.counts.prune()  # the last, short chunk (add_texts prunes after each)

    def _merge(self, texts: Any, counted: Any) -> None:
        tokens, lengths = counted.result()
        counts, rows = self.counts, len(texts)
        counts.rows += rows
        counts.lengths.update(lengths)
        new = len(tokens) - sum(map(counts.tokens.__contains__, tokens))
        if counts.cap is None or len(counts.tokens) + new <= counts.cap:
            # No chunk of these texts can pass the cap: pruning after each would do nothing.
            counts.tokens.update(tokens)
            self.texts_seen += rows
            return
        start = 0
        while start < rows:
            take = min(rows - start, self.chunk_rows - self.texts_seen % self.chunk_rows)
            piece, _ = token_counts(texts.slice(start, take), self.preprocessing)
            counts.tokens.update(piece)
            start += take
            self.texts_seen += take
            if self.texts_seen % self.chunk_rows == 0:
                counts.prune()
