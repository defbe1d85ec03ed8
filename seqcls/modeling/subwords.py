"""fastText-style subword features: hashed character n-grams of the vocabulary's tokens.

Each token is wrapped in "<" and ">" (so prefixes and suffixes are n-grams of their own),
and every n-gram of min_n..max_n characters is hashed (32-bit FNV-1a over its UTF-8
bytes, as fastText hashes) into one of `buckets` rows. The result is a table with one
row per vocabulary id listing its n-gram rows (1..buckets; 0 marks an empty slot), which
the SubwordEmbedding layer keeps with the model: predicting needs no extra tokenization,
and the SavedModel and ONNX exports carry it as a constant.

Padding (id 0) and the unknown token (id 1) have no n-grams.
"""

from __future__ import annotations

import numpy as np

# Rows of the n-gram table: the n-grams of the longest tokens beyond it are left out
# (a 40-character token has about 120 n-grams of 3 to 5 characters; words rarely do).
MAX_NGRAMS = 64
_FNV_OFFSET = 2166136261
_FNV_PRIME = 16777619


def fnv1a(text: str) -> int:
    """32-bit FNV-1a hash of the UTF-8 bytes of `text`."""
    value = _FNV_OFFSET
    for byte in text.encode("utf-8", "surrogatepass"):
        value = ((value ^ byte) * _FNV_PRIME) & 0xFFFFFFFF
    return value


def char_ngrams(token: str, min_n: int, max_n: int) -> list[str]:
    """The n-grams of "<token>" from min_n to max_n characters, shortest first, each once."""
    wrapped = f"<{token}>"
    seen: dict[str, None] = {}
    for n in range(min_n, max_n + 1):
        for start in range(len(wrapped) - n + 1):
            seen.setdefault(wrapped[start : start + n], None)
    return list(seen)


def ngram_table(tokens: list[str], min_n: int, max_n: int, buckets: int) -> np.ndarray:
    """(len(tokens), width) int32: each vocabulary id's n-gram rows (1..buckets), 0-padded.

    `tokens` is the vocabulary in id order (0 padding, 1 unknown, as text.Vocabulary
    lists it). Every token is looked up with `width` slots, so the width is the 99th
    percentile of the tokens' n-gram counts (at most MAX_NGRAMS), not the longest
    token's: the rarest long tokens keep their shortest n-grams (which already cover the
    whole token), and the model computes fewer slots (banking77: 36 instead of 60)."""
    ngrams = [char_ngrams(token, min_n, max_n) for token in tokens[2:]]
    counts = [len(each) for each in ngrams] or [1]
    width = max(1, min(MAX_NGRAMS, int(np.ceil(np.percentile(counts, 99)))))
    rows = [[], []] + [
        sorted({1 + fnv1a(ngram) % buckets for ngram in each[:width]}) for each in ngrams
    ]
    table = np.zeros((len(tokens), width), dtype=np.int32)
    for index, row in enumerate(rows):
        table[index, : len(row)] = row
    return table
