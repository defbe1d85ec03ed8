"""Calibrated probabilities: temperature scaling fitted on valid, and the measures of
calibration (expected calibration error, Brier score, negative log-likelihood).

Temperature scaling divides the logits by one scalar T before the softmax: the predicted
label does not change, only how sure the model says it is. The model's outputs are
probabilities, so the logits are their logarithms (up to a constant per row, which the
softmax ignores). T is the one that minimises the negative log-likelihood of the valid
labels (with a weak prior, see fit_temperature) in a bounded one-dimensional search. Pure
NumPy; nothing here reads a split other than the rows it is given.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

# Probabilities are clipped to this before a logarithm.
EPSILON = 1e-12
# Equal-width confidence bins of the expected calibration error and the diagram.
ECE_BINS = 15
# The search for T: log T within these bounds, to this precision.
LOG_T_BOUNDS = (math.log(0.05), math.log(20.0))
SEARCH_STEPS = 80
# The prior's spread on log T: T within [e^-2, e^2] carries most of its weight.
PRIOR_SD = 1.0


def scaled(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(log p / T) row by row."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if not probabilities.size:
        return probabilities
    logits = np.log(np.clip(probabilities, EPSILON, 1.0)) / temperature
    logits -= logits.max(axis=-1, keepdims=True)
    exp = np.exp(logits)
    return exp / exp.sum(axis=-1, keepdims=True)


def nll(probabilities: np.ndarray, true: np.ndarray) -> float:
    """Mean negative log-likelihood of the true labels (natural log)."""
    picked = np.asarray(probabilities, dtype=np.float64)[np.arange(len(true)), true]
    return float(-np.mean(np.log(np.clip(picked, EPSILON, 1.0))))


def brier(probabilities: np.ndarray, true: np.ndarray) -> float:
    """Mean over rows of the squared distance between the probabilities and the one-hot
    truth, summed over labels (0: certain and right; 2: certain and wrong)."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    onehot = np.zeros_like(probabilities)
    onehot[np.arange(len(true)), true] = 1.0
    return float(np.mean(np.sum((probabilities - onehot) ** 2, axis=1)))


def reliability(
    probabilities: np.ndarray, true: np.ndarray, bins: int = ECE_BINS
) -> list[dict[str, float]]:
    """Per confidence bin (equal width over [0, 1]; the top bin includes 1.0): how many
    rows predict with a confidence in it, their mean confidence and their accuracy."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == true
    which = np.minimum((confidence * bins).astype(np.int64), bins - 1)
    result = []
    for index in range(bins):
        members = which == index
        count = int(members.sum())
        result.append(
            {
                "low": index / bins,
                "high": (index + 1) / bins,
                "count": count,
                "confidence": float(confidence[members].mean()) if count else 0.0,
                "accuracy": float(correct[members].mean()) if count else 0.0,
            }
        )
    return result


def ece(probabilities: np.ndarray, true: np.ndarray, bins: int = ECE_BINS) -> float:
    """Expected calibration error: the gap between accuracy and mean confidence in each
    equal-width confidence bin, weighted by the bin's share of rows."""
    rows = len(true)
    return float(
        sum(
            b["count"] / rows * abs(b["accuracy"] - b["confidence"])
            for b in reliability(probabilities, true, bins)
        )
    )


def measures(probabilities: np.ndarray, true: np.ndarray, bins: int = ECE_BINS) -> dict:
    """ECE, Brier score and NLL of one set of probabilities."""
    return {
        "ece": ece(probabilities, true, bins),
        "brier": brier(probabilities, true),
        "nll": nll(probabilities, true),
    }


def at_bound(temperature: float) -> bool:
    """Whether a fitted T sits at the edge of the search (within 1%)."""
    low, high = (math.exp(bound) for bound in LOG_T_BOUNDS)
    return temperature <= low * 1.01 or temperature >= high / 1.01


def fit_temperature(probabilities: np.ndarray, true: np.ndarray) -> float:
    """The T within [0.05, 20] that minimises the NLL of softmax(log p / T) on these rows,
    with a weak log-normal prior on T (log T ~ N(0, PRIOR_SD^2)): negligible on a few
    hundred rows, it keeps T finite when valid is small or every row is right (then the
    NLL alone falls without end as T shrinks, and the probabilities would all become
    1). Golden-section search on log T; the loss is unimodal there."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    true = np.asarray(true, dtype=np.int64)
    prior = 1.0 / (2.0 * PRIOR_SD**2 * max(len(true), 1))

    def loss(log_t: float) -> float:
        return nll(scaled(probabilities, math.exp(log_t)), true) + prior * log_t**2

    ratio = (math.sqrt(5.0) - 1.0) / 2.0
    low, high = LOG_T_BOUNDS
    a, b = high - ratio * (high - low), low + ratio * (high - low)
    loss_a, loss_b = loss(a), loss(b)
    for _ in range(SEARCH_STEPS):
        if loss_a <= loss_b:
            high, b, loss_b = b, a, loss_a
            a = high - ratio * (high - low)
            loss_a = loss(a)
        else:
            low, a, loss_a = a, b, loss_b
            b = low + ratio * (high - low)
            loss_b = loss(b)
    return math.exp((low + high) / 2.0)


def calibration_report(
    task: Any,
    raw: dict[str, Any],
    calibrated: dict[str, Any],
    split: Any,
    labels: list[str],
    delimiter: str,
    calibration: dict | None,
) -> dict[str, Any] | None:
    """How calibrated a split's probabilities are before and after the run's calibration:
    ECE (with its bin count), Brier score and NLL, and the reliability bins of each (for
    the diagram). None when the run has no calibration."""
    before = task.calibration_rows(raw, split, labels, delimiter)
    if calibration is None or before is None or not len(before[1]):
        return None
    after = task.calibration_rows(calibrated, split, labels, delimiter)
    return {
        "method": calibration["method"],
        "ece_bins": ECE_BINS,
        "predictions": int(len(before[1])),
        "before": measures(*before),
        "after": measures(*after),
        "reliability": {"before": reliability(*before), "after": reliability(*after)},
    }
