"""Losses Keras does not have: sparse categorical cross-entropy with label smoothing.

Registered under the package name "seqcls" like the custom layers, so a checkpoint
compiled with it loads with safe_mode=True (resume reads the compiled model).
"""

from __future__ import annotations

import keras
from keras import ops

from seqcls.modeling.layers import PACKAGE


@keras.saving.register_keras_serializable(package=PACKAGE)
class SmoothedSparseCrossentropy(keras.losses.Loss):
    """Cross-entropy against integer targets mixed with the uniform distribution: with
    K classes the target class gets 1 - s + s/K and every other class s/K.

    Keras' SparseCategoricalCrossentropy has no label smoothing and its
    CategoricalCrossentropy wants one-hot targets; this one takes the integer targets the
    data pipeline already makes, for a (batch,) or a per-token (batch, time) target
    against (batch, [time,] K) probabilities.
    """

    def __init__(self, label_smoothing: float = 0.0, reduction="sum_over_batch_size", **kwargs):
        kwargs.setdefault("name", "smoothed_sparse_crossentropy")
        super().__init__(reduction=reduction, **kwargs)
        self.label_smoothing = float(label_smoothing)

    def call(self, y_true, y_pred):
        classes = ops.shape(y_pred)[-1]
        one_hot = ops.one_hot(ops.cast(y_true, "int32"), classes, dtype=y_pred.dtype)
        return keras.losses.categorical_crossentropy(
            one_hot, y_pred, label_smoothing=self.label_smoothing
        )

    def get_config(self) -> dict:
        return {**super().get_config(), "label_smoothing": self.label_smoothing}
