"""The tables more than one command prints: headline metrics, the worst classes of a
split, and `validate`'s data report.

`show_table` prints them: the title on a line of its own (never wrapped into the
table's width), then the table: rich's box table on a terminal; otherwise (a pipe, a
file, CI) plain ASCII columns under a dashed header line, at their natural width, with
no box characters and no spaces padding the ends of lines.
"""

from __future__ import annotations

import io
from typing import Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table as RichTable
from rich.text import Text

from seqcls.cli.app import err, out

# Not a terminal: columns apart, the header underlined with dashes (ASCII only).
PLAIN_BOX = box.Box("    \n    \n -- \n    \n    \n    \n    \n    \n", ascii=True)
# Wide enough that no cell of a plain table wraps: each line is as long as it needs.
PLAIN_WIDTH = 100_000


def show_table(table: RichTable, console: Console = out) -> None:
    """Print `table` (its title on a line of its own) to `console`; see the module docstring."""
    title, table.title = table.title, None
    if title:
        console.print(Text(str(title), style="table.title"), soft_wrap=True)
    if console.is_terminal:
        console.print(table)
        return
    table.box, table.show_edge, table.pad_edge = PLAIN_BOX, False, False
    rendered = io.StringIO()
    Console(file=rendered, width=PLAIN_WIDTH, color_system=None, highlight=False).print(table)
    lines = [line.rstrip() for line in rendered.getvalue().splitlines()]
    console.print(Text("\n".join(lines)), soft_wrap=True)


def say(text: Any, console: Console = out) -> None:
    """One line of the user's text (paths, labels), never broken: a terminal wraps it
    where it must, a file keeps it whole."""
    console.print(text, soft_wrap=True, markup=False, emoji=False, highlight=False)


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
    show_table(table)
    pairs = confused_pairs(values)
    if pairs:
        say(
            "most confused (true -> predicted): "
            + "; ".join(f"{true} -> {predicted} ({count})" for true, predicted, count in pairs)
        )


def print_confidence(metrics: dict) -> None:
    """Per split, how far its probabilities can be trusted: calibration (ECE, Brier score
    and NLL before and after the temperature fitted on valid) and abstention (the area
    under the risk-coverage curve; coverage and accuracy at the run's threshold)."""
    for split, values in metrics.items():
        if not isinstance(values, dict):
            continue
        if values.get("calibration"):
            _say_calibration(split, values["calibration"])
        if values.get("abstention"):
            _say_abstention(split, values["abstention"])
        if values.get("out_of_scope"):
            _say_out_of_scope(split, values["out_of_scope"])


def _say_calibration(split: str, block: dict) -> None:
    before, after = block["before"], block["after"]
    changes = "; ".join(
        f"{name} {before[key]:.4f} -> {after[key]:.4f}"
        for name, key in (("ECE", "ece"), ("Brier", "brier"), ("NLL", "nll"))
    )
    say(f"calibration on {split} ({block['method']}, ECE with {block['ece_bins']} bins): {changes}")


def _say_abstention(split: str, block: dict) -> None:
    line = f"abstention on {split}: AURC {block['aurc']:.4f} (risk-coverage area, lower is better)"
    chosen = block.get("at_threshold")
    if chosen:
        accuracy = chosen["accuracy_accepted"]
        shown = "-" if accuracy is None else f"{accuracy:.1%}"
        line += (
            f"; at --abstain auto ({chosen['threshold']:.3f}) it keeps "
            f"{chosen['coverage']:.1%} of the in-scope rows, {shown} of them right"
        )
    say(line)


def _say_out_of_scope(split: str, block: dict) -> None:
    def shown(value: Any) -> str:
        return "-" if value is None else f"{value:.4f}"

    line = (
        f"out of scope on {split}: {block['rows']} row(s); AUROC of the top probability "
        f"{shown(block['auroc']['top_probability'])}, of the top-two margin "
        f"{shown(block['auroc']['margin'])}"
    )
    if "threshold" in block:
        line += (
            f"; at {block['threshold']:.3f}: out-of-scope recall "
            f"{shown(block['out_of_scope_recall'])}, precision "
            f"{shown(block['out_of_scope_precision'])}; in-scope accuracy "
            f"{shown(block['in_scope_accuracy'])} (an abstention counts as wrong), "
            f"{shown(block['in_scope_accuracy_never_abstaining'])} never abstaining"
        )
    say(line)


def print_data_report(report: dict) -> None:
    """`seqcls validate`'s report (validation.data_report): the splits, the vocabulary,
    the labels, duplicates; its warnings go to stderr."""
    show_table(_splits_table(report))
    say(
        f"max_length {report['max_length']} ({report['max_length_source']}); vocabulary "
        f"{report['vocabulary_size']:,} entries"
        + (
            f"; pretrained vectors cover {report['pretrained_coverage']:.1%}"
            if report["pretrained_coverage"] is not None
            else ""
        )
    )
    show_table(_labels_table(report))
    repeated = report["duplicates"]
    say(
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
