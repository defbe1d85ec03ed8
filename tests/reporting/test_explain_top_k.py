"""predict --explain --top-k K and --html with --top-k: the K most probable labels are
shown with each explained text, in the terminal and on the page."""

import csv
import re

from typer.testing import CliRunner

from seqcls.cli import app

runner = CliRunner()
LABELS = {"card_lost", "exchange_rate", "top_up"}


def write_texts(path):
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text"])
        writer.writerows([["i lost my card"], ["what is the exchange rate for euros"]])
    return str(path)


def ranked(line):
    """[(label, probability)] from 'top 3: a 0.812, b 0.100, c 0.088'."""
    return [(label, float(p)) for label, p in re.findall(r"(\w+) (\d\.\d{3})", line)]


def test_explain_top_k_shows_the_k_labels_in_the_terminal_and_the_page(trained_run, tmp_path):
    _, run_dir, _ = trained_run
    texts = write_texts(tmp_path / "texts.csv")
    page_path = tmp_path / "explain.html"
    result = runner.invoke(
        app,
        ["predict", str(run_dir), texts, "--explain", "--top-k", "3", "--html", str(page_path)],
    )
    assert result.exit_code == 0, result.output
    lines = re.findall(r"^ +top 3: (.*)$", result.stdout, flags=re.M)
    assert len(lines) == 2
    for line, predicted in zip(lines, ("card_lost", "exchange_rate")):
        labels = ranked(line)
        assert {label for label, _ in labels} == LABELS
        probabilities = [p for _, p in labels]
        assert probabilities == sorted(probabilities, reverse=True)
        assert labels[0][0] == predicted
    page = page_path.read_text(encoding="utf-8")
    shown = re.findall(r'<div class="topk">top 3: ([^<]*)</div>', page)
    assert [ranked(line) for line in shown] == [ranked(line) for line in lines]
    # Without --top-k, no ranking line.
    plain = runner.invoke(app, ["predict", str(run_dir), texts, "--explain"])
    assert plain.exit_code == 0 and "top 3:" not in plain.stdout
