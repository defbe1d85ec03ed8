"""model.linear: a linear model on TF-IDF n-grams of the model's token ids, blended with
the network's probabilities.

Features. Every token id above 0 is a unigram feature (its id); every run of n = 2..N
ids is hashed into one of `buckets` features after the vocabulary (vocab_size + hash %
buckets); with word tokens, each token's character n-grams (as model.embedding.subwords
hashes them: FNV-1a of "<token>"'s n-grams) are features in a third range. A text's vector counts its features, weighs each by its inverse document
frequency in train (scikit-learn's smooth idf, log((1 + rows) / (1 + df)) + 1) and
divides by sqrt(sum over the text's n-grams of idf^2), the L2 norm of the vector when no
n-gram repeats. Features never seen in train weigh nothing, as in a vocabulary-based
TF-IDF.

`ngram_features` computes them in NumPy, to fit the SVM; `LinearNgrams` computes the
same scores inside the model from the ids (batch, time), so model.keras, the SavedModel
and the ONNX exports carry the branch with no tokenization of their own.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
from keras import ops

from seqcls.modeling.layers import PACKAGE

_PRIME = 1_000_003
_MODULUS = 2_147_483_647  # 2**31 - 1: h * _PRIME + id stays within int64


def feature_count(vocab_size: int, buckets: int, char_table: np.ndarray | None) -> int:
    """Feature indices: ids, then `buckets` hashed n-grams, then (with a character n-gram
    table) 1 + `buckets` for the tokens' character n-grams (rows 1..buckets)."""
    return vocab_size + buckets + (0 if char_table is None else buckets + 1)


def ngram_features(
    values: np.ndarray,
    row_splits: np.ndarray,
    vocab_size: int,
    ngrams: int,
    buckets: int,
    char_table: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(row of each feature occurrence, feature index) for ragged ids given as their flat
    values and row_splits (tf.RaggedTensor's), as LinearNgrams computes them. With
    `char_table` (seqcls.modeling.subwords.ngram_table of the vocabulary), each token's
    hashed character n-grams are features too."""
    values = np.asarray(values, dtype=np.int64)
    lengths = np.diff(row_splits)
    rows = np.repeat(np.arange(len(lengths)), lengths)
    position = np.arange(len(values)) - np.repeat(row_splits[:-1], lengths)
    remaining = np.repeat(lengths, lengths) - position  # ids from here to the row's end
    keep = values > 0
    found_rows, found = [rows[keep]], [values[keep]]
    for n in range(2, ngrams + 1):
        fits = np.flatnonzero(remaining >= n)
        hashed = np.zeros(len(fits), dtype=np.int64)
        present = np.ones(len(fits), dtype=bool)
        for offset in range(n):
            part = values[fits + offset]
            hashed = (hashed * _PRIME + part) % _MODULUS
            present &= part > 0
        found_rows.append(rows[fits][present])
        found.append(vocab_size + hashed[present] % buckets)
    if char_table is not None:
        table = char_table[values]  # (positions, width); 0 marks an empty slot
        filled = table > 0
        found_rows.append(np.broadcast_to(rows[:, None], table.shape)[filled])
        found.append(vocab_size + buckets + table[filled].astype(np.int64))
    return np.concatenate(found_rows), np.concatenate(found)


@keras.saving.register_keras_serializable(package=PACKAGE)
class LinearNgrams(keras.layers.Layer):
    """Token ids (batch, time; 0 is padding) -> the linear model's probabilities: softmax
    over `units` scores, or a sigmoid of one score (binary).

    Weights (set by training.linear_branch, never trained by Keras): `slots`, each
    feature's row in `coefficients` (0: no weight); `coefficients` (used + 1, units), the
    SVM's coefficients times the feature's idf; `squared_idf` (used + 1,); `bias`; with
    `char_width` > 0, `char_table` (vocab_size, char_width), each token's character
    n-gram rows (ngram_features' `char_table`)."""

    def __init__(
        self,
        vocab_size: int,
        ngrams: int,
        buckets: int,
        used: int,
        units: int,
        temperature: float = 1.0,
        char_width: int = 0,
        **kwargs,
    ):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.vocab_size, self.ngrams, self.buckets = vocab_size, ngrams, buckets
        self.used, self.units, self.temperature = used, units, temperature
        self.char_width = char_width
        self.char_table = None
        if char_width:
            self.char_table = self.add_weight(
                shape=(vocab_size, char_width),
                initializer="zeros",
                dtype="int32",
                trainable=False,
                name="char_table",
            )
        features = vocab_size + buckets + (buckets + 1 if char_width else 0)
        self.slots = self.add_weight(
            shape=(features,),
            initializer="zeros",
            dtype="int32",
            trainable=False,
            name="slots",
        )
        self.coefficients = self.add_weight(
            shape=(used + 1, units), initializer="zeros", trainable=False, name="coefficients"
        )
        self.squared_idf = self.add_weight(
            shape=(used + 1,), initializer="zeros", trainable=False, name="squared_idf"
        )
        self.bias = self.add_weight(
            shape=(units,), initializer="zeros", trainable=False, name="bias"
        )

    def _features(self, ids):
        """(batch, positions) feature indices, 0 where there is none."""
        ids = ops.cast(ids, "int64")
        length = ops.shape(ids)[1]
        features = [ids]
        for n in range(2, self.ngrams + 1):
            count = ops.maximum(length - n + 1, 0)
            hashed = ops.zeros_like(ids[:, :count])
            present = ops.ones_like(hashed, dtype="bool")
            for offset in range(n):
                part = ids[:, offset : offset + count]
                hashed = ops.mod(hashed * _PRIME + part, _MODULUS)
                present = ops.logical_and(present, part > 0)
            feature = self.vocab_size + ops.mod(hashed, self.buckets)
            features.append(ops.where(present, feature, ops.zeros_like(feature)))
        if self.char_width:
            rows = ops.cast(ops.take(self.char_table, ids, axis=0), "int64")
            rows = ops.reshape(rows, (ops.shape(ids)[0], -1))  # (batch, time * width)
            offset = self.vocab_size + self.buckets
            features.append(ops.where(rows > 0, rows + offset, ops.zeros_like(rows)))
        return ops.concatenate(features, axis=1)

    def scores(self, ids):
        """The SVM's scores (batch, units): its decision_function on the ids' TF-IDF."""
        slots = ops.take(self.slots, self._features(ids), axis=0)
        scores = ops.sum(ops.take(self.coefficients, slots, axis=0), axis=1)
        norm = ops.sqrt(ops.sum(ops.take(self.squared_idf, slots, axis=0), axis=1))
        return scores / ops.expand_dims(ops.maximum(norm, 1e-12), -1) + self.bias

    def call(self, ids):
        scores = self.scores(ids) * self.temperature
        if self.units == 1:
            return ops.sigmoid(scores)
        return ops.softmax(scores, axis=-1)

    def compute_output_shape(self, shape):
        return (shape[0], self.units)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "vocab_size": self.vocab_size,
            "ngrams": self.ngrams,
            "buckets": self.buckets,
            "used": self.used,
            "units": self.units,
            "temperature": self.temperature,
            "char_width": self.char_width,
        }


@keras.saving.register_keras_serializable(package=PACKAGE)
class Blend(keras.layers.Layer):
    """[network probabilities, linear probabilities] -> weight * the first + (1 - weight)
    * the second."""

    def __init__(self, weight: float, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.weight = float(weight)

    def call(self, inputs):
        network, linear = inputs
        return self.weight * ops.cast(network, "float32") + (1.0 - self.weight) * linear

    def compute_output_shape(self, shapes):
        return shapes[0]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "weight": self.weight}


def blended_core(core: keras.Model, linear: LinearNgrams, weight: float) -> keras.Model:
    """A core (token ids -> dict of outputs) whose probabilities blend `core`'s with the
    linear branch's; its other outputs (attention weights) pass through. `core` becomes
    the layer "network" inside it; the result is named "seqcls_core", as cores are."""
    from seqcls.modeling.outputs import MEMBER_PROBABILITIES, PROBABILITIES

    core.name = "network"
    ids = keras.Input(shape=(None,), dtype="int64", name="token_ids")
    outputs = {key: value for key, value in core(ids).items() if key != MEMBER_PROBABILITIES}
    outputs[PROBABILITIES] = Blend(weight, name=PROBABILITIES)(
        [outputs[PROBABILITIES], linear(ids)]
    )
    return keras.Model(ids, outputs, name="seqcls_core")
