"""A whole search, in process: `seqcls tune CONFIG --trials 3` writes study.db (a real
SQLite database), trials.csv, best.yaml (which `seqcls train` trains), the terminal
table and the best trial's test metrics, and never reads the test split during the
trials; the tune directory is never reused for another search."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import pytest
from conftest import cli_train
from tuning_helpers import cli_tune, trial_states, write_tune_project

from seqcls.errors import UsageError
from seqcls.tuning import outputs, parse_duration
from seqcls.tuning import search as search_module


@pytest.fixture(scope="module")
def search(tmp_path_factory):
    """One 3-trial search shared by the tests of this module (they only read it). The
    test split is deleted for the trials and put back just before the final evaluation:
    a trial that read it would fail with a DataError, and the search with it."""
    folder = tmp_path_factory.mktemp("tune")
    config = write_tune_project(folder, epochs=1)  # one epoch: the quickest trials
    test_file = folder / "data" / "test.csv"
    saved = test_file.read_bytes()
    original, checked = outputs.best_test_metrics, search_module._check_test_file
    calls = []

    def checked_then_removed(test):  # the search checks that the file exists, at the start
        checked(test)
        test_file.unlink()

    def evaluated_at_the_end(*args, **kwargs):
        calls.append(sorted(path.name for path in (folder / "tune" / "trials").iterdir()))
        test_file.write_bytes(saved)
        return original(*args, **kwargs)

    patch = pytest.MonkeyPatch()
    patch.setattr(search_module, "_check_test_file", checked_then_removed)
    patch.setattr(outputs, "best_test_metrics", evaluated_at_the_end)
    try:
        result = cli_tune(
            config, "--trials", "3", "--output-dir", folder / "tune", "--progress", "plain"
        )
    finally:
        patch.undo()
    return folder, folder / "tune", result, calls


@pytest.mark.slow  # moved out of the default suite (over 5 s): .ci/run runs it
def test_search_writes_study_trials_and_best(search):
    folder, tune_dir, result, _ = search
    assert result.exit_code == 0, result.output
    # A real SQLite database with the three trials, all finished.
    states = trial_states(tune_dir)
    assert len(states) == 3
    assert set(states) <= {"COMPLETE", "PRUNED"} and "COMPLETE" in states
    with open(tune_dir / "trials.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["number"] for row in rows] == ["0", "1", "2"]
    assert list(rows[0]) == [
        "number",
        "state",
        "model.encoder.units",
        "training.learning_rate",
        "objective",
        "epochs",
        "seconds",
        "note",
    ]
    assert all(row["objective"] and row["epochs"] and row["seconds"] for row in rows)
    for number in range(3):  # each trial an ordinary, finished run directory
        run_dir = tune_dir / "trials" / f"{number:04d}"
        assert (run_dir / "model.keras").is_file() and (run_dir / "metrics.json").is_file()
    text = (tune_dir / "best.yaml").read_text(encoding="utf-8")
    assert "\ntune:" not in text and "\n  test: " in text


@pytest.mark.slow  # the search fixture: a study of its own (about 20 s)
def test_search_never_reads_the_test_split_during_trials(search):
    folder, tune_dir, result, calls = search
    assert result.exit_code == 0, result.output
    # The test file was missing while the three trials ran; it was read once, at the end.
    assert calls == [["0000", "0001", "0002"]]
    metrics = json.loads((tune_dir / "best_test_metrics.json").read_text(encoding="utf-8"))
    assert metrics["rows"] == 24 and metrics["file"] == str(folder / "data" / "test.csv")
    for number in range(3):
        trial = json.loads((tune_dir / "trials" / f"{number:04d}" / "metrics.json").read_text())
        assert "test" not in trial and "valid" in trial


@pytest.mark.slow  # the search fixture: a study of its own (about 20 s)
def test_search_prints_a_line_per_trial_and_the_table(search):
    _, tune_dir, result, _ = search
    assert result.exit_code == 0, result.output
    for number in range(3):
        assert f"trial {number}  [" in result.output
    assert "3 of 3 trials finished; objective val_loss on valid (minimize)" in result.output
    assert "on the test split" in result.output
    assert f"wrote {tune_dir / 'best.yaml'}" in result.output


@pytest.mark.slow  # moved out of the default suite (over 5 s): .ci/run runs it
def test_search_best_yaml_trains(search, tmp_path):
    _, tune_dir, result, _ = search
    assert result.exit_code == 0, result.output
    trained = cli_train(tune_dir / "best.yaml", tmp_path / "run", "training.epochs=1")
    assert trained.exit_code == 0, trained.output
    assert (tmp_path / "run" / "model.keras").is_file()


@pytest.mark.slow  # the search fixture: a study of its own (about 20 s)
def test_search_resume_of_a_finished_search_runs_no_trial(search):
    _, tune_dir, result, _ = search
    assert result.exit_code == 0, result.output
    before = (tune_dir / "best_test_metrics.json").stat().st_mtime_ns
    again = cli_tune("--resume", tune_dir, "--progress", "plain")
    assert again.exit_code == 0, again.output
    assert len(trial_states(tune_dir)) == 3
    # The same best trial: its test metrics are reused, the test split not read again.
    assert (tune_dir / "best_test_metrics.json").stat().st_mtime_ns == before


@pytest.mark.slow  # the search fixture: a study of its own (about 20 s)
def test_search_refuses_a_directory_that_holds_a_search(search):
    folder, tune_dir, result, _ = search
    before = (tune_dir / "study.db").read_bytes()
    again = cli_tune(folder / "config.yaml", "--trials", "1", "--output-dir", tune_dir)
    assert again.exit_code == 2
    assert "already holds a search" in again.output and "--resume" in again.output
    assert (tune_dir / "study.db").read_bytes() == before


def test_search_parse_duration():
    assert parse_duration("90") == 90
    assert parse_duration("90s") == 90
    assert parse_duration("30m") == 1800
    assert parse_duration("2h") == 7200
    assert parse_duration("1h30m") == 5400
    for bad in ("", "2x", "h", "1h 30m", "-5s"):
        with pytest.raises(UsageError):
            parse_duration(bad)


def test_search_cli_import_stays_free_of_optuna_and_tensorflow():
    probe = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import seqcls.cli"],
        capture_output=True,
        text=True,
        check=True,
    )
    # "import time: self | cumulative | <indented module>"; seqcls.tensorflow_logs is ours.
    modules = [line.rsplit("|", 1)[-1].strip() for line in probe.stderr.splitlines()]
    imported = [name for name in modules if name.split(".")[0] in ("optuna", "tensorflow")]
    assert "seqcls.cli" in modules and imported == []
