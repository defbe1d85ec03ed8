"""What the commands print, as a file and as a terminal sees it: plain output (a pipe, a
file) has no box-drawing tables and no spaces padding the ends of lines; on a terminal of
80 columns no table title wraps mid-phrase and no path is broken across lines; the
per-epoch output marks the epoch that triggered early stopping."""

import os
import re
import select
import shutil
import struct
import subprocess
import sys
import time

import pytest
from conftest import cli_train, write_tiny_project
from typer.testing import CliRunner

from seqcls.cli import app
from seqcls.reporting import display

runner = CliRunner()
# Box-drawing characters (rich's table borders).
BOX = re.compile("[\u2500-\u257f]")
ESCAPES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")


def assert_plain(output: str) -> None:
    assert not BOX.search(output), output
    assert "\x1b[" not in output
    padded = [line for line in output.splitlines() if line != line.rstrip()]
    assert not padded, padded


def in_terminal(args: list[str], columns: int, cwd, timeout: float = 120.0) -> str:
    """`python ARGS` with stdin, stdout and stderr on a pseudo-terminal of `columns`
    columns; returns what it printed, escape codes removed, lines as written."""
    import fcntl
    import pty
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "CI", "NO_COLOR")}
    env.update(TERM="xterm-256color", PYTHONPATH=os.getcwd())
    process = subprocess.Popen(
        [sys.executable, *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        cwd=cwd,
        env=env,
        close_fds=True,
    )
    os.close(slave)
    chunks, deadline = [], time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 1.0)
            if not ready:
                if process.poll() is not None:
                    break
                continue
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(master)
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)
    text = b"".join(chunks).decode("utf-8", "replace")
    return ESCAPES.sub("", text).replace("\r\n", "\n")


# ------------------------------------------------------------------ plain output


def test_plain_output_eval_prints_ascii_columns_without_padding(trained_run, tmp_path):
    folder, shared, _ = trained_run
    run_dir = tmp_path / shared.name  # eval writes eval-test.json: not into the shared run
    shutil.copytree(shared, run_dir)
    result = runner.invoke(app, ["eval", str(run_dir), str(folder / "data" / "test.csv")])
    assert result.exit_code == 0, result.output
    assert_plain(result.output)
    lines = result.output.splitlines()
    # The title on its own line, whole; the header over a dashed line.
    title = lines.index(f"{run_dir.name} on {folder / 'data' / 'test.csv'}")
    assert lines[title + 1].split()[:3] == ["split", "rows", "accuracy"]
    assert set(lines[title + 2]) == {"-"}
    assert lines[title + 3].startswith("test.csv ")
    assert "test.csv: 3 worst of 3 labels by F1" in lines


def test_plain_output_train_prints_no_boxes_and_keeps_paths_whole(trained_run):
    _, run_dir, result = trained_run
    assert_plain(result.output)
    assert f"run directory: {run_dir}" in result.output.splitlines()


def test_plain_output_validate_titles_are_whole_lines(trained_run):
    folder, _, _ = trained_run
    result = runner.invoke(app, ["validate", str(folder / "config.yaml")])
    assert result.exit_code == 0, result.output
    assert_plain(result.output)
    lines = result.output.splitlines()
    assert "data (multiclass)" in lines
    assert "3 labels in train; most/least frequent: 1.0x" in lines


def test_plain_output_epoch_lines_mark_the_early_stop():
    lines = []
    shown = display.Display(lines.append)
    shown.start(epochs=10, train_rows=100, steps=4, patience=2)
    logs = {"loss": 1.0, "val_loss": 1.0, "seconds": 1.0}
    shown.epoch_end({"epoch": 1, **logs}, improved=True, patience_left=2, steps=4)
    shown.epoch_end({"epoch": 2, **logs}, improved=False, patience_left=1, steps=4)
    shown.epoch_end({"epoch": 3, **logs}, improved=False, patience_left=0, steps=4)
    assert "early stop" not in " ".join(lines[:2])
    assert lines[2].endswith("-> early stop: no improvement for 2 epoch(s)")
    # Patience used up in the last epoch: training ends there anyway, no early stop.
    last = []
    shown = display.Display(last.append)
    shown.start(epochs=3, train_rows=100, steps=4, patience=2)
    shown.epoch_end({"epoch": 3, **logs}, improved=False, patience_left=0, steps=4)
    assert "early stop" not in last[0]


def test_plain_output_rich_table_marks_the_early_stop():
    import io

    from rich.console import Console

    console = Console(file=io.StringIO(), force_terminal=True, width=80, color_system=None)
    shown = display.RichDisplay(lambda message: None, console)
    shown.start(epochs=10, train_rows=100, steps=4, patience=1)
    logs = {"loss": 1.0, "val_loss": 1.0, "seconds": 1.0}
    shown.epoch_begin(1)
    shown.epoch_end({"epoch": 1, **logs}, improved=True, patience_left=1, steps=4)
    shown.epoch_begin(2)
    shown.epoch_end({"epoch": 2, **logs}, improved=False, patience_left=0, steps=4)
    shown.stop()
    rows = [line for line in console.file.getvalue().splitlines() if "/10" in line]
    assert "* best" in rows[0] and rows[1].rstrip().endswith("early stop")


@pytest.mark.slow
def test_plain_output_a_run_that_stops_early_says_where(tmp_path):
    config = write_tiny_project(tmp_path)
    result = cli_train(
        config,
        tmp_path / "run",
        "training.epochs=8",
        "training.learning_rate=0.1",
        "training.early_stopping.monitor=val_accuracy",
        "training.early_stopping.patience=1",
    )
    assert result.exit_code == 0, result.output
    epochs = [line for line in result.output.splitlines() if line.startswith("epoch ")]
    assert len(epochs) < 8
    assert epochs[-1].endswith("-> early stop: no improvement for 1 epoch(s)")
    assert not any("early stop" in line for line in epochs[:-1])
    assert_plain(result.output)


# ------------------------------------------------------------------ a terminal


# The tables and lines eval, train and validate print, printed by a process whose output is
# a terminal (without TensorFlow: a second each).
PRINTS = """
import json, sys
from seqcls.cli.tables import metrics_table, print_data_report, print_details, say, show_table
metrics = json.load(open(sys.argv[1]))
show_table(metrics_table(metrics, sys.argv[2]))
print_details(metrics, "test")
say(f"run directory: {sys.argv[2]}")
print_data_report(json.load(open(sys.argv[3])))
"""


def test_plain_output_terminal_of_80_columns_keeps_titles_and_paths_whole(trained_run, tmp_path):
    folder, run_dir, _ = trained_run
    report = runner.invoke(app, ["validate", str(folder / "config.yaml"), "--json"])
    assert report.exit_code == 0, report.output
    (tmp_path / "report.json").write_text(report.output, encoding="utf-8")
    # A path longer than the terminal is wide.
    deep = tmp_path / ("a-long-folder-name-" * 3) / ("and-another-one-" * 3) / "test.csv"
    metrics = str(run_dir / "metrics.json")
    output = in_terminal(
        ["-c", PRINTS, metrics, f"run on {deep}", str(tmp_path / "report.json")], 80, tmp_path
    )
    lines = output.splitlines()
    assert f"run on {deep}" in lines and f"run directory: run on {deep}" in lines, output
    # validate's titles, each on a line of its own, whole.
    assert "3 labels in train; most/least frequent: 1.0x" in lines, output
    assert "data (multiclass)" in lines and "test: 3 worst of 3 labels by F1" in lines
    # On a terminal the tables keep their boxes, and fit in 80 columns.
    assert BOX.search(output)
    assert max(len(line) for line in lines if BOX.search(line)) <= 80


@pytest.mark.slow
def test_plain_output_eval_and_validate_in_a_terminal_of_80_columns(trained_run, tmp_path):
    folder, run_dir, _ = trained_run
    deep = tmp_path / ("a-long-folder-name-" * 3) / ("and-another-one-" * 3)
    deep.mkdir(parents=True)
    data = deep / "test.csv"
    data.write_bytes((folder / "data" / "test.csv").read_bytes())
    written = tmp_path / "m.json"
    command = ["-m", "seqcls", "eval", str(run_dir), str(data), "--output", str(written)]
    lines = in_terminal(command, 80, tmp_path).splitlines()
    assert f"{run_dir.name} on {data}" in lines, lines
    assert f"metrics written to {written}" in lines, lines
    command = ["-m", "seqcls", "validate", str(folder / "config.yaml")]
    lines = in_terminal(command, 80, folder).splitlines()
    assert "3 labels in train; most/least frequent: 1.0x" in lines, lines
    assert "data (multiclass)" in lines
