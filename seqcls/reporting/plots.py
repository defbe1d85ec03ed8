"""confusion_matrix.png, training_curves.png, reliability.png (calibration) and, for
binary runs, roc_pr_curves.png (the `plots` extra: matplotlib).

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
RELIABILITY_PNG = "reliability.png"
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


# Cells are annotated up to this many labels; counts are added up to COUNTS_UP_TO.
ANNOTATE_UP_TO = 20
COUNTS_UP_TO = 8
# A cell's text fills at most this share of the cell's side, in a font of 6 to 20 points.
CELL_FILL = 0.7
CELL_FONT = (6.0, 20.0)


def confusion_matrix_png(path: str | Path, labels: list[str], matrix: Any, title: str) -> None:
    """Row-normalised confusion matrix (each row: how a true label was predicted); see
    confusion_matrix_figure."""
    plt = _pyplot()
    figure = confusion_matrix_figure(labels, matrix, title)
    _save(figure, Path(path))
    plt.close(figure)


def confusion_matrix_figure(labels: list[str], matrix: Any, title: str) -> Any:
    """The figure of confusion_matrix_png. Scales with the label count so 77 labels stay
    legible (about 0.2 inch per label). With up to 20 labels each cell shows its share
    (with up to 10 also its count), in a font sized to the cell; x labels stay
    horizontal when they fit their column."""
    plt = _pyplot()
    counts = np.asarray(matrix, dtype=np.float64)
    totals = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    n = len(labels)
    side = max(5.0, 0.2 * n + 3.0)
    figure, axes = plt.subplots(figsize=(side + 1.5, side))
    image = axes.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0, interpolation="nearest")
    colorbar = figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04)
    colorbar.set_label("share of the true label's rows")
    axes.apply_aspect()
    box = axes.get_position()
    width, height = figure.get_size_inches()
    cell = min(box.width * width, box.height * height) * 72 / max(n, 1)  # points
    font = 10 if n <= 20 else max(5, 9 - n // 20)
    widest = max((_text_width(str(label), font) for label in labels), default=0.0)
    rotation = 0 if widest <= 0.9 * cell else 90
    axes.set_xticks(range(n), labels, rotation=rotation, fontsize=font)
    axes.set_yticks(range(n), labels, fontsize=font)
    axes.set_xlabel("predicted label")
    axes.set_ylabel("true label")
    axes.set_title(title)
    if n <= ANNOTATE_UP_TO:
        _annotate_cells(axes, counts, shares, cell)
    return figure


def _text_width(text: str, size: float) -> float:
    """The width of one line of `text` in points at font `size` (matplotlib's default font)."""
    from matplotlib.textpath import TextPath

    return float(TextPath((0, 0), text, size=size).get_extents().width)


def _annotate_cells(axes: Any, counts: np.ndarray, shares: np.ndarray, cell: float) -> None:
    """Each non-empty cell's share (and count, for small matrices), in the largest font
    (CELL_FONT) whose text fills at most CELL_FILL of the cell's side."""
    n = len(counts)
    texts = {
        (i, j): f"{shares[i, j]:.2f}" + (f"\n({int(counts[i, j])})" if n <= COUNTS_UP_TO else "")
        for i in range(n)
        for j in range(n)
        if counts[i, j]
    }
    lines = 2 if n <= COUNTS_UP_TO else 1
    widest = max(
        (_text_width(line, 1.0) for text in texts.values() for line in text.split("\n")),
        default=1.0,
    )
    fits = CELL_FILL * cell / max(widest, 1.2 * lines)
    font = min(CELL_FONT[1], max(CELL_FONT[0], fits))
    for (i, j), text in texts.items():
        axes.text(
            j,
            i,
            text,
            ha="center",
            va="center",
            fontsize=font,
            color="white" if shares[i, j] > 0.5 else "black",
        )


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


def reliability_png(path: str | Path, block: dict[str, Any], title: str) -> None:
    """The reliability diagram of one split's calibration block (metrics.json; drawn
    from its bins, nothing recomputed): accuracy per confidence bin before and after
    calibration beside the diagonal (perfect calibration), only bins with predictions;
    below, how many predictions fall in each bin. The title gives the ECE before and
    after with the bin count. See reliability_figure."""
    plt = _pyplot()
    figure = reliability_figure(block, title)
    _save(figure, Path(path))
    plt.close(figure)


def reliability_figure(block: dict[str, Any], title: str) -> Any:
    """The figure of reliability_png: the bars of the top axes are the accuracies of
    the bins with predictions, before then after (points: each bin's mean confidence);
    the bottom's, their counts."""
    plt = _pyplot()
    figure, (top, bottom) = plt.subplots(
        2,
        1,
        figsize=(6.4, 6.8),
        sharex=True,
        gridspec_kw={"height_ratios": [3, 1]},
        layout="constrained",
    )
    top.plot([0, 1], [0, 1], color="grey", linestyle="--", label="perfect calibration")
    for (when, colour), side in zip((("before", "tab:orange"), ("after", "tab:blue")), (0, 1)):
        bins = [b for b in block["reliability"][when] if b["count"]]
        width = [(b["high"] - b["low"]) / 2 for b in bins]
        left = [b["low"] + side * w for b, w in zip(bins, width)]
        measured = block[when]["ece"]
        top.bar(
            left,
            [b["accuracy"] for b in bins],
            width=width,
            align="edge",
            color=colour,
            alpha=0.75,
            label=f"{when} calibration (ECE {measured:.4f})",
        )
        top.plot(
            [b["confidence"] for b in bins],
            [b["accuracy"] for b in bins],
            linestyle="none",
            marker="o",
            markersize=4,
            color=colour,
        )
        bottom.bar(left, [b["count"] for b in bins], width=width, align="edge", color=colour)
    top.set_ylabel("accuracy in the bin")
    top.set_ylim(0, 1.02)
    top.grid(alpha=0.3)
    # Below the figure: inside the axes it would hide a bar (a bin can be right at any
    # height).
    figure.legend(loc="outside lower center", ncol=3, fontsize=8, frameon=False)
    bottom.set_xlim(0, 1)
    bottom.set_xlabel("confidence (the predicted label's probability), equal-width bins")
    bottom.set_ylabel("predictions")
    bottom.grid(alpha=0.3)
    figure.suptitle(
        f"{title}\nECE {block['before']['ece']:.4f} before, {block['after']['ece']:.4f} "
        f"after ({block['ece_bins']} bins, {block['predictions']:,} predictions)",
        fontsize=10,
    )
    return figure
