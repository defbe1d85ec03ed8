"""Peer baselines on the shipped datasets: TF-IDF + linear SVM (scikit-learn) and fastText,
scored with seqcls's own metrics on the test split, with their training time.

    pip install '.[bench]'
    python benchmarks/baselines.py [banking77|austen ...] [--json OUT]
"""

from __future__ import annotations

import csv
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from common import ROOT, emit, json_destination

from seqcls.tasks.metrics import classification_metrics


def load(name: str, split: str) -> tuple[list[str], list[str]]:
    with open(ROOT / f"data/{name}/{split}.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return [row["text"] for row in rows], [row["label"] for row in rows]


def score(true: list[str], predicted: list[str], labels: list[str]) -> dict[str, float]:
    index = {label: i for i, label in enumerate(labels)}
    metrics = classification_metrics(
        np.array([index[t] for t in true]), np.array([index[p] for p in predicted]), labels
    )
    return {"accuracy": round(metrics["accuracy"], 4), "macro_f1": round(metrics["macro_f1"], 4)}


def tfidf_svm(train, test, labels):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_pipeline
    from sklearn.svm import LinearSVC

    start = time.perf_counter()
    model = make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1), LinearSVC(C=1.0)
    )
    model.fit(*train)
    seconds = time.perf_counter() - start
    return {
        **score(test[1], list(model.predict(test[0])), labels),
        "train_seconds": round(seconds, 1),
    }


def fasttext_supervised(train, test, labels):
    import fasttext

    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8") as handle:
        for text, label in zip(*train):
            handle.write(f"__label__{label} {' '.join(text.lower().split())}\n")
        path = handle.name
    start = time.perf_counter()
    model = fasttext.train_supervised(
        path, epoch=25, lr=0.5, wordNgrams=2, dim=100, seed=0, thread=2, verbose=0
    )
    seconds = time.perf_counter() - start
    predicted = [
        model.predict(" ".join(text.lower().split()))[0][0].removeprefix("__label__")
        for text in test[0]
    ]
    Path(path).unlink()
    return {**score(test[1], predicted, labels), "train_seconds": round(seconds, 1)}


def main(names: list[str], destination: Path | None) -> None:
    results = {}
    for name in names:
        train, test = load(name, "train"), load(name, "test")
        labels = sorted(set(train[1]))
        results[name] = {"tfidf_linear_svm": tfidf_svm(train, test, labels)}
        try:
            results[name]["fasttext"] = fasttext_supervised(train, test, labels)
        except ImportError:
            results[name]["fasttext"] = "not installed (pip install '.[bench]')"
    emit(results, destination)


if __name__ == "__main__":
    names, destination = json_destination(sys.argv[1:])
    main(names or ["banking77", "austen"], destination)
