"""confusion_matrix.png, training_curves.png and, for binary runs, roc_pr_curves.png
(the `plots` extra: matplotlib).

matplotlib is imported inside the functions, with the non-interactive Agg backend,
so `import seqcls` never needs it. Files are written atomically.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path
from typing import Any

import numpy as np

from seqcls.errors import ConfigError
from seqcls.run import artifacts

CONFUSION_PNG = "confusion_matrix.png"
CURVES_PNG = "training_curves.png"
ROC_PR_PNG = "roc_pr_curves.png"
# What `pip install` adds the plots with (the terminal and report.html name it).
EXTRA = "pip install 'seqcls[plots]'"


def available() -> bool:
    return importlib.util.find_spec("matplotlib") is not None


def wanted(setting: str | bool) -> bool:
    """Whether to draw plots for output.plots (auto: when matplotlib is installed)."""
    if setting is False:
        return False
    if setting is True and not available():
        raise ConfigError(
            "output.plots is true but matplotlib is not installed; pip install "
            "'seqcls[plots]' (or matplotlib), or set output.plots: auto or false"
        )
    return available()


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(figure: Any, path: Path) -> None:
    with artifacts.atomic_path(path, ".png") as temporary:
        figure.savefig(temporary, format="png", dpi=100, bbox_inches="tight")


def confusion_matrix_png(path: str | Path, labels: list[str], matrix: Any, title: str) -> None:
    """Row-normalised confusion matrix (each row: how a true label was predicted).

    Scales with the label count so 77 labels stay legible (about 0.2 inch per label);
    with up to 20 labels each cell shows its share.
    """
    plt = _pyplot()
    counts = np.asarray(matrix, dtype=np.float64)
    totals = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    n = len(labels)
    side = max(5.0, 0.2 * n + 3.0)
    figure, axes = plt.subplots(figsize=(side + 1.5, side))
    image = axes.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0, interpolation="nearest")
    font = 10 if n <= 20 else max(5, 9 - n // 20)
    axes.set_xticks(range(n), labels, rotation=90, fontsize=font)
    axes.set_yticks(range(n), labels, fontsize=font)
    axes.set_xlabel("predicted label")
    axes.set_ylabel("true label")
    axes.set_title(title)
    if n <= 20:
        for i in range(n):
            for j in range(n):
                if counts[i, j]:
                    axes.text(
                        j,
                        i,
                        f"{shares[i, j]:.2f}",
                        ha="center",
                        va="center",
                        fontsize=8,
                        color="white" if shares[i, j] > 0.5 else "black",
                    )
    colorbar = figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04)
    colorbar.set_label("share of the true label's rows")
    _save(figure, Path(path))
    plt.close(figure)


def training_curves_png(
    path: str | Path, rows: list[dict[str, Any]], best_epoch: int | None
) -> None:
    """Loss and each metric per epoch, train vs validation, the best epoch marked."""
    plt = _pyplot()
    epochs = [int(row["epoch"]) for row in rows]
    names = [
        key
        for key in rows[0]
        if key not in ("epoch", "seconds", "learning_rate") and not key.startswith("val_")
    ]
    names.sort(key=lambda name: (name != "loss", name))
    columns = len(names)
    figure, axes = plt.subplots(1, columns, figsize=(5 * columns, 3.8), squeeze=False)
    for axis, name in zip(axes[0], names):
        train = [float(row[name]) for row in rows]
        axis.plot(epochs, train, marker="o", label="train")
        if f"val_{name}" in rows[0]:
            valid = [float(row[f"val_{name}"]) for row in rows]
            axis.plot(epochs, valid, marker="o", label="validation")
        if best_epoch is not None:
            axis.axvline(
                best_epoch, color="grey", linestyle="--", label=f"best (epoch {best_epoch})"
            )
        axis.set_xlabel("epoch")
        axis.set_title(name)
        axis.grid(alpha=0.3)
        if not all(math.isfinite(v) for v in train):
            axis.set_title(f"{name} (non-finite values left out)")
        axis.legend()
        if len(epochs) < 15:
            axis.set_xticks(epochs)
    _save(figure, Path(path))
    plt.close(figure)


def roc_pr_curves_png(
    path: str | Path, positive: Any, scores: Any, positive_label: str, title: str
) -> None:
    """The ROC curve and the precision-recall curve of one split side by side, for the
    positive (second) label's probability; the areas in the legends."""
    from seqcls.tasks.metrics import (
        average_precision,
        precision_recall_curve,
        roc_auc,
        roc_curve,
    )

    plt = _pyplot()
    positive = np.asarray(positive, dtype=bool)
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4.2))
    roc = roc_curve(positive, scores)
    if roc is not None:
        left.plot(roc[0], roc[1], label=f"ROC-AUC {roc_auc(positive, scores):.3f}")
    left.plot([0, 1], [0, 1], color="grey", linestyle="--", label="chance")
    left.set_xlabel("false positive rate")
    left.set_ylabel("true positive rate")
    left.set_title(f"ROC ({positive_label} positive)")
    pr = precision_recall_curve(positive, scores)
    if pr is not None:
        right.step(
            pr[0], pr[1], where="pre", label=f"PR-AUC {average_precision(positive, scores):.3f}"
        )
    right.axhline(
        positive.mean() if len(positive) else 0.0,
        color="grey",
        linestyle="--",
        label="chance (positive share)",
    )
    right.set_xlabel("recall")
    right.set_ylabel("precision")
    right.set_title(f"precision-recall ({positive_label} positive)")
    for axis in (left, right):
        axis.set_xlim(-0.02, 1.02)
        axis.set_ylim(-0.02, 1.02)
        axis.grid(alpha=0.3)
        axis.legend(loc="lower right" if axis is left else "lower left")
    figure.suptitle(title)
    _save(figure, Path(path))
    plt.close(figure)
