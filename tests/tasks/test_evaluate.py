import numpy as np
import pytest

from seqcls.tasks.metrics import classification_metrics

sklearn_metrics = pytest.importorskip("sklearn.metrics")


def test_evaluate_metrics_match_scikit_learn():
    generator = np.random.default_rng(0)
    true = generator.integers(0, 5, size=300)
    predicted = np.where(generator.random(300) < 0.6, true, generator.integers(0, 5, size=300))
    labels = ["a", "b", "c", "d", "e"]
    metrics = classification_metrics(true, predicted, labels)
    assert metrics["accuracy"] == pytest.approx(sklearn_metrics.accuracy_score(true, predicted))
    for average in ("macro", "micro", "weighted"):
        expected = sklearn_metrics.f1_score(true, predicted, average=average, zero_division=0)
        assert metrics[f"{average}_f1"] == pytest.approx(expected)
    precision, recall, f1, support = sklearn_metrics.precision_recall_fscore_support(
        true, predicted, zero_division=0
    )
    for index, label in enumerate(labels):
        assert metrics["per_class"][label]["precision"] == pytest.approx(precision[index])
        assert metrics["per_class"][label]["recall"] == pytest.approx(recall[index])
        assert metrics["per_class"][label]["f1"] == pytest.approx(f1[index])
        assert metrics["per_class"][label]["support"] == support[index]
    assert metrics["confusion_matrix"] == sklearn_metrics.confusion_matrix(true, predicted).tolist()


def test_evaluate_macro_ignores_labels_absent_from_data_and_predictions():
    # Label "c" never occurs: like scikit-learn, it does not drag macro-F1 down.
    metrics = classification_metrics(np.array([0, 1, 1]), np.array([0, 1, 0]), ["a", "b", "c"])
    expected = sklearn_metrics.f1_score([0, 1, 1], [0, 1, 0], average="macro")
    assert metrics["macro_f1"] == pytest.approx(expected)
    assert metrics["per_class"]["c"]["support"] == 0
