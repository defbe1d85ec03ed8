"""Multilabel: any number of labels per text; one sigmoid per label, and a decision
threshold per label tuned on the validation split to maximise that label's F1."""

from __future__ import annotations

from typing import Any

import numpy as np

from seqcls.modeling.outputs import PROBABILITIES
from seqcls.tasks.base import Task, top_labels
from seqcls.tasks.classification import sigmoid_correct_per_row
from seqcls.tasks.metrics import per_class_report, precision_recall_f1

DEFAULT_THRESHOLD = 0.5
PREDICTED_LABELS = "predicted_labels"


class Multilabel(Task):
    name = "multilabel"
    one_label_per_cell = False
    abstains = False
    blends_linear = False
    activation = "sigmoid"
    loss = "binary_crossentropy"
    supports_class_weight = False
    tuned_thresholds = True

    def parse_labels(self, raw: str, delimiter: str = "|") -> list[str]:
        return [label.strip() for label in raw.split(delimiter) if label.strip()]

    def targets(self, split: Any, labels: list[str], delimiter: str) -> np.ndarray:
        targets = np.zeros((len(split), len(labels)), dtype=np.float32)
        for row, columns in enumerate(self.label_indices(split, labels, delimiter)):
            targets[row, columns] = 1.0
        return targets

    def target_shape(self, num_labels: int) -> tuple[int, ...]:
        return (num_labels,)

    def target_dtype(self) -> str:
        return "float32"

    def encode_target(self, raw: str, index: dict[str, int], delimiter: str) -> np.ndarray:
        vector = np.zeros(len(index), dtype=np.float32)
        vector[[index[label] for label in self.parse_labels(raw, delimiter)]] = 1
        return vector

    def loss_object(self, label_smoothing: float = 0.0, reduction: Any = None) -> Any:
        import keras

        # Smoothing moves each 0/1 target towards 0.5 by label_smoothing / 2.
        return keras.losses.BinaryCrossentropy(label_smoothing=label_smoothing, reduction=reduction)

    def correct_per_row(self, probabilities: Any, targets: Any) -> Any:
        return sigmoid_correct_per_row(probabilities, targets)

    def tune(self, outputs: dict[str, Any], split: Any, labels: list[str], delimiter: str):
        """Per label, the threshold with the best F1 on the (validation) outputs."""
        probabilities = self.probabilities(outputs[PROBABILITIES])
        return tune_thresholds(probabilities, self.targets(split, labels, delimiter))

    def calibration_rows(self, outputs, split, labels, delimiter):
        """Each (text, label) decision as a two-column probability and whether the label
        applies: the calibration measures of all the labels' sigmoids together."""
        positive = self.probabilities(outputs[PROBABILITIES]).reshape(-1)
        truth = self.targets(split, labels, delimiter).reshape(-1).astype(np.int64)
        return np.stack([1.0 - positive, positive], axis=1), truth

    def fit_calibration(self, outputs, split, labels, delimiter):
        """One temperature per label (its sigmoid's logit divided by it), each fitted on
        that label's valid decisions."""
        from seqcls.tasks.calibration import fit_temperature

        probabilities = self.probabilities(outputs[PROBABILITIES])
        truth = self.targets(split, labels, delimiter).astype(np.int64)
        if not len(truth):
            return None
        temperatures = [
            fit_temperature(np.stack([1.0 - column, column], axis=1), truth[:, index])
            for index, column in enumerate(probabilities.T)
        ]
        return {"method": "temperature per label", "temperatures": dict(zip(labels, temperatures))}

    def calibrated(self, outputs, calibration):
        if not calibration or not len(outputs[PROBABILITIES]):
            return outputs
        probabilities = np.clip(self.probabilities(outputs[PROBABILITIES]), 1e-12, 1 - 1e-12)
        temperatures = np.asarray(list(calibration["temperatures"].values()), dtype=np.float64)
        logits = np.log(probabilities) - np.log1p(-probabilities)
        return {**outputs, PROBABILITIES: 1.0 / (1.0 + np.exp(-logits / temperatures))}

    def uncalibrated_thresholds(self, thresholds, calibration):
        """Each label's threshold t (on sigmoid(logit(p) / T)) as sigmoid(T * logit(t)):
        the same decisions on the model's own probabilities."""
        if not calibration:
            return thresholds
        cut = np.clip(np.asarray(thresholds, dtype=np.float64), 1e-12, 1 - 1e-12)
        temperatures = np.asarray(list(calibration["temperatures"].values()), dtype=np.float64)
        logits = np.log(cut) - np.log1p(-cut)
        return 1.0 / (1.0 + np.exp(-logits * temperatures))

    def evaluate(self, outputs, split, labels, delimiter, decisions=None) -> dict[str, Any]:
        truth = self.targets(split, labels, delimiter)
        cut = np.asarray(decisions if decisions is not None else [DEFAULT_THRESHOLD] * len(labels))
        probabilities = self.probabilities(outputs[PROBABILITIES])
        metrics = multilabel_metrics(truth, probabilities >= cut, labels)
        metrics["thresholds"] = dict(zip(labels, map(float, cut)))
        return metrics

    def prediction_columns(self) -> list[str]:
        return [PREDICTED_LABELS]

    def check_prediction_options(self, top_k: int, threshold: float | None) -> None:
        pass  # --threshold replaces the tuned thresholds

    def decide(self, outputs, labels, delimiter, decisions, top_k=0) -> list[dict[str, Any]]:
        """Every label at or above its threshold, joined by the run's delimiter."""
        rows = []
        for scores in self.probabilities(outputs[PROBABILITIES]):
            chosen = [label for label, p, t in zip(labels, scores, decisions) if p >= t]
            rows.append(
                {PREDICTED_LABELS: delimiter.join(chosen), **top_labels(scores, labels, top_k)}
            )
        return rows

    def mistakes_note(self) -> str | None:
        return "Multilabel runs have no single predicted label to be confidently wrong about."


def tune_thresholds(probabilities: np.ndarray, truth: np.ndarray) -> list[float]:
    """Per label, the threshold that maximises F1 on (validation) data.

    Candidates are the midpoints between consecutive distinct predicted
    probabilities; a label with no positive example keeps 0.5.
    """
    thresholds = []
    for column in range(truth.shape[1]):
        scores, positives = probabilities[:, column], truth[:, column] > 0
        if not positives.any():
            thresholds.append(DEFAULT_THRESHOLD)
            continue
        distinct = np.unique(scores)
        candidates = np.concatenate([[distinct[0] / 2], (distinct[:-1] + distinct[1:]) / 2])
        best_f1, best = -1.0, DEFAULT_THRESHOLD
        for threshold in candidates:
            predicted = scores >= threshold
            true_positive = np.sum(predicted & positives)
            f1 = 2 * true_positive / max(predicted.sum() + positives.sum(), 1)
            if f1 > best_f1:
                best_f1, best = f1, float(threshold)
        thresholds.append(best)
    return thresholds


def multilabel_metrics(
    truth: np.ndarray, predicted: np.ndarray, labels: list[str]
) -> dict[str, Any]:
    truth, predicted = truth.astype(bool), predicted.astype(bool)
    true_positive = (truth & predicted).sum(axis=0).astype(float)
    predicted_count = predicted.sum(axis=0).astype(float)
    support = truth.sum(axis=0).astype(float)
    precision, recall, f1 = precision_recall_f1(true_positive, predicted_count, support)
    present = (support > 0) | (predicted_count > 0)
    micro_denominator = predicted_count.sum() + support.sum()
    return {
        "rows": int(len(truth)),
        # Exact match: every label of the row right (scikit-learn's subset accuracy).
        "accuracy": float(np.mean(np.all(truth == predicted, axis=1))) if len(truth) else 0.0,
        "hamming_loss": float(np.mean(truth != predicted)) if truth.size else 0.0,
        "micro_f1": float(2 * true_positive.sum() / micro_denominator)
        if micro_denominator
        else 0.0,
        "macro_f1": float(f1[present].mean()) if present.any() else 0.0,
        "weighted_f1": float((f1 * support).sum() / max(support.sum(), 1.0)),
        "per_class": per_class_report(labels, precision, recall, f1, support),
        "labels": list(labels),
    }
