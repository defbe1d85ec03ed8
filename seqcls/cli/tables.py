"""The rich tables more than one command prints: headline metrics, the worst classes of a
split, and `validate`'s data report."""

from __future__ import annotations

from rich.markup import escape
from rich.table import Table as RichTable

from seqcls.cli.app import err, out


def metrics_table(metrics: dict, title: str) -> RichTable:
    """One row per split (the dicts in `metrics` that have an accuracy): rows and the
    headline scores."""
    from seqcls.tasks.metrics import HEADLINE, PROBABILITY_METRICS

    splits = {
        name: values
        for name, values in metrics.items()
        if isinstance(values, dict) and "accuracy" in values
    }
    # Tagging adds span scores (BIO tags), single-label tasks log-loss (binary also ROC-AUC
    # and PR-AUC): show whatever the metrics carry. Where log-loss is, the task is
    # single-label and micro-F1 equals accuracy: its column makes room (80 columns).
    present = [n for n in ("span_f1", *PROBABILITY_METRICS) if any(n in v for v in splits.values())]
    headline = [n for n in HEADLINE if not (n == "micro_f1" and "log_loss" in present)]
    columns = [*headline, *present]
    table = RichTable(title=title, title_justify="left")
    table.add_column("split")
    table.add_column("rows", justify="right")
    for name in columns:
        table.add_column(name, justify="right")
    for split, values in splits.items():
        # None: a metric undefined on this split (ROC-AUC of a split with one class).
        cells = (
            f"{values[name]:.4f}" if isinstance(values.get(name), (int, float)) else "-"
            for name in columns
        )
        table.add_row(split, str(values["rows"]), *cells)
    return table


def print_details(metrics: dict, split: str, worst: int = 10) -> None:
    """The worst classes of one split and its most confused label pairs."""
    from seqcls.reporting.tables import confused_pairs, per_class_rows

    values = metrics.get(split)
    if not isinstance(values, dict) or "per_class" not in values:
        return
    rows = per_class_rows(values)
    table = RichTable(
        title=f"{split}: {min(worst, len(rows))} worst of {len(rows)} labels by F1",
        title_justify="left",
    )
    for column in ("label", "precision", "recall", "f1", "support"):
        table.add_column(column, justify="left" if column == "label" else "right")
    for row in rows[:worst]:
        table.add_row(
            row["label"],
            f"{row['precision']:.3f}",
            f"{row['recall']:.3f}",
            f"{row['f1']:.3f}",
            str(row["support"]),
        )
    out.print(table)
    pairs = confused_pairs(values)
    if pairs:
        out.print(
            "most confused (true -> predicted): "
            + "; ".join(f"{true} -> {predicted} ({count})" for true, predicted, count in pairs),
            soft_wrap=True,
        )


def print_data_report(report: dict) -> None:
    """`seqcls validate`'s report (validation.data_report): the splits, the vocabulary,
    the labels, duplicates; its warnings go to stderr."""
    out.print(_splits_table(report))
    out.print(
        f"max_length {report['max_length']} ({report['max_length_source']}); vocabulary "
        f"{report['vocabulary_size']:,} entries"
        + (
            f"; pretrained vectors cover {report['pretrained_coverage']:.1%}"
            if report["pretrained_coverage"] is not None
            else ""
        )
    )
    out.print(_labels_table(report))
    repeated = report["duplicates"]
    out.print(
        f"duplicates in train: {repeated['repeated_texts']} text(s) repeated "
        f"({repeated['with_conflicting_labels']} with conflicting labels); shared with train: "
        + ", ".join(f"{name} {count}" for name, count in report["shared_with_train"].items())
    )
    for warning in report["warnings"]:
        err.print(f"[yellow]warning:[/] {escape(warning)}", markup=True, soft_wrap=True)


def _splits_table(report: dict) -> RichTable:
    splits = RichTable(title=f"data ({report['task']})", title_justify="left")
    for column in ("split", "rows", "bad rows left out", "tokens p50/p95/max", "truncated", "OOV"):
        splits.add_column(column, justify="left" if column == "split" else "right")
    for name, rows in report["rows"].items():
        lengths = report["length_percentiles"][name]
        bad = sum(report["bad_rows"].get(name, {}).values())
        splits.add_row(
            name,
            f"{rows:,}",
            f"{bad:,}",
            f"{lengths['p50']}/{lengths['p95']}/{lengths['p100']}",
            f"{report['truncated_share'][name]:.1%}",
            f"{report['oov_rate'][name]:.1%}",
        )
    return splits


def _labels_table(report: dict) -> RichTable:
    labels = RichTable(
        title=f"{len(report['labels'])} labels in train; most/least frequent: "
        f"{report['imbalance_ratio']:.1f}x",
        title_justify="left",
    )
    labels.add_column("label")
    labels.add_column("train rows", justify="right")
    if report["class_weight"]:
        labels.add_column("class weight", justify="right")
    items = list(report["labels"].items())
    shown = items if len(items) <= 12 else items[:6] + [("...", None)] + items[-6:]
    for label, count in shown:
        cells = [label, "" if count is None else f"{count:,}"]
        if report["class_weight"]:
            weight = report["class_weight"].get(label)
            cells.append("" if weight is None else f"{weight:.3g}")
        labels.add_row(*cells)
    return labels
