"""Single-label tasks: multiclass (a softmax over the labels) and binary (one sigmoid
unit, the probability of the second label in sorted order)."""

from __future__ import annotations

from typing import Any

import numpy as np

from seqcls.errors import DataError
from seqcls.tasks.base import Task


class Multiclass(Task):
    """One label per text; a softmax over the labels (the defaults of Task)."""

    name = "multiclass"


class Binary(Task):
    """Two labels; one sigmoid unit, the probability of the second (sorted) label."""

    name = "binary"
    activation = "sigmoid"
    loss = "binary_crossentropy"
    expected_labels = 2
    ranking_metrics = True
    outputs_meaning = "one sigmoid output for its two labels"

    def check_labels(self, labels: list[str], source: Any) -> None:
        if len(labels) != 2:
            raise DataError(
                f"{source}: task is binary but train has {len(labels)} labels "
                f"({labels[:10]}); set task: multiclass"
            )

    def output_units(self, num_labels: int) -> int:
        return 1

    def targets(self, split: Any, labels: list[str], delimiter: str) -> np.ndarray:
        # One sigmoid unit, so the target is a (rows, 1) float.
        return super().targets(split, labels, delimiter).astype(np.float32).reshape(-1, 1)

    def target_shape(self, num_labels: int) -> tuple[int, ...]:
        return (1,)

    def target_dtype(self) -> str:
        return "float32"

    def encode_target(self, raw: str, index: dict[str, int], delimiter: str) -> np.ndarray:
        return np.array([index[raw]], dtype=np.float32)

    def loss_object(self, label_smoothing: float = 0.0, reduction: Any = None) -> Any:
        import keras

        # Smoothing moves each 0/1 target towards 0.5 by label_smoothing / 2.
        return keras.losses.BinaryCrossentropy(label_smoothing=label_smoothing, reduction=reduction)

    def correct_per_row(self, probabilities: Any, targets: Any) -> Any:
        return sigmoid_correct_per_row(probabilities, targets)

    def probabilities(self, values: Any) -> np.ndarray:
        # The one sigmoid unit (the probability of the second label) becomes two columns.
        probabilities = np.asarray(values, dtype=np.float64)
        if probabilities.ndim == 2 and probabilities.shape[1] == 1:
            probabilities = np.concatenate([1.0 - probabilities, probabilities], axis=1)
        return probabilities


def sigmoid_correct_per_row(probabilities: Any, targets: Any) -> Any:
    """Keras' binary accuracy per row: the share of the sigmoid outputs on the right side
    of 0.5."""
    import tensorflow as tf

    hits = tf.equal(tf.cast(probabilities > 0.5, tf.float32), tf.cast(targets, tf.float32))
    return tf.reduce_mean(tf.cast(hits, tf.float32), axis=-1)
