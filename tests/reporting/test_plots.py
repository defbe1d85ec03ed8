"""confusion_matrix.png, training_curves.png and report.html: produced, valid, and parsed."""

import json
import struct
from html.parser import HTMLParser

import numpy as np
import pytest
from typer.testing import CliRunner

from seqcls.cli import app
from seqcls.config import load_config
from seqcls.errors import ConfigError
from seqcls.reporting import html as html_report
from seqcls.reporting import plots

runner = CliRunner()


def png_size(path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert data.rstrip(b"\x00")[-8:-4] == b"IEND"  # complete, not truncated
    return width, height


def test_confusion_matrix_png_stays_legible_with_77_labels(tmp_path):
    labels = [f"intent_with_a_long_name_{i:02d}" for i in range(77)]
    generator = np.random.default_rng(0)
    matrix = np.diag(generator.integers(20, 40, size=77)) + generator.integers(0, 3, size=(77, 77))
    path = tmp_path / "cm.png"
    plots.confusion_matrix_png(path, labels, matrix.tolist(), "77 labels")
    width, height = png_size(path)
    # About 0.2 inch (20 px) per label plus room for the long tick labels.
    assert 1500 <= width <= 4000 and 1500 <= height <= 4000
    small = tmp_path / "small.png"
    plots.confusion_matrix_png(small, ["a", "b", "c"], [[5, 1, 0], [0, 6, 0], [2, 0, 4]], "3")
    assert max(png_size(small)) < 1000
    assert not list(tmp_path.glob(".*"))  # no temporary files left behind


def test_training_curves_png_has_one_panel_per_metric(tmp_path):
    rows = [
        {
            "epoch": e,
            "accuracy": 0.5 + e / 20,
            "loss": 1 / e,
            "val_accuracy": 0.5 + e / 25,
            "val_loss": 1.1 / e,
            "seconds": 1.0,
        }
        for e in range(1, 6)
    ]
    path = tmp_path / "curves.png"
    plots.training_curves_png(path, rows, best_epoch=4)
    width, height = png_size(path)
    assert 600 <= width <= 1400 and 250 <= height <= 600  # two panels side by side


def test_plots_on_without_matplotlib_is_a_config_error(monkeypatch, tiny_config):
    monkeypatch.setattr(plots, "available", lambda: False)
    with pytest.raises(ConfigError, match=r"pip install 'seqcls\[plots\]'"):
        plots.wanted(True)
    assert plots.wanted("auto") is False and plots.wanted(False) is False
    from seqcls.training.runtime import check_environment

    with pytest.raises(ConfigError, match="output.plots"):
        check_environment(load_config(tiny_config, ["output.plots=true"]))


def test_confident_mistakes_are_wrong_and_sorted_by_probability():
    labels = ["a", "b", "c"]
    probabilities = np.array([[0.9, 0.05, 0.05], [0.2, 0.7, 0.1], [0.1, 0.1, 0.8], [0.6, 0.3, 0.1]])
    mistakes = html_report.confident_mistakes(
        ["t0", "t1", "t2", "t3"], ["b", "b", "a", "c"], probabilities, labels
    )
    assert [m["text"] for m in mistakes] == ["t0", "t2", "t3"]
    assert [m["predicted"] for m in mistakes] == ["a", "c", "a"]


class ReportParser(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.images, self.external, self.scripts = [], [], 0
        self._table = self._row = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            self._table = attrs.get("class", "other")
            self.tables.setdefault(self._table, [])
        elif tag == "tr" and self._table:
            self._row = []
            self.tables[self._table].append(self._row)
        elif tag == "img":
            self.images.append(attrs["src"])
        elif tag == "script":
            self.scripts += 1
        for key in ("src", "href"):
            if (attrs.get(key) or "").startswith(("http:", "https:", "//")):
                self.external.append(attrs[key])

    def handle_endtag(self, tag):
        if tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._row is not None and self._table and data.strip():
            self._row.append(data.strip())


@pytest.mark.slow
def test_training_writes_pngs_and_a_self_contained_report(tmp_path):
    from conftest import TINY_CONFIG, cli_train, labelled_rows, write_csv

    (tmp_path / "data").mkdir()
    train = labelled_rows(90, seed=1)
    valid = labelled_rows(24, seed=2)
    # A text with markup, labelled wrongly, so it shows up among the mistakes.
    valid[0] = ("<script>alert(1)</script> i lost my card", "top_up")
    write_csv(tmp_path / "data" / "train.csv", train)
    write_csv(tmp_path / "data" / "valid.csv", valid)
    write_csv(tmp_path / "data" / "test.csv", labelled_rows(24, seed=3))
    (tmp_path / "config.yaml").write_text(TINY_CONFIG, encoding="utf-8")
    run_dir = tmp_path / "run"
    result = cli_train(tmp_path / "config.yaml", run_dir, "training.epochs=6", "output.plots=true")
    assert result.exit_code == 0, result.output
    assert (
        "reports: confusion_matrix.png, training_curves.png, reliability.png, report.html"
        in result.output
    )
    png_size(run_dir / "confusion_matrix.png")
    png_size(run_dir / "training_curves.png")
    png_size(run_dir / "reliability.png")
    page = (run_dir / "report.html").read_text(encoding="utf-8")
    parser = ReportParser()
    parser.feed(page)
    assert not parser.external and parser.scripts == 0  # self-contained, no scripts
    assert len(parser.images) == 3 and all(
        src.startswith("data:image/png;base64,") for src in parser.images
    )
    per_class = parser.tables["per-class"][1:]
    assert sorted(row[0] for row in per_class) == ["card_lost", "exchange_rate", "top_up"]
    f1 = [float(row[3]) for row in per_class]
    assert f1 == sorted(f1)  # worst first
    mistakes = parser.tables["mistakes"][1:]
    assert 1 <= len(mistakes) <= 20
    probabilities = [float(row[0]) for row in mistakes]
    assert probabilities == sorted(probabilities, reverse=True)
    assert any(row[3].startswith("<script>alert(1)</script>") for row in mistakes)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert f"{metrics['test']['accuracy']:.4f}" in page
    assert "name: tiny-test" in page  # the resolved config
    # seqcls eval plots its own confusion matrix beside its JSON.
    result = runner.invoke(app, ["eval", str(run_dir), str(tmp_path / "data" / "test.csv")])
    assert result.exit_code == 0, result.output
    png_size(run_dir / "eval-test.confusion_matrix.png")


def test_report_and_plots_can_be_turned_off(tiny_config, tmp_path):
    config = load_config(tiny_config, ["output.plots=false", "output.html_report=false"])
    written = html_report.write_visual_reports(
        tmp_path,
        config,
        {"valid": {"accuracy": 1.0}},
        history=[{"epoch": 1, "loss": 1.0, "val_loss": 1.0, "seconds": 1.0}],
        best_epoch=1,
        task="multiclass",
        labels=["a", "b"],
        valid_texts=["x"],
        valid_labels=["a"],
        valid_probabilities=np.array([[0.9, 0.1]]),
        report=lambda message: None,
    )
    assert written == [] and not list(tmp_path.glob("*.png")) and not list(tmp_path.glob("*.html"))
