"""Searches across processes (slow: each runs seqcls in subprocesses): a search killed
with SIGKILL after its second trial resumes with `--resume` and ends with exactly the
trials asked for (the trial the kill cut short is failed, not counted); `--jobs 2` runs
trials in two processes on one study. `python -m pytest -m slow tests/tuning` runs them."""

from __future__ import annotations

import csv
import sqlite3
import subprocess
import sys
import time

import pytest
from tuning_helpers import cli_tune, trial_states, write_tune_project

# No pruning: every trial runs its epochs, so the third is caught running.
STEADY = """\
tune:
  pruning: {enabled: false}
  space:
    model.encoder.units: {choices: [4, 8]}
    training.learning_rate: {low: 0.003, high: 0.03, log: true}
"""


def _states(tune_dir) -> list[str]:
    try:
        return trial_states(tune_dir)
    except sqlite3.OperationalError:  # not created yet, or busy for a moment
        return []


@pytest.mark.slow
def test_worker_search_killed_after_two_trials_resumes_to_exactly_the_trials_asked(tmp_path):
    config = write_tune_project(tmp_path, STEADY, epochs=3)
    tune_dir = tmp_path / "tune"
    command = [sys.executable, "-m", "seqcls", "tune", str(config), "--trials", "4"]
    command += ["--output-dir", str(tune_dir), "--progress", "plain"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 300
    states: list[str] = []
    while time.time() < deadline and process.poll() is None:
        states = _states(tune_dir) if (tune_dir / "study.db").exists() else []
        if states == ["COMPLETE", "COMPLETE", "RUNNING"]:
            break
        time.sleep(0.1)
    assert states == ["COMPLETE", "COMPLETE", "RUNNING"], process.communicate()[1]
    process.kill()  # SIGKILL: no clean-up of any kind
    process.wait()
    assert _states(tune_dir) == ["COMPLETE", "COMPLETE", "RUNNING"]

    result = cli_tune("--resume", tune_dir, "--progress", "plain")
    assert result.exit_code == 0, result.output
    assert "trial(s) 2 did not finish before the search stopped" in result.output
    states = _states(tune_dir)
    assert states[:3] == ["COMPLETE", "COMPLETE", "FAIL"]
    assert len(states) == 5 and states[3:] == ["COMPLETE", "COMPLETE"]
    assert "4 of 4 trials finished" in result.output
    with open(tune_dir / "trials.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["state"] for row in rows] == [
        "complete",
        "complete",
        "failed",
        "complete",
        "complete",
    ]
    assert rows[2]["note"].startswith("interrupted")
    assert (tune_dir / "best.yaml").is_file()


@pytest.mark.slow
def test_worker_jobs_run_trials_in_parallel_on_one_study(tmp_path):
    config = write_tune_project(tmp_path, STEADY, epochs=2)
    tune_dir = tmp_path / "tune"
    command = [sys.executable, "-m", "seqcls", "tune", str(config), "--trials", "3"]
    command += ["--jobs", "2", "--output-dir", str(tune_dir), "--progress", "plain"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    states = _states(tune_dir)
    assert "RUNNING" not in states
    assert 3 <= states.count("COMPLETE") <= 4  # two trials may end at the same moment
    assert "[job 1] trial " in done.stderr  # the worker's own lines
    assert (tune_dir / "best.yaml").is_file()
