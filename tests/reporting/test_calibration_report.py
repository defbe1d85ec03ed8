"""Calibration in the run's reports (issue 20 item 1): report.html's Calibration section
(the method and temperature from calibration.json, ECE, Brier score and NLL before and
after for valid and test, as metrics.json has them), reliability.png drawn from
metrics.json's bins per output.plots, and MODEL_CARD.md's line; none of it for a run
whose metrics have no calibration."""

import json
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from test_plots import png_size

from seqcls.config import load_config
from seqcls.reporting import html as html_report
from seqcls.reporting import plots
from seqcls.reporting.calibration_section import (
    calibration_section,
    diagram_split,
    explanation,
    method_text,
    model_card_line,
)
from seqcls.reporting.model_card import model_card
from seqcls.tasks import calibration as calibration_lib

LABELS = ["card_lost", "exchange_rate", "top_up"]
RUN_FILES = ("config.yaml", "labels.json", "metrics.json", "calibration.json")


class Calibration(HTMLParser):
    """report.html's Calibration section: its table's rows, its paragraphs' text and the
    alt of each image in it."""

    def __init__(self):
        super().__init__()
        self.rows, self.paragraphs, self.images, self.headings = [], [], [], []
        self._in = self._heading = self._paragraph = False
        self._row = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "h2":
            self._heading = True
        elif self._in and tag == "tr":
            self._row = []
            self.rows.append(self._row)
        elif self._in and tag == "p":
            self._paragraph = True
            self.paragraphs.append("")
        elif self._in and tag == "img":
            self.images.append(attrs["alt"])

    def handle_endtag(self, tag):
        if tag == "h2":
            self._heading = False
        elif tag == "p":
            self._paragraph = False
        elif tag == "tr":
            self._row = None

    def handle_data(self, data):
        if self._heading:
            self.headings.append(data)
            self._in = data == "Calibration"
        elif self._row is not None:
            self._row.append(data)
        elif self._paragraph:
            self.paragraphs[-1] += data


def section(page):
    parser = Calibration()
    parser.feed(page)
    return parser


def read(run_dir, name):
    return json.loads((run_dir / name).read_text(encoding="utf-8"))


def over_confident_block(rows=400, seed=0):
    """A calibration block as metrics.json holds it, of an over-confident 3-label model
    (its probabilities sharpened), with the temperature fitted on the same rows."""
    generator = np.random.default_rng(seed)
    true = generator.integers(0, 3, size=rows)
    logits = generator.normal(size=(rows, 3)) + 1.5 * np.eye(3)[true]
    honest = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    before = calibration_lib.scaled(honest, 0.4)
    after = calibration_lib.scaled(before, calibration_lib.fit_temperature(before, true))
    return {
        "method": "temperature",
        "ece_bins": calibration_lib.ECE_BINS,
        "predictions": rows,
        "before": calibration_lib.measures(before, true),
        "after": calibration_lib.measures(after, true),
        "reliability": {
            "before": calibration_lib.reliability(before, true),
            "after": calibration_lib.reliability(after, true),
        },
    }


def copy_run(run_dir, folder):
    folder.mkdir()
    for name in RUN_FILES:
        shutil.copy(run_dir / name, folder / name)
    return folder


def write_reports(folder, plots_setting, metrics=None, report=None):
    labels = read(folder, "labels.json")
    config = load_config(folder / "config.yaml", [f"output.plots={plots_setting}"])
    return html_report.write_visual_reports(
        folder,
        config,
        metrics if metrics is not None else read(folder, "metrics.json"),
        history=[{"epoch": 1, "loss": 1.0, "val_loss": 1.0, "seconds": 1.0}],
        best_epoch=1,
        task=labels["task"],
        labels=labels["labels"],
        valid_texts=["i lost my card"],
        valid_labels=["card_lost"],
        valid_probabilities=np.array([[0.9, 0.05, 0.05]]),
        report=report or (lambda message: None),
    )


def test_calibration_section_shows_metrics_json_and_calibration_json(trained_run):
    _, run_dir, _ = trained_run
    metrics, saved = read(run_dir, "metrics.json"), read(run_dir, "calibration.json")
    found = section((run_dir / "report.html").read_text(encoding="utf-8"))
    # After the metrics (and the plots), before the per-class table.
    assert found.headings[1:4] == ["Metrics", "Calibration", "Per class (test), worst F1 first"]
    header, *rows = found.rows
    assert header == ["split", "predictions", "ECE (15 bins)", "Brier score", "NLL"]
    assert [row[0] for row in rows] == ["valid", "test"]
    for split, predictions, *cells in rows:
        block = metrics[split]["calibration"]
        assert int(predictions) == block["predictions"] == metrics[split]["rows"]
        assert cells == [
            f"{block['before'][key]:.4f} → {block['after'][key]:.4f}"
            for key in ("ece", "brier", "nll")
        ]
    method, meaning, *rest = found.paragraphs
    assert method == (
        f"Temperature scaling: T = {saved['temperature']:.3f}, fitted on valid "
        f"({saved['valid_rows']} rows; calibration.json)."
    )
    assert "expected calibration error" in meaning and "15 equal-width confidence bins" in meaning
    assert "the predicted label does not change" in meaning
    assert "predict --uncalibrated" in meaning
    # The shared run trains with output.plots false: no diagram, and the page says why.
    assert found.images == [] and not (run_dir / "reliability.png").exists()
    assert rest == ["No reliability diagram: output.plots is off."]


def test_calibration_model_card_line_gives_test_ece_before_and_after(trained_run):
    _, run_dir, _ = trained_run
    block = read(run_dir, "metrics.json")["test"]["calibration"]
    card = (run_dir / "MODEL_CARD.md").read_text(encoding="utf-8")
    line = (
        f"Calibration (temperature, fitted on valid): ECE on test {block['before']['ece']:.4f} "
        f"before, {block['after']['ece']:.4f} after (15 bins)"
    )
    assert line in card
    # In the Metrics section, under its table.
    metrics_part = card.split("## Metrics (test split)")[1].split("\n## ")[0]
    assert line in metrics_part


def test_calibration_reliability_png_drawn_with_plots_on(trained_run, tmp_path):
    pytest.importorskip("matplotlib")
    _, run_dir, _ = trained_run
    folder = copy_run(run_dir, tmp_path / "run")
    written = write_reports(folder, "true")
    assert written == [
        "confusion_matrix.png",
        "training_curves.png",
        "reliability.png",
        "report.html",
    ]
    width, height = png_size(folder / "reliability.png")
    assert 400 <= width <= 1200 and 400 <= height <= 1200
    page = (folder / "report.html").read_text(encoding="utf-8")
    found = section(page)
    # The diagram is in the Calibration section, once, and not among the other plots.
    assert found.images == ["reliability.png"]
    assert page.count('alt="reliability.png"') == 1
    assert "No reliability diagram" not in page
    assert not list(folder.glob(".*"))  # no temporary files left behind


def test_calibration_reliability_figure_is_drawn_from_the_bins():
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    block = over_confident_block()
    assert block["after"]["ece"] < block["before"]["ece"]
    figure = plots.reliability_figure(block, "banking: test reliability")
    top, bottom = figure.axes
    filled = {
        when: [b for b in block["reliability"][when] if b["count"]] for when in ("before", "after")
    }
    both = filled["before"] + filled["after"]
    # Bars only for the bins with predictions: their accuracy above, their count below.
    assert [bar.get_height() for bar in top.patches] == pytest.approx([b["accuracy"] for b in both])
    assert [bar.get_height() for bar in bottom.patches] == [b["count"] for b in both]
    # Each bar inside its bin: before on the left half, after on the right.
    for bar, b in zip(top.patches, both):
        assert b["low"] - 1e-9 <= bar.get_x() and bar.get_x() + bar.get_width() <= b["high"] + 1e-9
    title = figure.get_suptitle()
    assert f"ECE {block['before']['ece']:.4f} before, {block['after']['ece']:.4f} after" in title
    assert "15 bins, 400 predictions" in title
    # The diagonal.
    assert list(top.lines[0].get_xdata()) == [0, 1] == list(top.lines[0].get_ydata())
    plt.close(figure)


def test_calibration_diagram_is_for_test_else_valid(tiny_config, tmp_path):
    block = over_confident_block(rows=60)
    metrics = {"task": "multiclass", "valid": {"accuracy": 0.5, "calibration": block}}
    assert diagram_split(metrics) == "valid"
    assert diagram_split({**metrics, "test": {"accuracy": 0.5, "calibration": block}}) == "test"
    # A test split measured without calibration: valid's diagram.
    assert diagram_split({**metrics, "test": {"accuracy": 0.5}}) == "valid"
    config = load_config(tiny_config)
    jobs = html_report._plot_jobs(tmp_path, config, metrics, [], None, LABELS, [], None)
    [(path, draw)] = jobs
    assert path == tmp_path / "reliability.png"
    assert draw.args[1] is block and draw.args[2] == "tiny-test: valid reliability"


def test_calibration_absent_without_a_calibration_block(trained_run, tmp_path):
    _, run_dir, _ = trained_run
    metrics = read(run_dir, "metrics.json")
    for split in ("valid", "test"):
        del metrics[split]["calibration"]
    assert diagram_split(metrics) is None and model_card_line(metrics) == []
    assert calibration_section(metrics, read(run_dir, "calibration.json")) == []
    # A run trained before calibration: no calibration.json either.
    folder = copy_run(run_dir, tmp_path / "old")
    (folder / "calibration.json").unlink()
    (folder / "metrics.json").write_text(json.dumps(metrics), encoding="utf-8")
    assert write_reports(folder, "false") == ["report.html"]
    page = (folder / "report.html").read_text(encoding="utf-8")
    assert "Calibration" not in section(page).headings
    assert "ECE" not in page and "reliability" not in page
    config = load_config(folder / "config.yaml")
    jobs = html_report._plot_jobs(folder, config, metrics, [], None, LABELS, [], None)
    assert [path.name for path, _ in jobs] == ["confusion_matrix.png"]
    # The card without it: copy what it reads, with the old metrics.
    for name in ("manifest.json", "vocabulary.json"):
        shutil.copy(run_dir / name, folder / name)
    assert "Calibration" not in model_card(folder)


def test_calibration_section_for_per_label_temperatures_and_no_file():
    block = {**over_confident_block(rows=50), "method": "temperature per label"}
    metrics = {"valid": {"accuracy": 0.9, "calibration": block}}
    saved = {
        "method": "temperature per label",
        "temperatures": {"sports": 1.25, "politics": 0.8125, "tech": 1.0},
        "fitted_on": "valid",
        "valid_rows": 30,
    }
    assert method_text("temperature per label", saved) == (
        "Temperature scaling per label: 3 temperatures, from 0.812 (politics) to 1.250 "
        "(sports), fitted on valid (30 rows; calibration.json)."
    )
    # Without calibration.json at hand: the method alone.
    assert method_text("temperature", None) == "Method: temperature, fitted on valid."
    parts = calibration_section(metrics, saved, "", "", tuned_thresholds=True)
    text = "".join(parts)
    assert "each label&#x27;s threshold (thresholds.json) is tuned" in text
    assert "the predicted label does not change" not in text
    assert "the predicted label does not change" in explanation(15, False)
    # Neither an image nor a reason: no paragraph about the diagram.
    assert "reliability" not in text


# matplotlib made unimportable, as test_probability_reports does it.
BLOCKED = "import sys; sys.modules['matplotlib'] = None; "


def test_calibration_without_matplotlib_says_the_diagram_was_skipped(trained_run, tmp_path):
    _, run_dir, _ = trained_run
    folder = copy_run(run_dir, tmp_path / "run")
    here = str(Path(__file__).parent)
    script = (
        BLOCKED
        + "from pathlib import Path; sys.path.insert(0, sys.argv[1]); "
        + "import test_calibration_report as t; t.write_reports(Path(sys.argv[2]), 'auto', "
        + "report=print)"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, here, str(folder)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    skipped = "confusion_matrix.png, training_curves.png, reliability.png"
    assert f"note: plots skipped ({skipped})" in done.stdout
    assert not list(folder.glob("*.png"))
    found = section((folder / "report.html").read_text(encoding="utf-8"))
    assert found.paragraphs[-1] == (
        f"No reliability diagram: matplotlib is not installed, so {skipped} were skipped "
        f"({plots.EXTRA})."
    )
