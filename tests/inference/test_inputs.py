"""What eval and predict read: their messages name the option that fixes a mistake
(--text-column, --label-column, --on-bad-rows), not a key of the run's config, and
--on-bad-rows chooses what becomes of bad rows; blank stdin lines get no prediction."""

from __future__ import annotations

import csv
import io
import json

from typer.testing import CliRunner

from seqcls.cli import app

runner = CliRunner()


def invoke(*args, input=None):
    return runner.invoke(app, [str(arg) for arg in args], input=input)


def test_inputs_a_missing_column_names_the_option_that_picks_another(trained_run, tmp_path):
    _, run_dir, _ = trained_run
    other = tmp_path / "other.csv"
    other.write_text("sentence,label\ni lost my card,card_lost\n", encoding="utf-8")
    result = invoke("predict", run_dir, other)
    assert result.exit_code == 3, result.output
    assert (
        "text column 'text' not found" in result.output and "['sentence', 'label']" in result.output
    )
    assert "--text-column" in result.output and "data.text_column" not in result.output
    # The option it names works.
    result = invoke("predict", run_dir, other, "--text-column", "sentence")
    assert result.exit_code == 0, result.output
    assert list(csv.DictReader(io.StringIO(result.stdout)))[0]["predicted_label"] == "card_lost"
    result = invoke("eval", run_dir, other, "-o", tmp_path / "other.json")
    assert result.exit_code == 3 and "--text-column" in result.output
    assert "data.text_column" not in result.output
    unlabelled = tmp_path / "nolabel.csv"
    unlabelled.write_text("text\ni lost my card\n", encoding="utf-8")
    result = invoke("eval", run_dir, unlabelled, "-o", tmp_path / "nolabel.json")
    assert result.exit_code == 3, result.output
    assert "label column 'label' not found" in result.output
    assert "--label-column" in result.output and "data.label_column" not in result.output
    assert "seqcls predict" in result.output  # a file without labels is predict's


def test_inputs_on_bad_rows_lets_eval_leave_out_labels_the_run_never_saw(trained_run, tmp_path):
    _, run_dir, _ = trained_run
    unseen = tmp_path / "unseen.csv"
    unseen.write_text(
        "text,label\ni lost my card,card_lost\nhello there,greeting\n", encoding="utf-8"
    )
    output = tmp_path / "unseen.json"
    result = invoke("eval", run_dir, unseen, "-o", output)
    assert result.exit_code == 3, result.output
    assert "label 'greeting' does not occur in the training data" in result.output
    assert "pass --on-bad-rows skip" in result.output and "data.on_bad_rows" not in result.output
    assert not output.exists()
    result = invoke("eval", run_dir, unseen, "-o", output, "--on-bad-rows", "skip")
    assert result.exit_code == 0, result.output
    assert "left out 1 bad row(s) (label not in train: 1)" in result.output
    metrics = json.loads(output.read_text())
    assert metrics["bad_rows"] == {"label not in train": 1}
    assert sum(map(sum, metrics["confusion_matrix"])) == 1  # the one row with a known label
    result = invoke("eval", run_dir, unseen, "-o", output, "--on-bad-rows", "drop")
    assert result.exit_code == 2 and "--on-bad-rows" in result.output


def test_inputs_on_bad_rows_lets_predict_leave_out_rows_it_cannot_read(trained_run, tmp_path):
    _, run_dir, _ = trained_run
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("id,text\n1,i lost my card\n2,top,up,failed\n", encoding="utf-8")
    result = invoke("predict", run_dir, ragged)
    assert result.exit_code == 3, result.output
    assert "wrong field count" in result.output and "pass --on-bad-rows skip" in result.output
    result = invoke("predict", run_dir, ragged, "--on-bad-rows", "warn")
    assert result.exit_code == 0, result.output
    assert [row["id"] for row in csv.DictReader(io.StringIO(result.stdout))] == ["1"]
    assert "ragged.csv, line 3" in result.stderr  # warn lists the rows left out


def test_inputs_blank_stdin_lines_get_no_prediction_and_a_note(trained_run):
    _, run_dir, _ = trained_run
    result = invoke("predict", run_dir, "-", input="i lost my card\n\n   \nmy top up failed\n")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [row["text"] for row in rows] == ["i lost my card", "my top up failed"]
    assert "note: stdin: skipped 2 blank line(s)" in result.stderr
    result = invoke("predict", run_dir, "-", input="i lost my card\n")
    assert result.exit_code == 0 and "skipped" not in result.stderr
