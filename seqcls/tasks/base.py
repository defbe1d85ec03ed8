"""The interface every task implements: what differs between multiclass, binary,
multilabel and tagging, from the labels in a data file to the metrics of a split.

Pure NumPy here except where a method builds Keras or TensorFlow objects (imported
inside the method). A task never imports the model builder: the model asks the task.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from seqcls.errors import DataError
from seqcls.modeling.outputs import PROBABILITIES

# Columns predict adds for text-level tasks; multilabel and tagging add their own.
PREDICTED_LABEL = "predicted_label"
PREDICTED_PROBABILITY = "predicted_probability"


class Task:
    """One classification task. Subclasses override what differs from the defaults,
    which are those of single-label classification over a softmax."""

    name: ClassVar[str]
    # One prediction per token (a sequence output, token weights) instead of per text.
    per_token: ClassVar[bool] = False
    activation: ClassVar[str] = "softmax"
    loss: ClassVar[str] = "sparse_categorical_crossentropy"
    # What training.class_weight can weigh: one label per row.
    supports_class_weight: ClassVar[bool] = True
    # data.streaming and runtime.distribution (mirrored/multi_worker) can train it.
    supports_streaming: ClassVar[bool] = True
    supports_distribution: ClassVar[bool] = True
    # Decision thresholds tuned on valid (`tune`) and saved with the run.
    tuned_thresholds: ClassVar[bool] = False
    # What the model's outputs are, when not one probability per label.
    outputs_meaning: ClassVar[str | None] = None
    # How many labels the task trains (None: any number from two).
    expected_labels: ClassVar[int | None] = None
    # Its metrics rank the rows by the second label's probability (ROC-AUC, PR-AUC).
    ranking_metrics: ClassVar[bool] = False
    # A label cell is one label (stripped) and any text with a non-space is a usable row:
    # parse_labels and row_problem are the defaults below, so reading may check a whole
    # column at once instead of asking them row by row.
    one_label_per_cell: ClassVar[bool] = True
    # One label per text with a probability: predict --abstain can withhold it.
    abstains: ClassVar[bool] = True
    # model.linear: one label per row, a linear SVM over the labels.
    blends_linear: ClassVar[bool] = True

    # ------------------------------------------------------------------ labels

    def parse_labels(self, raw: str, delimiter: str = "|") -> list[str]:
        """The labels one cell of the label column holds (none for an empty cell)."""
        return [raw.strip()] if raw.strip() else []

    def row_problem(self, text: str, labels: list[str], shown: str, label_column: str):
        """(reason, explanation) when a row with a text and labels cannot be trained on."""
        return None

    def check_labels(self, labels: list[str], source: Any) -> None:
        """Refuse a label set the task cannot train (binary: exactly two)."""

    def config_problems(self, config: Any) -> list[str]:
        """Settings this task cannot train with (the config validator reports them)."""
        problems = []
        if not self.supports_class_weight and config.training.class_weight != "none":
            problems.append(
                f"training.class_weight applies to multiclass and binary tasks, not {self.name}; "
                "remove it"
            )
        if not self.supports_streaming and config.data.streaming:
            problems.append(
                "data.streaming supports text-level tasks (multiclass, binary, multilabel), "
                f"not {self.name}; set data.streaming: false"
            )
        if config.data.out_of_scope_label is not None and (
            not self.abstains or config.data.streaming
        ):
            problems.append(
                "data.out_of_scope_label needs a multiclass or binary task read in memory "
                f"(this config: {self.name}, data.streaming {config.data.streaming}); remove it"
            )
        if config.model.linear is not None and (not self.blends_linear or config.data.streaming):
            problems.append(
                "model.linear needs a multiclass or binary task read in memory (this config: "
                f"{self.name}, data.streaming {config.data.streaming}); remove model.linear"
            )
        if not self.supports_distribution and config.runtime.distribution != "none":
            problems.append(
                f"runtime.distribution {config.runtime.distribution} supports text-level tasks "
                f"(multiclass, binary, multilabel), not {self.name} (its per-token loss "
                "weights); set runtime.distribution: none"
            )
        return problems

    # ----------------------------------------------------------- model and loss

    def output_units(self, num_labels: int) -> int:
        return num_labels

    def compile_metrics(self) -> dict[str, Any]:
        """The `metrics`/`weighted_metrics` arguments of Keras' compile."""
        return {"metrics": ["accuracy"]}

    def inference_max_length(self, max_length: int) -> int | None:
        """How many tokens the inference model keeps (None: all of them)."""
        return max_length

    # ------------------------------------------------------------------ targets

    def targets(self, split: Any, labels: list[str], delimiter: str) -> np.ndarray:
        """The training targets of an in-memory split."""
        return np.array([row[0] for row in self.label_indices(split, labels, delimiter)])

    def training_targets(
        self, split: Any, labels: list[str], delimiter: str, ids: Any, max_length: int
    ) -> Any:
        """The targets `fit` trains on, for the split's token ids cut to max_length."""
        return self.targets(split, labels, delimiter)

    def target_shape(self, num_labels: int) -> tuple[int, ...]:
        """The shape of one row's target (streamed data declares it up front)."""
        return ()

    def target_dtype(self) -> str:
        return "int64"

    def encode_target(self, raw: str, index: dict[str, int], delimiter: str) -> np.ndarray:
        """One row's target from its label cell (streamed data)."""
        return np.int64(index[raw])

    def label_indices(self, split: Any, labels: list[str], delimiter: str) -> list[list[int]]:
        index = {label: i for i, label in enumerate(labels)}
        return [
            [index[label] for label in self.parse_labels(raw, delimiter)] for raw in split.labels
        ]

    # ----------------------------------------------- the distributed training loop

    def loss_object(self, label_smoothing: float = 0.0, reduction: Any = None) -> Any:
        """The loss with `label_smoothing` (training.label_smoothing); reduction None gives
        the per-row loss the distributed loop sums."""
        import keras

        if label_smoothing:
            from seqcls.modeling.losses import SmoothedSparseCrossentropy

            return SmoothedSparseCrossentropy(label_smoothing, reduction=reduction)
        return keras.losses.SparseCategoricalCrossentropy(reduction=reduction)

    def training_loss(self, label_smoothing: float = 0.0) -> Any:
        """What compile gets: the loss by name, or with label smoothing a loss object."""
        if not label_smoothing:
            return self.loss
        return self.loss_object(label_smoothing, reduction="sum_over_batch_size")

    def correct_per_row(self, probabilities: Any, targets: Any) -> Any:
        """Keras' accuracy per row, as a float tensor (the distributed loop's metric)."""
        import tensorflow as tf

        hits = tf.equal(tf.argmax(probabilities, axis=-1), tf.cast(targets, tf.int64))
        return tf.cast(hits, tf.float32)

    # ------------------------------------------------------ outputs and metrics

    def probabilities(self, values: Any) -> np.ndarray:
        """(rows, num_labels) from the model's probabilities output."""
        return np.asarray(values, dtype=np.float64)

    def tune(self, outputs: dict[str, Any], split: Any, labels: list[str], delimiter: str):
        """Decision parameters fitted on the validation outputs (None: the task has none)."""
        return None

    def evaluate(
        self,
        outputs: dict[str, Any],
        split: Any,
        labels: list[str],
        delimiter: str,
        decisions: Any = None,
    ) -> dict[str, Any]:
        """Metrics of the inference model's outputs for `split` (in the split's order):
        those of the predicted labels, then log_loss (and with ranking_metrics roc_auc and
        pr_auc) of the probabilities."""
        from seqcls.tasks.metrics import classification_metrics, probability_metrics

        true = np.array(
            [row[0] for row in self.label_indices(split, labels, delimiter)], dtype=np.int64
        )
        probabilities = self.probabilities(outputs[PROBABILITIES])
        metrics = classification_metrics(true, probabilities.argmax(axis=1), labels)
        metrics.update(probability_metrics(true, probabilities, self.ranking_metrics))
        return metrics

    # ------------------------------------------------------------ calibration

    def calibration_rows(
        self, outputs: dict[str, Any], split: Any, labels: list[str], delimiter: str
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """(probabilities, true label index) of each prediction that calibration fits and
        measures: one per text here (None: the task is not calibrated)."""
        true = np.array(
            [row[0] for row in self.label_indices(split, labels, delimiter)], dtype=np.int64
        )
        return self.probabilities(outputs[PROBABILITIES]), true

    def fit_calibration(
        self, outputs: dict[str, Any], split: Any, labels: list[str], delimiter: str
    ) -> dict[str, Any] | None:
        """A temperature fitted on these (valid) outputs, as calibration.json keeps it."""
        from seqcls.tasks.calibration import fit_temperature

        rows = self.calibration_rows(outputs, split, labels, delimiter)
        if rows is None or not len(rows[1]):
            return None
        return {"method": "temperature", "temperature": fit_temperature(*rows)}

    def calibrated(self, outputs: dict[str, Any], calibration: dict | None) -> dict[str, Any]:
        """The outputs with calibrated probabilities (unchanged without a calibration)."""
        if not calibration or not len(outputs[PROBABILITIES]):
            return outputs
        from seqcls.tasks.calibration import scaled

        probabilities = scaled(
            self.probabilities(outputs[PROBABILITIES]), calibration["temperature"]
        )
        return {**outputs, PROBABILITIES: probabilities}

    def uncalibrated_thresholds(self, thresholds: Any, calibration: dict | None) -> Any:
        """Tuned decision thresholds (set on calibrated probabilities) on the model's own
        scale, so `--uncalibrated` decides as the calibrated run does."""
        return thresholds

    def prediction_columns(self) -> list[str]:
        """The columns predict adds (before top-k and attention columns)."""
        return [PREDICTED_LABEL, PREDICTED_PROBABILITY]

    def check_prediction_options(self, top_k: int, threshold: float | None) -> None:
        """Refuse predict options that do not apply to the task."""
        from seqcls.errors import UsageError

        if threshold is not None:
            raise UsageError(
                f"--threshold applies to multilabel runs; this run's task is {self.name}"
            )

    def decide(
        self,
        outputs: dict[str, Any],
        labels: list[str],
        delimiter: str,
        decisions: Any,
        top_k: int = 0,
    ) -> list[dict[str, Any]]:
        """The predicted columns of every row: the label and its probability, and the top k."""
        scores = self.probabilities(outputs[PROBABILITIES])
        rows = []
        for row in scores:
            best = int(row.argmax())
            result = {
                PREDICTED_LABEL: labels[best],
                PREDICTED_PROBABILITY: round(float(row[best]), 6),
            }
            result.update(top_labels(row, labels, top_k))
            rows.append(result)
        return rows

    # ------------------------------------------------------------------ report

    def mistakes_note(self) -> str | None:
        """Why the report lists no confidently wrong predictions (None: it lists them)."""
        return None


def top_labels(scores: np.ndarray, labels: list[str], top_k: int) -> dict[str, Any]:
    """top1_label, top1_probability, ... for the k most probable labels."""
    result: dict[str, Any] = {}
    for rank, index in enumerate(np.argsort(-scores, kind="stable")[:top_k], 1):
        result[f"top{rank}_label"] = labels[int(index)]
        result[f"top{rank}_probability"] = round(float(scores[index]), 6)
    return result


def data_error(split: Any, row: int, message: str) -> DataError:
    """A DataError naming the split's file and the row's line."""
    return DataError(f"{split.where(row)}: {message}")
