"""Abstention: below a confidence threshold a prediction becomes the unknown label.

The confidence of a prediction is its (calibrated) top probability. Accepting the rows
whose confidence is at or above a threshold trades coverage (the share accepted) for
precision (the share of accepted rows that are right). `choose_threshold` picks, on
valid, the lowest threshold whose accepted rows are at least `target` precise;
`risk_coverage` summarises the whole trade-off (the risk-coverage curve and the area
under it, AURC: lower is better). Pure NumPy.
"""

from __future__ import annotations

from typing import Any

import numpy as np

# Points of the risk-coverage curve kept in metrics.json.
CURVE_POINTS = 20


def _ranked(confidence: np.ndarray, correct: np.ndarray) -> tuple[np.ndarray, np.ndarray, Any]:
    """Confidences sorted high to low, the precision of accepting the top k rows for each
    k, and the k at which a threshold can cut (after the last of equal confidences)."""
    order = np.argsort(-np.asarray(confidence, dtype=np.float64), kind="stable")
    ranked = np.asarray(confidence, dtype=np.float64)[order]
    hits = np.cumsum(np.asarray(correct, dtype=np.float64)[order])
    precision = hits / np.arange(1, len(ranked) + 1)
    cuts = np.flatnonzero(np.r_[ranked[1:] < ranked[:-1], True]) + 1
    return ranked, precision, cuts


def choose_threshold(confidence: np.ndarray, correct: np.ndarray, target: float) -> dict[str, Any]:
    """The lowest threshold whose accepted rows (confidence >= threshold) are at least
    `target` precise, with the coverage and precision it gives. When no threshold reaches
    the target, the most precise one (`reached` false)."""
    ranked, precision, cuts = _ranked(confidence, correct)
    rows = len(ranked)
    if not rows:
        raise ValueError("no rows to choose a threshold on")
    meeting = [k for k in cuts if precision[k - 1] >= target]
    if meeting:
        k = max(meeting)
    else:
        best = max(precision[k - 1] for k in cuts)
        k = max(k for k in cuts if precision[k - 1] == best)
    return {
        "threshold": float(ranked[k - 1]),
        "target_precision": float(target),
        "reached": bool(precision[k - 1] >= target),
        "coverage": k / rows,
        "precision": float(precision[k - 1]),
        "rows": rows,
    }


def risk_coverage(confidence: np.ndarray, correct: np.ndarray) -> dict[str, Any]:
    """AURC (the mean, over k, of the error rate of the k most confident rows) and the
    curve at CURVE_POINTS coverages."""
    ranked, precision, _ = _ranked(confidence, correct)
    rows = len(ranked)
    if not rows:
        return {"aurc": None, "curve": []}
    risk = 1.0 - precision
    points = np.unique(np.linspace(1, rows, min(CURVE_POINTS, rows)).round().astype(int))
    return {
        "aurc": float(risk.mean()),
        "curve": [{"coverage": k / rows, "risk": float(risk[k - 1])} for k in points],
    }


def at_threshold(confidence: np.ndarray, correct: np.ndarray, threshold: float) -> dict:
    """Coverage and accuracy of the accepted rows at a threshold."""
    confidence = np.asarray(confidence, dtype=np.float64)
    accepted = confidence >= threshold
    count = int(accepted.sum())
    return {
        "threshold": float(threshold),
        "coverage": count / len(confidence) if len(confidence) else 0.0,
        "accuracy_accepted": float(np.asarray(correct)[accepted].mean()) if count else None,
    }


def confidence_rows(task: Any, outputs: dict, split: Any, labels: list[str], delimiter: str):
    """(confidence, correct) of each row of a single-label task: its top probability and
    whether the top label is the true one."""
    probabilities, true = task.calibration_rows(outputs, split, labels, delimiter)
    return probabilities.max(axis=1), probabilities.argmax(axis=1) == true


def abstention_report(
    task: Any,
    outputs: dict,
    split: Any,
    labels: list[str],
    delimiter: str,
    chosen: dict | None,
) -> dict[str, Any] | None:
    """The risk-coverage summary of a split, and coverage and accuracy at the run's
    threshold (`chosen`, from valid) when it has one. None for a task that does not
    abstain."""
    if not task.abstains or not len(split):
        return None
    confidence, correct = confidence_rows(task, outputs, split, labels, delimiter)
    report = {"score": "calibrated top probability", **risk_coverage(confidence, correct)}
    if chosen is not None:
        report["at_threshold"] = at_threshold(confidence, correct, chosen["threshold"])
    return report


def out_of_scope_report(
    task: Any,
    outputs: dict,
    split: Any,
    outside: dict,
    labels: list[str],
    delimiter: str,
    chosen: dict | None,
) -> dict[str, Any]:
    """How well the confidence tells in-scope rows (`outputs` of `split`) from
    out-of-scope ones (`outside`: the outputs of the texts labelled
    data.out_of_scope_label): AUROC of each confidence score (in scope is the positive
    class), and at the run's threshold the in-scope accuracy (an abstention on an
    in-scope row counts as wrong), out-of-scope recall (the share abstained on) and
    precision (the share of abstentions that are out of scope)."""
    from seqcls.modeling.outputs import PROBABILITIES
    from seqcls.tasks.metrics import roc_auc

    confidence, correct = confidence_rows(task, outputs, split, labels, delimiter)
    inside_probabilities, _ = task.calibration_rows(outputs, split, labels, delimiter)
    outside_probabilities = task.probabilities(outside[PROBABILITIES])
    positive = np.r_[np.ones(len(confidence), bool), np.zeros(len(outside_probabilities), bool)]
    report: dict[str, Any] = {"rows": len(outside_probabilities), "in_scope_rows": len(correct)}
    report["auroc"] = {
        name: roc_auc(positive, np.r_[score(inside_probabilities), score(outside_probabilities)])
        for name, score in SCORES.items()
    }
    if chosen is not None:
        threshold = chosen["threshold"]
        kept = confidence >= threshold
        caught = outside_probabilities.max(axis=1) < threshold
        abstentions = int((~kept).sum() + caught.sum())
        report.update(
            threshold=threshold,
            in_scope_accuracy=float((correct & kept).mean()),
            in_scope_accuracy_never_abstaining=float(correct.mean()),
            out_of_scope_recall=float(caught.mean()) if len(caught) else None,
            out_of_scope_precision=float(caught.sum() / abstentions) if abstentions else None,
        )
    return report


def _margin(probabilities: np.ndarray) -> np.ndarray:
    if probabilities.shape[1] < 2:
        return probabilities[:, 0]
    top = np.sort(probabilities, axis=1)
    return top[:, -1] - top[:, -2]


# The confidence scores reported (higher: more likely in scope). The energy score needs
# the logits, which the saved model's output (its probabilities) does not give;
# benchmarks/out_of_scope.py recovers them from the output layer to compare it.
SCORES = {
    "top_probability": lambda probabilities: probabilities.max(axis=1),
    "margin": _margin,
}
