"""Classification metrics computed from label indices with NumPy alone.

accuracy; macro, micro and weighted F1; per-class precision/recall/F1/support;
the confusion matrix (rows: true label, columns: predicted label). From probabilities:
log-loss, and for a binary task ROC-AUC and PR-AUC (average precision) with their curves,
computed the way scikit-learn computes them (tied scores form one threshold), which is
a test dependency only.
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


# ----------------------------------------------------- scores from probabilities

# Probabilities are clipped to [LOG_LOSS_EPS, 1 - LOG_LOSS_EPS] before the log, so one
# confident mistake (a probability of exactly 0) gives a large, finite log-loss.
LOG_LOSS_EPS = 1e-15
# What the probabilities of single-label tasks add to the metrics (binary: all three).
PROBABILITY_METRICS = ("roc_auc", "pr_auc", "log_loss")


def log_loss(true: np.ndarray, probabilities: np.ndarray) -> float:
    """Mean negative log-probability of each row's true label (natural log), with the
    probabilities clipped (LOG_LOSS_EPS): scikit-learn's log_loss for rows that sum to 1."""
    true = np.asarray(true, dtype=np.int64)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if not len(true):
        return 0.0
    chosen = probabilities[np.arange(len(true)), true]
    return float(-np.log(np.clip(chosen, LOG_LOSS_EPS, 1.0 - LOG_LOSS_EPS)).mean())


def _ranked_counts(positive: np.ndarray, scores: np.ndarray):
    """True and false positives at each distinct score, highest score first (every row
    scoring at least that much counts as predicted positive): tied scores form one
    threshold, as in scikit-learn's curves."""
    positive = np.asarray(positive, dtype=bool)
    scores = np.asarray(scores, dtype=np.float64)
    order = np.argsort(-scores, kind="mergesort")
    scores, positive = scores[order], positive[order]
    last_of_each_score = np.r_[np.flatnonzero(np.diff(scores)), len(scores) - 1]
    true_positives = np.cumsum(positive)[last_of_each_score].astype(np.float64)
    false_positives = last_of_each_score + 1 - true_positives
    return true_positives, false_positives, scores[last_of_each_score]


def roc_curve(positive: np.ndarray, scores: np.ndarray):
    """(false positive rate, true positive rate, thresholds), starting at (0, 0); None
    when the rows hold only one class (the curve is undefined)."""
    true_positives, false_positives, thresholds = _ranked_counts(positive, scores)
    if not len(thresholds) or true_positives[-1] == 0 or false_positives[-1] == 0:
        return None
    tpr = np.r_[0.0, true_positives / true_positives[-1]]
    fpr = np.r_[0.0, false_positives / false_positives[-1]]
    return fpr, tpr, np.r_[np.inf, thresholds]


def roc_auc(positive: np.ndarray, scores: np.ndarray) -> float | None:
    """Area under the ROC curve (trapezoids; a tie between a positive and a negative
    counts one half), like scikit-learn's roc_auc_score; None with one class only."""
    curve = roc_curve(positive, scores)
    if curve is None:
        return None
    fpr, tpr, _ = curve
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2.0))


def precision_recall_curve(positive: np.ndarray, scores: np.ndarray):
    """(recall, precision) from the highest threshold down, starting at recall 0 and
    precision 1; None when no row is positive."""
    true_positives, false_positives, _ = _ranked_counts(positive, scores)
    if not len(true_positives) or true_positives[-1] == 0:
        return None
    precision = true_positives / (true_positives + false_positives)
    recall = true_positives / true_positives[-1]
    return np.r_[0.0, recall], np.r_[1.0, precision]


def average_precision(positive: np.ndarray, scores: np.ndarray) -> float | None:
    """PR-AUC as average precision: the precision at each threshold weighted by the recall
    it adds (no interpolation), like scikit-learn's average_precision_score; None when no
    row is positive."""
    curve = precision_recall_curve(positive, scores)
    if curve is None:
        return None
    recall, precision = curve
    return float(np.sum(np.diff(recall) * precision[1:]))


def probability_metrics(
    true: np.ndarray, probabilities: np.ndarray, ranking: bool = False
) -> dict[str, Any]:
    """log_loss of a single-label task's probabilities; with `ranking` (two columns: a
    binary task) also roc_auc and pr_auc of the second label, the positive one. A score
    the rows leave undefined (one class only) is None."""
    true = np.asarray(true, dtype=np.int64)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    result: dict[str, Any] = {}
    if ranking:
        positive, scores = true == 1, probabilities[:, 1]
        result["roc_auc"] = roc_auc(positive, scores)
        result["pr_auc"] = average_precision(positive, scores)
    result["log_loss"] = log_loss(true, probabilities)
    return result
