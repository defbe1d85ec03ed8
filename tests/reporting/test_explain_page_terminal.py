"""`predict --explain` in the terminal on a labelled file: each prediction marked right
or wrong against the true label, the wrong rows counted and listed at the end; spaces
shown as ␣ and the spread printed (issue 18 item 9)."""

import io
import re

from rich.console import Console
from typer.testing import CliRunner

from seqcls.cli import app
from seqcls.reporting.explain import render_terminal

runner = CliRunner()


def test_explain_marks_mistakes_against_the_label_column(trained_run, tmp_path):
    from test_explain_page import FLIPPED, labelled_file

    _, run_dir, _ = trained_run
    source = tmp_path / "labelled.csv"
    rows = labelled_file(source)
    result = runner.invoke(app, ["predict", str(run_dir), str(source), "--explain"])
    assert result.exit_code == 0, result.output
    heads = re.findall(r"^(\d+)\. (\w+) \([01]\.\d{3}\)  (.*)$", result.stdout, flags=re.M)
    assert len(heads) == len(rows)
    for number, predicted, verdict in heads:
        truth = rows[int(number) - 1][1]
        if int(number) - 1 in FLIPPED:
            assert verdict == f"✗ true: {truth}" and predicted != truth
        else:
            assert verdict == "✓" and predicted == truth
    numbers = ", ".join(f"#{i + 1}" for i in FLIPPED)
    assert f"3 of 24 predictions wrong (true labels from column 'label'): {numbers}" in (
        result.stdout
    )


def test_explain_terminal_shows_spaces_and_the_spread():
    console = Console(file=io.StringIO(), width=100, color_system=None)
    row = {
        "text": "a b",
        "predicted_label": "x",
        "predicted_probability": 0.9,
        "label": "y",
        "attention": [["a", 0.2], [" ", 0.5], ["b", 0.3]],
    }
    render_terminal(console, [row], "text", ["attention"], "label")
    output = console.file.getvalue()
    assert "   a ␣ b\n" in output  # no trailing space
    assert "most attended: ␣ 0.50, b 0.30, a 0.20 · spread over ~2.8 of 3 tokens" in output
    assert "1. x (0.900)  ✗ true: y" in output
    assert "1 of 1 predictions wrong (true labels from column 'label'): #1" in output
