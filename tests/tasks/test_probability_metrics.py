"""ROC-AUC, PR-AUC (average precision) and log-loss from NumPy alone, checked against
scikit-learn (a test dependency only), ties included."""

import numpy as np
import pytest

from seqcls.tasks import get_task
from seqcls.tasks import metrics as task_metrics
from seqcls.tasks.metrics import average_precision, log_loss, roc_auc

sklearn_metrics = pytest.importorskip("sklearn.metrics")


def random_scores(seed: int, rows: int, distinct: int | None):
    generator = np.random.default_rng(seed)
    positive = generator.random(rows) < 0.4
    scores = np.clip(positive * 0.3 + generator.random(rows) * 0.7, 0.0, 1.0)
    if distinct is not None:  # few distinct values: many ties, across both classes
        scores = np.round(scores * distinct) / distinct
    return positive, scores


@pytest.mark.parametrize("distinct", [None, 3, 10, 1])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_metrics_roc_auc_and_average_precision_match_scikit_learn_with_ties(seed, distinct):
    positive, scores = random_scores(seed, 200, distinct)
    assert roc_auc(positive, scores) == pytest.approx(
        sklearn_metrics.roc_auc_score(positive, scores), abs=1e-12
    )
    assert average_precision(positive, scores) == pytest.approx(
        sklearn_metrics.average_precision_score(positive, scores), abs=1e-12
    )


def test_metrics_curves_match_scikit_learn_points():
    positive, scores = random_scores(3, 60, 6)
    fpr, tpr, _ = task_metrics.roc_curve(positive, scores)
    expected_fpr, expected_tpr, _ = sklearn_metrics.roc_curve(
        positive, scores, drop_intermediate=False
    )
    np.testing.assert_allclose(fpr, expected_fpr)
    np.testing.assert_allclose(tpr, expected_tpr)
    recall, precision = task_metrics.precision_recall_curve(positive, scores)
    expected_precision, expected_recall, _ = sklearn_metrics.precision_recall_curve(
        positive, scores, drop_intermediate=False
    )
    # scikit-learn lists them from the lowest threshold up.
    np.testing.assert_allclose(recall, expected_recall[::-1])
    np.testing.assert_allclose(precision, expected_precision[::-1])


def test_metrics_ranking_scores_are_none_when_one_class_is_missing():
    assert roc_auc(np.array([True, True]), np.array([0.2, 0.9])) is None
    assert roc_auc(np.array([False, False]), np.array([0.2, 0.9])) is None
    assert average_precision(np.array([False, False]), np.array([0.2, 0.9])) is None
    assert average_precision(np.array([True, False]), np.array([0.9, 0.2])) == 1.0


def test_metrics_log_loss_matches_scikit_learn_and_clips():
    generator = np.random.default_rng(4)
    probabilities = generator.dirichlet(np.ones(4), size=100)
    true = generator.integers(0, 4, size=100)
    assert log_loss(true, probabilities) == pytest.approx(
        sklearn_metrics.log_loss(true, probabilities, labels=[0, 1, 2, 3]), rel=1e-9
    )
    # A probability of exactly 0 for the true label: clipped, large and finite.
    clipped = log_loss(np.array([0, 1]), np.array([[0.0, 1.0], [0.0, 1.0]]))
    assert np.isfinite(clipped)
    assert clipped == pytest.approx(-np.log(task_metrics.LOG_LOSS_EPS) / 2, rel=1e-3)


class Split:
    def __init__(self, labels):
        self.labels = labels


def test_metrics_binary_task_adds_auc_and_log_loss_multiclass_adds_log_loss():
    labels = ["neg", "pos"]
    raw = ["neg", "pos", "pos", "neg", "pos", "neg"]
    sigmoid = np.array([[0.1], [0.8], [0.4], [0.4], [0.9], [0.7]], dtype=np.float32)
    result = get_task("binary").evaluate({"probabilities": sigmoid}, Split(raw), labels, "|")
    positive = np.array([label == "pos" for label in raw])
    scores = sigmoid[:, 0].astype(np.float64)
    assert result["roc_auc"] == pytest.approx(sklearn_metrics.roc_auc_score(positive, scores))
    assert result["pr_auc"] == pytest.approx(
        sklearn_metrics.average_precision_score(positive, scores)
    )
    assert result["log_loss"] == pytest.approx(sklearn_metrics.log_loss(positive, scores))
    assert result["accuracy"] == pytest.approx(4 / 6)

    softmax = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.3, 0.3, 0.4]])
    result = get_task("multiclass").evaluate(
        {"probabilities": softmax}, Split(["a", "b", "a"]), ["a", "b", "c"], "|"
    )
    assert result["log_loss"] == pytest.approx(
        sklearn_metrics.log_loss([0, 1, 0], softmax, labels=[0, 1, 2])
    )
    assert "roc_auc" not in result and "pr_auc" not in result
