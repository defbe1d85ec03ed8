"""Classification metrics computed from label indices with NumPy alone.

accuracy; macro, micro and weighted F1; per-class precision/recall/F1/support;
the confusion matrix (rows: true label, columns: predicted label).
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _safe_divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    # Undefined ratios (no predictions or no support for a class) count as 0,
    # the same convention as scikit-learn's zero_division=0.
    return np.divide(
        numerator, denominator, out=np.zeros_like(numerator, dtype=float), where=denominator > 0
    )


def per_class_report(labels, precision, recall, f1, support) -> dict[str, dict[str, Any]]:
    return {
        label: {
            "precision": float(precision[i]),
            "recall": float(recall[i]),
            "f1": float(f1[i]),
            "support": int(support[i]),
        }
        for i, label in enumerate(labels)
    }


def precision_recall_f1(true_positive, predicted_count, support):
    """Per-class precision, recall and F1 from counts (undefined ratios count as 0)."""
    precision = _safe_divide(true_positive, predicted_count)
    recall = _safe_divide(true_positive, support)
    return precision, recall, _safe_divide(2 * precision * recall, precision + recall)


def confusion_matrix(true: np.ndarray, predicted: np.ndarray, num_classes: int) -> np.ndarray:
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (true, predicted), 1)
    return matrix


def classification_metrics(
    true: np.ndarray, predicted: np.ndarray, labels: list[str]
) -> dict[str, Any]:
    true = np.asarray(true, dtype=np.int64)
    predicted = np.asarray(predicted, dtype=np.int64)
    matrix = confusion_matrix(true, predicted, len(labels))
    true_positives = np.diag(matrix).astype(float)
    support = matrix.sum(axis=1).astype(float)
    predicted_counts = matrix.sum(axis=0).astype(float)
    precision, recall, f1 = precision_recall_f1(true_positives, predicted_counts, support)
    total = float(support.sum())
    # Macro averages over the labels present in the data or the predictions,
    # so a label absent from a small eval file does not drag the score to 0.
    present = (support > 0) | (predicted_counts > 0)
    micro_precision = true_positives.sum() / max(predicted_counts.sum(), 1.0)
    micro_recall = true_positives.sum() / max(total, 1.0)
    micro_f1 = (
        2 * micro_precision * micro_recall / (micro_precision + micro_recall)
        if micro_precision + micro_recall > 0
        else 0.0
    )
    return {
        "rows": int(total),
        "accuracy": float(true_positives.sum() / max(total, 1.0)),
        "macro_precision": float(precision[present].mean()) if present.any() else 0.0,
        "macro_recall": float(recall[present].mean()) if present.any() else 0.0,
        "macro_f1": float(f1[present].mean()) if present.any() else 0.0,
        "micro_f1": float(micro_f1),
        "weighted_f1": float((f1 * support).sum() / max(total, 1.0)),
        "per_class": per_class_report(labels, precision, recall, f1, support),
        "labels": list(labels),
        "confusion_matrix": matrix.tolist(),
    }


HEADLINE = ("accuracy", "macro_f1", "weighted_f1", "micro_f1")
