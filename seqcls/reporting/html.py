"""report.html: one self-contained page per run (no external files, scripts or fonts):
how training went (epochs run, why it stopped, the best epoch, wall time, what the data
decided), the metrics, the calibration (before and after, with the reliability diagram),
the plots (embedded as data: URIs), the per-class table worst first, the most confused
pairs, the most confident mistakes on validation, and the resolved config (the lines the
data decided marked).

Also `write_visual_reports`, the one call training makes after its metrics are written:
the PNGs (per output.plots; binary runs add the ROC and precision-recall curves of
valid, calibrated runs the reliability diagram) and the page (per output.html_report).
"""

from __future__ import annotations

import base64
import html
from collections.abc import Callable
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from seqcls.messages import note
from seqcls.reporting import plots
from seqcls.reporting.calibration_section import calibration_section, diagram_split
from seqcls.reporting.report_sections import config_block, training_summary, training_table
from seqcls.reporting.tables import confused_pairs, per_class_rows
from seqcls.run import artifacts, readers

REPORT_FILE = "report.html"
MISTAKES = 20
HEADLINE = (
    "accuracy",
    "macro_f1",
    "weighted_f1",
    "micro_f1",
    "span_f1",
    "hamming_loss",
    "roc_auc",
    "pr_auc",
    "log_loss",
)

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 72em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 1.8em; }
table { border-collapse: collapse; font-size: .9em; }
th, td { padding: .25em .6em; border-bottom: 1px solid #e3e3e3; text-align: right; }
th { background: #f4f4f4; } td.l, th.l { text-align: left; }
tr.bad td { background: #fff1f0; }
img { max-width: 100%; border: 1px solid #eee; }
pre { background: #f7f7f7; padding: 1em; overflow-x: auto; font-size: .85em; }
.muted { color: #777; }
table.training td { text-align: left; }
pre mark { background: #fff3b0; }
"""


def confident_mistakes(
    texts: list[str],
    true_labels: list[str],
    probabilities: np.ndarray,
    labels: list[str],
    most: int = MISTAKES,
) -> list[dict[str, Any]]:
    """Wrong predictions, most confident first (text-level single-label tasks)."""
    predicted = probabilities.argmax(axis=1)
    rows = []
    for index, (text, truth) in enumerate(zip(texts, true_labels)):
        guess = labels[int(predicted[index])]
        if guess != truth.strip():
            rows.append(
                {
                    "text": text,
                    "true": truth.strip(),
                    "predicted": guess,
                    "probability": float(probabilities[index, predicted[index]]),
                }
            )
    rows.sort(key=lambda row: -row["probability"])
    return rows[:most]


def _image(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(path.name)}" src="data:image/png;base64,{data}">'


def _metrics_table(metrics: dict[str, Any]) -> str:
    splits = {n: v for n, v in metrics.items() if isinstance(v, dict) and "accuracy" in v}
    columns = [c for c in HEADLINE if any(c in v for v in splits.values())]
    head = "".join(f"<th>{c}</th>" for c in columns)
    body = "".join(
        f'<tr><td class="l">{html.escape(name)}</td><td>{values.get("rows", "")}</td>'
        + "".join(
            f"<td>{values[c]:.4f}</td>" if isinstance(values.get(c), float) else "<td></td>"
            for c in columns
        )
        + "</tr>"
        for name, values in splits.items()
    )
    return f'<table><tr><th class="l">split</th><th>rows</th>{head}</tr>{body}</table>'


def _per_class_table(values: dict[str, Any]) -> str:
    rows = per_class_rows(values)
    body = "".join(
        f'<tr{" class=bad" if row["f1"] < 0.5 else ""}><td class="l">{html.escape(row["label"])}</td>'
        f"<td>{row['precision']:.3f}</td><td>{row['recall']:.3f}</td><td>{row['f1']:.3f}</td>"
        f"<td>{row['support']}</td></tr>"
        for row in rows
    )
    return (
        '<table class="per-class"><tr><th class="l">label</th><th>precision</th><th>recall</th>'
        f"<th>f1</th><th>support</th></tr>{body}</table>"
    )


def _mistakes_table(mistakes: list[dict[str, Any]]) -> str:
    if not mistakes:
        return "<p>No wrong predictions on validation.</p>"
    body = "".join(
        f'<tr class="mistake"><td>{row["probability"]:.3f}</td>'
        f'<td class="l">{html.escape(row["predicted"])}</td>'
        f'<td class="l">{html.escape(row["true"])}</td>'
        f'<td class="l">{html.escape(row["text"])}</td></tr>'
        for row in mistakes
    )
    return (
        '<table class="mistakes"><tr><th>probability</th><th class="l">predicted</th>'
        f'<th class="l">true</th><th class="l">text</th></tr>{body}</table>'
    )


def html_page(
    run_dir: Path,
    name: str,
    task: str,
    metrics: dict[str, Any],
    config_text: str,
    images: list[Path],
    mistakes: list[dict[str, Any]] | None,
    why_no_mistakes: str = "",
    no_plots: str = "matplotlib is not installed or output.plots is off.",
    training: dict[str, Any] | None = None,
    calibration: dict[str, Any] | None = None,
    tuned_thresholds: bool = False,
) -> str:
    """The page. `images` are the PNGs drawn (reliability.png goes to the Calibration
    section, the rest to Plots); `calibration` is the run's calibration.json."""
    diagram = [path for path in images if path.name == plots.RELIABILITY_PNG]
    images = [path for path in images if path.name != plots.RELIABILITY_PNG]
    chosen_name = "test" if isinstance(metrics.get("test"), dict) else "valid"
    chosen = metrics.get(chosen_name, {})
    parts = [
        f"<h1>seqcls run: {html.escape(name)}</h1>",
        f'<p class="muted">{html.escape(str(run_dir))} · task {html.escape(task)} · report '
        f"written {datetime.now(timezone.utc).isoformat(timespec='seconds')}</p>",
    ]
    if training is not None:
        parts += ["<h2>Training</h2>", training_table(training, config_text)]
    parts += [
        "<h2>Metrics</h2>",
        _metrics_table(metrics),
    ]
    if images:
        parts.append("<h2>Plots</h2>")
        parts += [f"<p>{_image(path)}</p>" for path in images]
    elif not diagram:
        parts.append(f'<p class="muted">No plots: {html.escape(no_plots)}</p>')
    parts += calibration_section(
        metrics,
        calibration,
        _image(diagram[0]) if diagram else "",
        no_plots,
        tuned_thresholds,
    )
    if "per_class" in chosen:
        parts += [
            f"<h2>Per class ({chosen_name}), worst F1 first</h2>",
            _per_class_table(chosen),
        ]
        pairs = confused_pairs(chosen, most=10)
        if pairs:
            items = "".join(
                f"<li>{html.escape(true)} → {html.escape(predicted)}: {count}</li>"
                for true, predicted, count in pairs
            )
            parts += [f"<h2>Most confused pairs ({chosen_name})</h2>", f"<ol>{items}</ol>"]
    parts.append(f"<h2>The {MISTAKES} most confident mistakes on validation</h2>")
    parts.append(
        _mistakes_table(mistakes)
        if mistakes is not None
        else f'<p class="muted">{html.escape(why_no_mistakes)}</p>'
    )
    parts += ["<h2>Config (resolved)</h2>", config_block(config_text)]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>seqcls: {html.escape(name)}</title><style>{STYLE}</style></head><body>\n"
        + "\n".join(parts)
        + "\n</body></html>\n"
    )


def _plot_jobs(
    run_dir: Path,
    config: Any,
    metrics: dict[str, Any],
    history: list[dict[str, Any]],
    best_epoch: int | None,
    labels: list[str],
    valid_labels: list[str],
    valid_probabilities: Any,
) -> list[tuple[Path, Callable[[], None]]]:
    """The PNGs this run's metrics call for, each with the call that draws it (a partial:
    its arguments are bound now, not looked up when it runs)."""
    jobs: list[tuple[Path, Callable[[], None]]] = []
    chosen_name = "test" if isinstance(metrics.get("test"), dict) else "valid"
    chosen = metrics.get(chosen_name, {})
    if chosen.get("confusion_matrix"):
        path = run_dir / plots.CONFUSION_PNG
        title = f"{config.name}: {chosen_name} confusion matrix (row-normalised)"
        draw = partial(
            plots.confusion_matrix_png, path, chosen["labels"], chosen["confusion_matrix"], title
        )
        jobs.append((path, draw))
    if history:
        curves = run_dir / plots.CURVES_PNG
        jobs.append((curves, partial(plots.training_curves_png, curves, history, best_epoch)))
    # Tasks whose metrics rank the rows (binary) get roc_auc; curves need both classes.
    if metrics.get("valid", {}).get("roc_auc") is not None and valid_probabilities is not None:
        ranked = run_dir / plots.ROC_PR_PNG
        # The positive label's probability: the last column (binary: one sigmoid unit).
        scores = np.asarray(valid_probabilities, dtype=np.float64).reshape(len(valid_labels), -1)
        positive = [label.strip() == labels[1] for label in valid_labels]
        draw = partial(
            plots.roc_pr_curves_png,
            ranked,
            positive,
            scores[:, -1],
            labels[1],
            f"{config.name}: valid",
        )
        jobs.append((ranked, draw))
    calibrated = diagram_split(metrics)
    if calibrated is not None:
        diagram = run_dir / plots.RELIABILITY_PNG
        block = metrics[calibrated]["calibration"]
        title = f"{config.name}: {calibrated} reliability"
        jobs.append((diagram, partial(plots.reliability_png, diagram, block, title)))
    return jobs


def write_visual_reports(
    run_dir: Path,
    config: Any,
    metrics: dict[str, Any],
    *,
    history: list[dict[str, Any]],
    best_epoch: int | None,
    task: str,
    labels: list[str],
    valid_texts: list[str],
    valid_labels: list[str],
    valid_probabilities: Any,
    report: Any = print,
    stopped_early: bool | None = None,
    wall_seconds: float | None = None,
) -> list[str]:
    """The PNGs and report.html for a finished run; returns the file names written.
    With output.plots auto and no matplotlib, `report` is told once which plots were
    skipped and what installs them. `stopped_early` and `wall_seconds` (training's own
    record) go into the page's Training section; without them it says what it can from
    the history."""
    from seqcls.tasks import get_task

    kind = get_task(task)
    jobs = _plot_jobs(
        run_dir, config, metrics, history, best_epoch, labels, valid_labels, valid_probabilities
    )
    images: list[Path] = []
    no_plots = "output.plots is off."
    if plots.wanted(config.output.plots):
        for path, draw in jobs:
            draw()
            images.append(path)
    elif config.output.plots == "auto" and jobs:
        skipped = ", ".join(path.name for path, _ in jobs)
        no_plots = f"matplotlib is not installed, so {skipped} were skipped ({plots.EXTRA})."
        report(note(f"plots skipped ({skipped}): matplotlib is not installed; {plots.EXTRA}"))
    written = [path.name for path in images]
    if config.output.html_report:
        mistakes = None
        why = kind.mistakes_note() or ""
        if not why and valid_probabilities is not None:
            mistakes = confident_mistakes(
                valid_texts, valid_labels, kind.probabilities(valid_probabilities), labels
            )
        config_text = (run_dir / artifacts.CONFIG_FILE).read_text(encoding="utf-8")
        training = training_summary(config, history, best_epoch, stopped_early, wall_seconds)
        page = html_page(
            run_dir,
            config.name,
            task,
            metrics,
            config_text,
            images,
            mistakes,
            why,
            no_plots,
            training,
            readers.read_calibration(run_dir, labels),
            kind.tuned_thresholds,
        )
        artifacts.write_text(run_dir / REPORT_FILE, page)
        written.append(REPORT_FILE)
    if written:
        report(f"reports: {', '.join(written)}")
    return written
