"""Searches across processes (slow: each runs seqcls in subprocesses): a search killed
with SIGKILL after its second trial resumes with `--resume` and ends with exactly the
trials asked for (the trial the kill cut short is failed, not counted); `--jobs 2` runs
trials in two processes on one study. `python -m pytest -m slow tests/tuning` runs them.
Quick ones, with stand-in worker processes: the workers keep the tune directory locked
after the main process is killed, and a Ctrl-C at the terminal reaches each worker as
one signal."""

from __future__ import annotations

import csv
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest
from tuning_helpers import cli_tune, trial_states, write_tune_project

from seqcls.config import load_config
from seqcls.run.directory import RunLock
from seqcls.tuning import worker
from seqcls.tuning.study import create_study, make_search

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


# A stand-in worker: says it is ready, records the signals it receives (until a second
# after the first) in DIR/<pid>.signals, and exits.
RECORDER = """\
import os, signal, sys, time
from pathlib import Path
folder, got = Path(sys.argv[1]), []
for signum in (signal.SIGINT, signal.SIGTERM):
    signal.signal(signum, lambda number, frame: got.append(signal.Signals(number).name))
(folder / f"{os.getpid()}.ready").write_text("")
deadline = time.time() + 60
while not got and time.time() < deadline:
    time.sleep(0.02)
time.sleep(1.0)  # a second signal, if any, arrives meanwhile
(folder / f"{os.getpid()}.signals").write_text(" ".join(got))
"""


def _wait_for(predicate, seconds: float = 60.0) -> None:
    deadline = time.time() + seconds
    while not predicate():
        assert time.time() < deadline, "timed out"
        time.sleep(0.05)


def test_worker_workers_keep_the_directory_locked_after_the_main_process_dies(
    tmp_path, monkeypatch
):
    """`--resume` right after a SIGKILL of the main process is refused while a worker is
    still finishing (it would otherwise run trials beside it), and accepted once the
    workers have ended."""
    config_path = write_tune_project(tmp_path)
    tune_dir = tmp_path / "tune"
    tune_dir.mkdir()
    create_study(tune_dir, make_search(load_config(config_path), 3))
    sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
    monkeypatch.setattr(worker, "worker_command", lambda *args: sleeper)
    lock = RunLock.take(tune_dir)
    workers = worker.start_workers(tune_dir, 1, None, "quiet", lock=lock)
    try:
        # SIGKILL of the main process: the kernel closes its descriptor, the file stays.
        os.close(lock.descriptor)
        lock.descriptor = None
        refused = cli_tune("--resume", tune_dir, "--trials", "1")
        assert refused.exit_code == 2, refused.output
        assert "another seqcls tune is using" in refused.output
    finally:
        workers[0].kill()
        workers[0].wait()
    RunLock.take(tune_dir).release()  # the last worker gone: free


def test_worker_a_ctrl_c_reaches_each_worker_as_one_signal(tmp_path):
    """A terminal's Ctrl-C is SIGINT to its foreground process group. The workers are
    not in it: the main process passes SIGINT on, once. (Both at once made a worker
    stop at once, skipping its clean-up.)"""
    recorder = tmp_path / "recorder.py"
    recorder.write_text(RECORDER)
    main = tmp_path / "main.py"
    main.write_text(
        textwrap.dedent(
            f"""\
            import signal, sys, time
            from pathlib import Path
            import seqcls.tuning.worker as worker
            # As in a terminal: a test runner started in the background inherits SIGINT
            # ignored, and Python would then never raise KeyboardInterrupt.
            signal.signal(signal.SIGINT, signal.default_int_handler)
            folder = Path({str(tmp_path)!r})
            worker.worker_command = lambda *args: [sys.executable, {str(recorder)!r}, str(folder)]
            workers = worker.start_workers(folder, 2, None, "quiet")
            (folder / "main.ready").write_text(" ".join(str(w.pid) for w in workers))
            try:
                time.sleep(60)
            except KeyboardInterrupt:
                codes = worker.stop_workers(workers, signal.SIGINT)
                (folder / "main.done").write_text(" ".join(map(str, codes)))
            """
        )
    )
    # Its own process group, as a shell runs a command in the foreground.
    process = subprocess.Popen([sys.executable, str(main)], start_new_session=True)
    try:
        _wait_for(lambda: len(list(tmp_path.glob("*.ready"))) == 3)
        pids = (tmp_path / "main.ready").read_text().split()
        for pid in map(int, pids):
            assert os.getpgid(pid) != process.pid  # not in the terminal's group
        os.killpg(process.pid, signal.SIGINT)  # Ctrl-C
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
    assert (tmp_path / "main.done").read_text() == "0 0"
    for pid in pids:
        assert (tmp_path / f"{pid}.signals").read_text() == "SIGINT"
