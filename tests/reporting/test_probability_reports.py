"""ROC-AUC, PR-AUC and log-loss in metrics.json, eval's JSON and report.html; the ROC and
precision-recall curves of binary runs; and, without matplotlib, one note in the terminal
naming the plots skipped and the extra that draws them."""

import json
import subprocess
import sys
from html.parser import HTMLParser

import numpy as np
import pytest
from typer.testing import CliRunner

from seqcls.cli import app
from seqcls.config import load_config
from seqcls.reporting import html as html_report
from seqcls.reporting import plots
from seqcls.tasks.metrics import classification_metrics, probability_metrics

runner = CliRunner()
EXTRA = "pip install 'seqcls[plots]'"


class Images(HTMLParser):
    def __init__(self):
        super().__init__()
        self.images = []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.images.append(dict(attrs)["alt"])


def binary_example():
    """Valid labels, sigmoid outputs and their metrics for a binary run (neg, pos)."""
    generator = np.random.default_rng(0)
    true = generator.integers(0, 2, size=40)
    sigmoid = np.clip(true * 0.4 + generator.random(40) * 0.6, 0, 1).reshape(-1, 1)
    probabilities = np.concatenate([1 - sigmoid, sigmoid], axis=1)
    metrics = classification_metrics(true, probabilities.argmax(axis=1), ["neg", "pos"])
    metrics.update(probability_metrics(true, probabilities, ranking=True))
    labels = [["neg", "pos"][index] for index in true]
    return labels, sigmoid, {"task": "binary", "valid": metrics}


def write_binary_reports(folder, config_path, plots_setting, report):
    labels, sigmoid, metrics = binary_example()
    (folder / "config.yaml").write_text("name: binary\n", encoding="utf-8")
    config = load_config(config_path, [f"output.plots={plots_setting}"])
    return html_report.write_visual_reports(
        folder,
        config,
        metrics,
        history=[{"epoch": 1, "loss": 0.6, "val_loss": 0.7, "seconds": 1.0}],
        best_epoch=1,
        task="binary",
        labels=["neg", "pos"],
        valid_texts=[f"text {i}" for i in range(len(labels))],
        valid_labels=labels,
        valid_probabilities=sigmoid,
        report=report,
    )


def test_probability_reports_binary_page_has_auc_columns_and_roc_pr_curves(tiny_config, tmp_path):
    pytest.importorskip("matplotlib")
    folder = tmp_path / "run"
    folder.mkdir()
    messages = []
    written = write_binary_reports(folder, tiny_config, "true", messages.append)
    assert written == [
        "confusion_matrix.png",
        "training_curves.png",
        "roc_pr_curves.png",
        "report.html",
    ]
    assert (folder / "roc_pr_curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = (folder / "report.html").read_text(encoding="utf-8")
    parser = Images()
    parser.feed(page)
    assert parser.images == ["confusion_matrix.png", "training_curves.png", "roc_pr_curves.png"]
    valid = binary_example()[2]["valid"]
    for name in ("roc_auc", "pr_auc", "log_loss"):
        assert f"<th>{name}</th>" in page
        assert f"<td>{valid[name]:.4f}</td>" in page
    assert not any("skipped" in message for message in messages)


def test_probability_reports_curves_png_draws_both_panels(tmp_path):
    pytest.importorskip("matplotlib")
    import struct

    labels, sigmoid, _ = binary_example()
    path = tmp_path / "curves.png"
    positive = [label == "pos" for label in labels]
    plots.roc_pr_curves_png(path, positive, sigmoid[:, 0], "pos", "valid")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert width > 1.8 * height  # two panels side by side
    # One class only: no curve to draw, still a valid figure (the chance lines).
    plots.roc_pr_curves_png(tmp_path / "one.png", [True, True], [0.2, 0.9], "pos", "valid")
    assert not list(tmp_path.glob(".*"))  # no temporary files left behind


# The CLI, with matplotlib made unimportable: sys.modules["matplotlib"] = None is
# Python's own way to make an import fail (find_spec answers None, import raises).
BLOCKED = "import sys; sys.modules['matplotlib'] = None; "


def test_probability_reports_without_matplotlib_say_once_which_plots_were_skipped(
    tiny_config, tmp_path
):
    script = (
        BLOCKED
        + "from pathlib import Path; import sys; sys.path.insert(0, sys.argv[1]); "
        + "import test_probability_reports as t; "
        + "t.write_binary_reports(Path(sys.argv[2]), Path(sys.argv[3]), 'auto', print)"
    )
    folder = tmp_path / "run"
    folder.mkdir()
    here = str(__import__("pathlib").Path(__file__).parent)
    done = subprocess.run(
        [sys.executable, "-c", script, here, str(folder), str(tiny_config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    skipped = "confusion_matrix.png, training_curves.png, roc_pr_curves.png"
    expected = f"note: plots skipped ({skipped}): matplotlib is not installed; {EXTRA}"
    assert done.stdout.count("plots skipped") == 1 and expected in done.stdout
    assert "reports: report.html" in done.stdout
    assert not list(folder.glob("*.png"))
    page = (folder / "report.html").read_text(encoding="utf-8")
    assert f"so {skipped} were skipped" in page and "seqcls[plots]" in page


def test_probability_reports_plots_off_is_not_reported_as_missing(tiny_config, tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    messages = []
    written = write_binary_reports(folder, tiny_config, "false", messages.append)
    assert written == ["report.html"] and messages == ["reports: report.html"]
    assert "output.plots is off" in (folder / "report.html").read_text(encoding="utf-8")


def test_probability_reports_multiclass_run_has_log_loss(trained_run, tmp_path):
    folder, run_dir, _ = trained_run
    metrics = json.loads((run_dir / "metrics.json").read_text())
    for split in ("valid", "test"):
        assert 0 < metrics[split]["log_loss"] < 5
        assert "roc_auc" not in metrics[split]
    page = (run_dir / "report.html").read_text(encoding="utf-8")
    assert f"<td>{metrics['test']['log_loss']:.4f}</td>" in page
    output = tmp_path / "eval.json"
    result = runner.invoke(
        app, ["eval", str(run_dir), str(folder / "data" / "test.csv"), "--output", str(output)]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(output.read_text())["log_loss"] == pytest.approx(metrics["test"]["log_loss"])


def binary_rows(count, seed):
    from conftest import labelled_rows

    rows = [row for row in labelled_rows(count * 2, seed) if row[1] != "exchange_rate"]
    return rows[:count]


@pytest.mark.slow
def test_probability_reports_binary_run_end_to_end(tmp_path):
    """A binary run: AUCs and log-loss in metrics.json (valid, test), eval's JSON, and
    report.html with the ROC/PR curves."""
    pytest.importorskip("matplotlib")
    from conftest import TINY_CONFIG, cli_train, write_csv

    (tmp_path / "data").mkdir()
    for name, count, seed in (("train", 60, 1), ("valid", 20, 2), ("test", 20, 3)):
        write_csv(tmp_path / "data" / f"{name}.csv", binary_rows(count, seed))
    (tmp_path / "config.yaml").write_text(TINY_CONFIG, encoding="utf-8")
    run_dir = tmp_path / "run"
    result = cli_train(tmp_path / "config.yaml", run_dir, "output.plots=true")
    assert result.exit_code == 0, result.output
    assert "roc_pr_curves.png" in result.output
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["task"] == "binary"
    for split in ("valid", "test"):
        assert 0 <= metrics[split]["roc_auc"] <= 1 and 0 <= metrics[split]["pr_auc"] <= 1
        assert metrics[split]["log_loss"] > 0
    page = (run_dir / "report.html").read_text(encoding="utf-8")
    assert f"<td>{metrics['test']['roc_auc']:.4f}</td>" in page
    parser = Images()
    parser.feed(page)
    assert "roc_pr_curves.png" in parser.images
    output = tmp_path / "eval.json"
    evaluated = runner.invoke(
        app, ["eval", str(run_dir), str(tmp_path / "data" / "test.csv"), "--output", str(output)]
    )
    assert evaluated.exit_code == 0, evaluated.output
    again = json.loads(output.read_text())
    for name in ("roc_auc", "pr_auc", "log_loss"):
        assert again[name] == pytest.approx(metrics["test"][name])


@pytest.mark.slow
def test_probability_reports_train_without_matplotlib_names_skipped_plots_once(tmp_path):
    """`seqcls train` in a process where matplotlib cannot be imported: the terminal says
    once which plots were skipped and the extra that adds them."""
    from conftest import TINY_CONFIG, write_csv

    (tmp_path / "data").mkdir()
    for name, count, seed in (("train", 40, 1), ("valid", 12, 2), ("test", 12, 3)):
        write_csv(tmp_path / "data" / f"{name}.csv", binary_rows(count, seed))
    (tmp_path / "config.yaml").write_text(
        TINY_CONFIG.replace("plots: false", "plots: auto"), encoding="utf-8"
    )
    script = BLOCKED + "from seqcls.cli import app; sys.argv[0] = 'seqcls'; app()"
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            script,
            "train",
            str(tmp_path / "config.yaml"),
            "--output-dir",
            str(tmp_path / "run"),
            "--set",
            "training.epochs=1",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**__import__("os").environ, "COLUMNS": "200"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    output = done.stdout + done.stderr
    assert output.count("plots skipped") == 1, output
    assert (
        "plots skipped (confusion_matrix.png, training_curves.png, roc_pr_curves.png, "
        "reliability.png): "
        f"matplotlib is not installed; {EXTRA}"
    ) in " ".join(output.split()), output
    assert not list((tmp_path / "run").glob("*.png"))
