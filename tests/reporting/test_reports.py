import csv

import numpy as np

from seqcls.reporting.tables import confused_pairs, per_class_rows, write_reports
from seqcls.tasks.metrics import classification_metrics


def metrics_example():
    true = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2])
    predicted = np.array([0, 0, 1, 1, 1, 1, 1, 2, 0])
    return classification_metrics(true, predicted, ["a", "b", "c"])


def test_reports_per_class_rows_worst_first():
    rows = per_class_rows(metrics_example())
    assert [row["label"] for row in rows] == ["c", "b", "a"]
    assert rows[0]["f1"] <= rows[1]["f1"] <= rows[2]["f1"]


def test_reports_most_confused_pairs():
    assert confused_pairs(metrics_example(), most=2) == [("c", "b", 2), ("a", "b", 1)]


def test_reports_csv_files(tmp_path):
    metrics = {"task": "multiclass", "valid": metrics_example(), "test": metrics_example()}
    assert write_reports(tmp_path, metrics) == ["per_class.csv", "confusion_matrix.csv"]
    rows = list(csv.DictReader(open(tmp_path / "per_class.csv")))
    assert len(rows) == 6 and rows[0]["split"] == "valid" and rows[0]["label"] == "c"
    matrix = list(csv.reader(open(tmp_path / "confusion_matrix.csv")))
    assert matrix[0] == ["true \\ predicted", "a", "b", "c"]
    assert matrix[3] == ["c", "1", "2", "1"]
