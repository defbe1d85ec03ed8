"""Readable views of metrics: per-class rows sorted worst first, the most confused label
pairs, and their CSV files in the run directory. No TensorFlow here."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from seqcls.run import artifacts


def per_class_rows(metrics: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per label, worst F1 first (ties: more support first, then the label)."""
    rows = [{"label": label, **values} for label, values in metrics["per_class"].items()]
    return sorted(rows, key=lambda row: (row["f1"], -row["support"], row["label"]))


def confused_pairs(metrics: dict[str, Any], most: int = 5) -> list[tuple[str, str, int]]:
    """(true label, predicted label, count) for the largest off-diagonal confusion cells."""
    matrix = metrics.get("confusion_matrix")
    if not matrix:
        return []
    labels = metrics["labels"]
    cells = [
        (labels[i], labels[j], count)
        for i, row in enumerate(matrix)
        for j, count in enumerate(row)
        if i != j and count > 0
    ]
    return sorted(cells, key=lambda cell: (-cell[2], cell[0], cell[1]))[:most]


def _csv(header: list[str], rows: list[list[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def write_reports(run_dir: Path, metrics: dict[str, Any]) -> list[str]:
    """per_class.csv (every split) and confusion_matrix.csv (test, else valid); return names."""
    splits = {
        name: values
        for name, values in metrics.items()
        if isinstance(values, dict) and "per_class" in values
    }
    if not splits:
        return []
    rows = [
        [name, row["label"], row["precision"], row["recall"], row["f1"], row["support"]]
        for name, values in splits.items()
        for row in per_class_rows(values)
    ]
    header = ["split", "label", "precision", "recall", "f1", "support"]
    artifacts.write_text(run_dir / artifacts.PER_CLASS_FILE, _csv(header, rows))
    written = [artifacts.PER_CLASS_FILE]
    chosen = splits.get("test") or splits.get("valid")
    if chosen and chosen.get("confusion_matrix"):
        labels = chosen["labels"]
        matrix = [[label, *row] for label, row in zip(labels, chosen["confusion_matrix"])]
        artifacts.write_text(
            run_dir / artifacts.CONFUSION_FILE, _csv(["true \\ predicted", *labels], matrix)
        )
        written.append(artifacts.CONFUSION_FILE)
    return written
