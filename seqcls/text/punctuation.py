"""Punctuation: the ASCII marks Keras' TextVectorization deletes, and what becomes of
them under `preprocessing.strip_punctuation` and `preprocessing.split_punctuation`,
written once for TensorFlow (here), Arrow (arrow_counts) and Python's re (the ONNX
engine's tokenizer), which all read the same RE2-compatible expression."""

from __future__ import annotations

from typing import Any

# Keras' TextVectorization punctuation set (keras/src/layers/preprocessing/text_vectorization.py).
KERAS_PUNCTUATION = r'[!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~\']'


def punctuation_rewrite(strip: bool, split: bool) -> str:
    """What each KERAS_PUNCTUATION match becomes (an RE2 rewrite, as in TensorFlow's and
    Arrow's regex_replace; Python's re writes the whole match as \\g<0>): deleted, a
    space (split_punctuation), or itself between spaces (split, not stripped)."""
    if not split:
        return ""
    return " " if strip else r" \0 "


def standardize_strings(values: Any, lowercase: bool, strip: bool, split: bool) -> Any:
    """TensorFlow strings standardized as TextVectorization standardizes them for these
    settings (its built-in modes, or seqcls.text.standardize's functions)."""
    import tensorflow as tf

    if lowercase:
        values = tf.strings.lower(values)
    if strip or split:
        values = tf.strings.regex_replace(
            values, KERAS_PUNCTUATION, punctuation_rewrite(strip, split)
        )
    return values
