"""Standardize functions for `preprocessing.split_punctuation: true`.

Keras' built-in standardize modes delete punctuation, which joins the words around it
("mind--and" -> "mindand", "Elizabeth's" -> "elizabeths"). With split_punctuation each
ASCII punctuation mark (KERAS_PUNCTUATION, the set Keras deletes) is replaced instead:
by a space when strip_punctuation is on, so the mark separates words and is gone; by
itself between spaces when it is off, so the mark is a token of its own.

TextVectorization takes these as its `standardize` callable. They are registered Keras
objects, so a saved model.keras names them and loads them in safe mode
(seqcls.run.artifacts.load_model imports this module). The same rule is written with
Arrow compute (arrow_counts) and Python's re (the ONNX engine's tokenizer); the three
are checked against TensorFlow in tests/text/test_text.py, tests/data/test_arrow_stream.py
and tests/inference/test_onnx_engine.py.
"""

from __future__ import annotations

from typing import Any

import keras

from seqcls.text.punctuation import standardize_strings


@keras.saving.register_keras_serializable(package="seqcls")
def lower_and_split_punctuation(values: Any) -> Any:
    return standardize_strings(values, lowercase=True, strip=True, split=True)


@keras.saving.register_keras_serializable(package="seqcls")
def split_punctuation(values: Any) -> Any:
    return standardize_strings(values, lowercase=False, strip=True, split=True)


@keras.saving.register_keras_serializable(package="seqcls")
def lower_and_separate_punctuation(values: Any) -> Any:
    return standardize_strings(values, lowercase=True, strip=False, split=True)


@keras.saving.register_keras_serializable(package="seqcls")
def separate_punctuation(values: Any) -> Any:
    return standardize_strings(values, lowercase=False, strip=False, split=True)


SPLITTING = {
    # (lowercase, strip_punctuation) -> the standardize callable
    (True, True): lower_and_split_punctuation,
    (False, True): split_punctuation,
    (True, False): lower_and_separate_punctuation,
    (False, False): separate_punctuation,
}
