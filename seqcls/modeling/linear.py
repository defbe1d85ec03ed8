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
    values: np.ndarray, row_splits: np.ndarray, vocab_size: int, ngrams: int, buckets: int
) -> tuple[np.ndarray, np.ndarray]:
    """(row of each feature occurrence, feature index) of the ids and their hashed
    n-grams, for ragged ids given as their flat values and row_splits (tf.RaggedTensor's),
    as LinearNgrams computes them. (The tokens' character n-grams: char_matrix.)"""
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
    return np.concatenate(found_rows), np.concatenate(found)


def char_matrix(char_table: np.ndarray, buckets: int):
    """(vocab_size, buckets + 1) 0/1 sparse matrix: each token id's character n-gram rows
    (seqcls.modeling.subwords.ngram_table); unigram counts times it count the n-grams."""
    from scipy import sparse

    filled = char_table > 0
    ids = np.broadcast_to(np.arange(len(char_table))[:, None], char_table.shape)[filled]
    ones = np.ones(len(ids), dtype=np.float64)
    return sparse.csr_matrix(
        (ones, (ids, char_table[filled])), shape=(len(char_table), buckets + 1)
    )


def layer_weights(
    used: np.ndarray,
    coefficients: np.ndarray,
    squared_idf: np.ndarray,
    layer: LinearNgrams,
    char_table: np.ndarray | None,
) -> list[np.ndarray]:
    """LinearNgrams' weights, in order, from the features seen in train (`used`, sorted
    feature indices), their coefficients times idf (len(used), units) and their squared
    idf: unigram and character n-gram rows folded per token id, n-gram rows by bucket.
    `layer` gives the sizes (its `used` must be the number of n-gram features used)."""
    vocab_size, buckets, units = layer.vocab_size, layer.buckets, layer.units
    token_coefficients = np.zeros((vocab_size, units))
    token_squared = np.zeros(vocab_size)
    unigram = used < vocab_size
    token_coefficients[used[unigram]] = coefficients[unigram]
    token_squared[used[unigram]] = squared_idf[unigram]
    chars = used >= vocab_size + buckets
    if char_table is not None and chars.any():
        spread = char_matrix(char_table, buckets)[:, used[chars] - vocab_size - buckets]
        token_coefficients += spread @ coefficients[chars]
        token_squared += spread @ squared_idf[chars]
    ngram = ~unigram & ~chars
    slots = np.zeros(buckets if layer.ngrams > 1 else 1, dtype=np.int32)
    slots[used[ngram] - vocab_size] = np.arange(1, ngram.sum() + 1, dtype=np.int32)
    return [
        token_coefficients.astype(np.float32),
        token_squared.astype(np.float32),
        slots,
        np.vstack([np.zeros((1, units)), coefficients[ngram]]).astype(np.float32),
        np.concatenate([[0.0], squared_idf[ngram]]).astype(np.float32),
    ]


@keras.saving.register_keras_serializable(package=PACKAGE)
class LinearNgrams(keras.layers.Layer):
    """Token ids (batch, time; 0 is padding) -> the linear model's probabilities: softmax
    over `units` scores, or a sigmoid of one score (binary).

    What a token contributes alone (its unigram and its character n-grams) depends on its
    id only, so it is folded into one row per id: `token_coefficients` (vocab_size,
    units), the sum of those features' SVM coefficients times their idf, and
    `token_squared_idf` (vocab_size,), the sum of their squared idf. The hashed n-grams
    of 2..`ngrams` ids: `slots` (buckets,), each bucket's row in `coefficients` (0: no
    weight), `coefficients` (used + 1, units) and `squared_idf` (used + 1,). Then `bias`.
    Set by training.linear_branch, never trained by Keras. Memory per call: (batch, time
    * ngrams, units), whatever the character n-grams."""

    def __init__(
        self,
        vocab_size: int,
        ngrams: int,
        buckets: int,
        used: int,
        units: int,
        temperature: float = 1.0,
        **kwargs,
    ):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.vocab_size, self.ngrams, self.buckets = vocab_size, ngrams, buckets
        self.used, self.units, self.temperature = used, units, temperature

        def weight(name: str, shape: tuple, dtype: str = "float32"):
            return self.add_weight(
                shape=shape, initializer="zeros", dtype=dtype, trainable=False, name=name
            )

        self.token_coefficients = weight("token_coefficients", (vocab_size, units))
        self.token_squared_idf = weight("token_squared_idf", (vocab_size,))
        self.slots = weight("slots", (buckets if ngrams > 1 else 1,), "int32")
        self.coefficients = weight("coefficients", (used + 1, units))
        self.squared_idf = weight("squared_idf", (used + 1,))
        self.bias = weight("bias", (units,))

    def _ngram_slots(self, ids):
        """(batch, positions) rows of `coefficients` for the ids' n-grams of 2..ngrams ids,
        0 where there is none (past the text's end, or padding in the n-gram)."""
        length = ops.shape(ids)[1]
        slots = []
        for n in range(2, self.ngrams + 1):
            count = ops.maximum(length - n + 1, 0)
            hashed = ops.zeros_like(ids[:, :count])
            present = ops.ones_like(hashed, dtype="bool")
            for offset in range(n):
                part = ids[:, offset : offset + count]
                hashed = ops.mod(hashed * _PRIME + part, _MODULUS)
                present = ops.logical_and(present, part > 0)
            slot = ops.take(self.slots, ops.mod(hashed, self.buckets), axis=0)
            slots.append(ops.where(present, slot, ops.zeros_like(slot)))
        return ops.concatenate(slots, axis=1)

    def scores(self, ids):
        """The SVM's scores (batch, units): its decision_function on the ids' TF-IDF."""
        ids = ops.cast(ids, "int64")
        scores = ops.sum(ops.take(self.token_coefficients, ids, axis=0), axis=1)
        squares = ops.sum(ops.take(self.token_squared_idf, ids, axis=0), axis=1)
        if self.ngrams > 1:
            slots = self._ngram_slots(ids)
            scores = scores + ops.sum(ops.take(self.coefficients, slots, axis=0), axis=1)
            squares = squares + ops.sum(ops.take(self.squared_idf, slots, axis=0), axis=1)
        norm = ops.expand_dims(ops.maximum(ops.sqrt(squares), 1e-12), -1)
        return scores / norm + self.bias

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
