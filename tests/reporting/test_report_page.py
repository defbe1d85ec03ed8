"""report.html's Training section (epochs run, why training stopped, the best epoch, wall
time, what the data decided), the decided config lines marked, and a confusion matrix
whose numbers fit their cells and whose x labels stay horizontal when they fit
(issue 18 item 14)."""

import json
import re
import shutil
from html.parser import HTMLParser

import numpy as np
import pytest

from seqcls.config import load_config
from seqcls.reporting import html as html_report
from seqcls.reporting import plots
from seqcls.reporting.report_sections import duration, stopping_reason


class Training(HTMLParser):
    """The rows of report.html's Training table: {name: value}."""

    def __init__(self):
        super().__init__()
        self.rows, self._cell, self._in = {}, [], False

    def handle_starttag(self, tag, attrs):
        if tag == "table" and dict(attrs).get("class") == "training":
            self._in = True
        elif self._in and tag == "tr":
            self._cell = []

    def handle_endtag(self, tag):
        if tag == "table":
            self._in = False
        elif self._in and tag == "tr":
            self.rows[self._cell[0]] = self._cell[1]

    def handle_data(self, data):
        if self._in:
            self._cell.append(data)


def training_rows(page):
    parser = Training()
    parser.feed(page)
    return parser.rows


def test_report_page_shows_how_training_went_and_what_the_data_decided(trained_run):
    _, run_dir, _ = trained_run
    page = (run_dir / "report.html").read_text(encoding="utf-8")
    manifest = json.loads((run_dir / "manifest.json").read_text())
    rows = training_rows(page)
    epochs = manifest["epochs_run"]
    assert rows["epochs run"] == f"{epochs} (limit: training.epochs 8)"
    # The shared run trains its 8 epochs (val_loss keeps improving on the tiny data).
    assert rows["stopped by"] == "the epoch limit (training.epochs 8)"
    assert rows["best epoch"] == f"{manifest['best_epoch']} (by val_loss)"
    assert re.fullmatch(r"\d+\.\d s.*", rows["wall time"])
    # The config said task: auto; the page gives what the data decided, and marks it.
    assert rows["decided from the data"] == "task: multiclass (auto in the config)"
    assert "<mark>task: multiclass  # auto in the config trained with" in page
    assert "task: auto" not in page


def test_report_page_stopping_reasons(tiny_config):
    stopping = load_config(tiny_config).training.early_stopping  # val_loss, patience 3
    assert stopping_reason(7, 20, True, 4, stopping) == (
        "early stopping at epoch 7; val_loss had not improved for 3 epoch(s) since "
        "epoch 4 (patience 3)"
    )
    assert stopping_reason(20, 20, False, 18, stopping) == "the epoch limit (training.epochs 20)"
    assert "none was trained after the resume" in stopping_reason(9, 6, False, 5, stopping)
    # Not recorded: inferred (only runs that ended by early stopping or at the limit
    # reach their report).
    assert stopping_reason(7, 20, None, 4, stopping).startswith("early stopping at epoch 7")
    assert stopping_reason(20, 20, None, 20, stopping).startswith("the epoch limit")
    assert [duration(s) for s in (4.26, 75, 3725)] == ["4.3 s", "1 min 15 s", "1 h 02 min"]


def test_report_page_takes_trainings_own_record(trained_run, tmp_path):
    """write_visual_reports given what training recorded (stopped early, wall time)."""
    _, run_dir, _ = trained_run
    shutil.copy(run_dir / "config.yaml", tmp_path / "config.yaml")
    config = load_config(run_dir / "config.yaml", ["output.plots=false"])
    history = [{"epoch": e, "loss": 1 / e, "val_loss": 1 / e, "seconds": 1.0} for e in range(1, 6)]
    written = html_report.write_visual_reports(
        tmp_path,
        config,
        json.loads((run_dir / "metrics.json").read_text()),
        history=history,
        best_epoch=2,
        task="multiclass",
        labels=["card_lost", "exchange_rate", "top_up"],
        valid_texts=["i lost my card"],
        valid_labels=["card_lost"],
        valid_probabilities=np.array([[0.9, 0.05, 0.05]]),
        report=lambda message: None,
        stopped_early=True,
        wall_seconds=75.0,
    )
    assert written == ["report.html"]
    rows = training_rows((tmp_path / "report.html").read_text(encoding="utf-8"))
    assert rows["epochs run"] == "5 (limit: training.epochs 8)"
    assert rows["stopped by"].startswith("early stopping at epoch 5; val_loss had not improved")
    assert rows["best epoch"] == "2 (by val_loss)"
    assert rows["wall time"] == "1 min 15 s"


def cell_layout(labels, matrix):
    """The drawn figure's x tick rotations, the tick labels' and the cells' text boxes
    (display pixels), and one cell's size in pixels."""
    pytest.importorskip("matplotlib")
    figure = plots.confusion_matrix_figure(labels, matrix, "title")
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    axes = figure.axes[0]
    ticks = axes.get_xticklabels()
    # The image spans n cells; each cell's side in pixels.
    box = axes.get_window_extent(renderer)
    cell = min(box.width, box.height) / len(labels)
    texts = [(text.get_fontsize(), text.get_window_extent(renderer)) for text in axes.texts]
    layout = (
        [tick.get_rotation() for tick in ticks],
        [tick.get_window_extent(renderer) for tick in ticks],
        texts,
        cell,
    )
    import matplotlib.pyplot as plt

    plt.close(figure)
    return layout


def test_report_page_binary_confusion_matrix_has_large_counts_and_flat_labels():
    rotations, ticks, texts, cell = cell_layout(["negative", "positive"], [[180, 12], [25, 160]])
    assert rotations == [0.0, 0.0]  # the labels fit their columns: not rotated
    assert not ticks[0].overlaps(ticks[1])
    assert len(texts) == 4
    for font, box in texts:
        # Sized to the cell: large, yet inside it.
        assert font >= 16
        assert box.width < cell and box.height < cell
        assert box.width > 0.3 * cell  # not a tiny number in a large cell


def test_report_page_confusion_matrix_labels_rotate_only_when_they_do_not_fit():
    labels = ["card_lost", "exchange_rate", "top_up"]
    rotations, ticks, _, _ = cell_layout(labels, [[8, 0, 0], [0, 7, 1], [0, 0, 8]])
    assert rotations == [0.0] * 3
    assert not any(a.overlaps(b) for a, b in zip(ticks, ticks[1:]))
    long = [f"intent_with_a_long_name_{i:02d}" for i in range(12)]
    rotations, ticks, texts, cell = cell_layout(long, (np.eye(12) * 9 + 1).tolist())
    assert rotations == [90.0] * 12
    assert not any(a.overlaps(b) for a, b in zip(ticks, ticks[1:]))
    # Every cell's numbers stay inside their cell.
    assert all(box.width < cell and box.height < cell for _, box in texts)


def test_report_page_twenty_label_cells_keep_their_numbers_inside():
    labels = [f"intent_{i:02d}" for i in range(20)]
    generator = np.random.default_rng(0)
    matrix = np.diag(generator.integers(20, 40, size=20)) + generator.integers(0, 3, (20, 20))
    _, _, texts, cell = cell_layout(labels, matrix.tolist())
    assert texts and all(box.width < cell for _, box in texts)


@pytest.mark.slow
def test_report_page_of_a_run_that_stopped_early_with_max_length_auto(tmp_path):
    from conftest import cli_train, write_tiny_project

    config = write_tiny_project(tmp_path)
    run_dir = tmp_path / "run"
    result = cli_train(
        config,
        run_dir,
        "training.epochs=30",
        "preprocessing.max_length=auto",
        "training.early_stopping={monitor: val_accuracy, patience: 1}",
        options=("--quiet",),
    )
    assert result.exit_code == 0, result.output
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["stopped_early"] and manifest["epochs_run"] < 30
    page = (run_dir / "report.html").read_text(encoding="utf-8")
    rows = training_rows(page)
    epochs, best = manifest["epochs_run"], manifest["best_epoch"]
    assert rows["epochs run"] == f"{epochs} (limit: training.epochs 30)"
    assert rows["stopped by"] == (
        f"early stopping at epoch {epochs}; val_accuracy had not improved for "
        f"{epochs - best} epoch(s) since epoch {best} (patience 1)"
    )
    decided = rows["decided from the data"]
    assert f"max_length: {manifest['max_length']}" in decided and "task: multiclass" in decided
    assert "max_length: auto" not in page


def test_report_page_binary_plots_keep_their_own_titles(tiny_config, tmp_path):
    """Each plot is drawn with its own title (the confusion matrix of a binary run was
    drawn with the ROC plot's "valid" title: the calls looked their title up late)."""
    from test_probability_reports import binary_example

    labels, sigmoid, metrics = binary_example()
    config = load_config(tiny_config)
    jobs = html_report._plot_jobs(
        tmp_path, config, metrics, [], None, ["neg", "pos"], labels, sigmoid
    )
    titles = {path.name: draw.args[-1] for path, draw in jobs}
    assert titles == {
        "confusion_matrix.png": "tiny-test: valid confusion matrix (row-normalised)",
        "roc_pr_curves.png": "tiny-test: valid",
    }
