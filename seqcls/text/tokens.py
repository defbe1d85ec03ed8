"""Tokens and ids: Keras' own TextVectorization, so the exact same code turns text into
ids at training time and inside the exported inference model. Its built-in standardize
modes, or with split_punctuation one of seqcls.text.standardize's registered functions
(which load_model imports, so the `.keras` file still loads in safe mode); `clip_ids` is
the one clipping rule (cut at max_length, an empty text becomes one out-of-vocabulary
token).
"""

from __future__ import annotations

from typing import Any

from seqcls.text.punctuation import standardize_strings

PADDING_ID = 0


OOV_ID = 1


# The padding and out-of-vocabulary entries (ids 0 and 1), as Keras names them; a token
# written so in a text is out of the vocabulary.
RESERVED_TOKENS = ("", "[UNK]")


def standardize_mode(preprocessing: Any) -> Any:
    """TextVectorization's `standardize`: a built-in mode's name (or None), or with
    split_punctuation one of seqcls.text.standardize's registered functions."""
    lower, strip = preprocessing.lowercase, preprocessing.strip_punctuation
    if preprocessing.split_punctuation:
        from seqcls.text.standardize import SPLITTING

        return SPLITTING[(lower, strip)]
    if lower and strip:
        return "lower_and_strip_punctuation"
    if lower:
        return "lower"
    if strip:
        return "strip_punctuation"
    return None


def split_mode(preprocessing: Any) -> str:
    return "character" if preprocessing.tokenizer == "char" else "whitespace"


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


def display_tokens(texts: list[str], preprocessing: Any, max_length: int) -> list[list[str]]:
    """The tokens the model sees for each text (standardized, split, cut to max_length),
    as strings, including those outside the vocabulary. Mirrors TextVectorization's
    standardize and split, so token i lines up with attention weight i."""
    tokens = standardized_tokens(texts, preprocessing)
    return [[token.decode("utf-8") for token in row[:max_length]] for row in tokens.to_list()]


def standardized_tokens(texts: list[str], preprocessing: Any):
    """Ragged (texts, tokens) of UTF-8 byte strings: TextVectorization's standardize and
    split, mirrored with the same TensorFlow string ops."""
    import tensorflow as tf

    values = standardize_strings(
        tf.constant(texts, dtype=tf.string),
        preprocessing.lowercase,
        preprocessing.strip_punctuation,
        preprocessing.split_punctuation,
    )
    if split_mode(preprocessing) == "character":
        return tf.strings.unicode_split(values, "UTF-8")
    return tf.strings.split(values)
