"""The training display: mode choice, plain lines, the live table, --quiet, TensorBoard logs,
and the batch count the progress bar is sized by."""

import io
import json
import re
import time

import numpy as np
import pytest
from conftest import cli_train
from rich.console import Console

from seqcls import text
from seqcls.config import load_config
from seqcls.reporting import display


class FakeStream(io.StringIO):
    def __init__(self, tty: bool):
        super().__init__()
        self.tty = tty

    def isatty(self):
        return self.tty


def test_auto_mode_is_plain_unless_an_interactive_terminal(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    assert display.choose_mode("auto", FakeStream(tty=False)) == "plain"
    assert display.choose_mode("auto", FakeStream(tty=True)) == "rich"
    monkeypatch.setenv("TERM", "dumb")
    assert display.choose_mode("auto", FakeStream(tty=True)) == "plain"
    monkeypatch.setenv("TERM", "xterm")
    monkeypatch.setenv("CI", "true")
    assert display.choose_mode("auto", FakeStream(tty=True)) == "plain"
    assert display.choose_mode("rich", FakeStream(tty=False)) == "rich"


ROWS = [
    {
        "epoch": 1,
        "accuracy": 0.5,
        "loss": 1.2,
        "val_accuracy": 0.6,
        "val_loss": 1.0,
        "seconds": 2.0,
    },
    {
        "epoch": 2,
        "accuracy": 0.7,
        "loss": 0.8,
        "val_accuracy": 0.55,
        "val_loss": 1.1,
        "seconds": 2.0,
    },
]


def test_plain_display_prints_one_line_per_epoch_with_rate_best_and_patience():
    lines = []
    shown = display.Display(lines.append)
    shown.start(epochs=5, train_rows=1000, steps=32, patience=3)
    shown.epoch_end(ROWS[0], improved=True, patience_left=3, steps=32)
    shown.epoch_end(ROWS[1], improved=False, patience_left=2, steps=32)
    assert lines[0].startswith("epoch 1/5  loss 1.2000  accuracy 0.5000  val_loss 1.0000")
    assert "500 samples/s" in lines[0] and lines[0].endswith("*best")
    assert "*best" not in lines[1] and lines[1].endswith("(patience 2 left)")


def test_rich_display_shows_a_growing_table_and_a_live_bar():
    stream = io.StringIO()
    console = Console(file=stream, force_terminal=True, width=160, color_system=None)
    shown = display.RichDisplay(lambda message: None, console)
    shown.start(epochs=5, train_rows=1000, steps=4, patience=3)
    shown.epoch_begin(1)
    for step in range(1, 5):
        shown.batch_end(step, {"loss": 1.5 - step / 10, "accuracy": 0.4})
    # The bar knows its total (4 batches) and shows the loss so far.
    task = shown.progress.tasks[0]
    assert task.total == 4 and task.completed == 4
    assert "loss 1.1000" in task.fields["metrics"] and "samples/s" in task.fields["rate"]
    shown.epoch_end(ROWS[0], improved=True, patience_left=3, steps=4)
    shown.epoch_begin(2)
    shown.epoch_end(ROWS[1], improved=False, patience_left=2, steps=4)
    shown.stop()
    output = stream.getvalue()
    assert shown.table.row_count == 2
    assert [column.header for column in shown.table.columns][:5] == [
        "epoch",
        "loss",
        "accuracy",
        "val_loss",
        "val_accuracy",
    ]
    assert "* best" in output and "patience 2 left" in output
    assert "1/5" in output and "2/5" in output


def rendered(shown, width: int) -> list[str]:
    """What the live display shows now (table over bar), as a terminal of `width` columns."""
    from rich.console import Group

    screen = Console(width=width, record=True, file=io.StringIO(), color_system=None)
    screen.print(Group(shown.table, shown.progress.get_renderable()))
    return screen.export_text().splitlines()


@pytest.mark.parametrize("width", [80, 120])
def test_rich_display_fits_the_terminal_with_batches_times_and_patience(width):
    from rich.cells import cell_len

    console = Console(file=io.StringIO(), force_terminal=True, width=width, color_system=None)
    shown = display.RichDisplay(lambda message: None, console)
    shown.start(epochs=10, train_rows=9003, steps=141, patience=3)
    shown.epoch_begin(1)
    shown.epoch_end(ROWS[0], improved=True, patience_left=3, steps=141)
    shown.epoch_begin(2)
    shown.epoch_end(ROWS[1], improved=False, patience_left=2, steps=141)
    clock = [1000.0]  # the bar's clock, moved by hand: twelve seconds into the epoch
    shown.progress.get_time = lambda: clock[0]
    shown.epoch_begin(3)
    for step, seconds in ((35, 6.0), (70, 12.0)):
        clock[0] = 1000.0 + seconds
        shown.epoch_started = time.perf_counter() - seconds
        shown.batch_end(step, {"loss": 3.5, "accuracy": 0.13, "learning_rate": 0.001})
    lines = rendered(shown, width)
    shown.stop()
    # One column to spare: nothing wraps, so each epoch is one line of the table.
    assert max(cell_len(line.rstrip()) for line in lines) < width, lines
    header, best, waiting, bar = (line for line in lines if line.strip())
    assert header.split()[:6] == ["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "time"]
    assert "1/10" in best and "* best" in best
    assert "2/10" in waiting and waiting.rstrip().endswith("patience 2 left")
    # The bar keeps the batch count, the elapsed time, the ETA and the running metrics.
    assert bar.startswith("epoch 3/10 ") and " 70/141 " in bar
    assert " 0:00:12 " in bar and re.search(r" ETA 00:1\d ", bar)
    assert "loss 3.5000 accuracy 0.1300" in bar and "learning_rate" not in bar
    # samples/s, the least needed (time per epoch says as much), only when there is room.
    assert ("samples/s" in header) == (width >= display.WIDE)
    assert ("samples/s" in bar) == (width >= display.WIDE)


def test_rich_display_drops_running_metrics_before_the_counts_when_narrow():
    console = Console(file=io.StringIO(), force_terminal=True, width=80, color_system=None)
    shown = display.RichDisplay(lambda message: None, console)
    shown.start(epochs=100, train_rows=10**6, steps=20000, patience=None)
    shown.epoch_begin(1)
    shown.batch_end(5, {"loss": 3.5, "accuracy": 0.13, "auc": 0.5})
    [bar] = [line for line in rendered(shown, 80) if line.strip()]
    shown.stop()
    assert len(bar.rstrip()) < 80 and " 5/20000 " in bar and "ETA" in bar
    assert "loss 3.5000" in bar and "auc" not in bar


@pytest.mark.parametrize("bucketing", [True, False])
def test_steps_per_epoch_counts_the_batches_the_dataset_yields(bucketing):
    import tensorflow as tf

    generator = np.random.default_rng(0)
    lengths = generator.integers(1, 40, size=203)
    ids = tf.ragged.constant([[2] * int(n) for n in lengths], dtype=tf.int64)
    targets = np.zeros((203,), dtype="int64")
    dataset = text.training_dataset(ids, targets, 16, 0, bucketing=bucketing)
    batches = sum(1 for _ in dataset)
    assert text.steps_per_epoch(lengths, 16, bucketing) == batches


@pytest.mark.slow  # moved out of the default suite (over 5 s): .ci/run runs it
def test_cli_train_plain_and_quiet(tiny_config, tmp_path):
    result = cli_train(tiny_config, tmp_path / "plain", "training.epochs=2")
    assert result.exit_code == 0, result.output
    # Not a terminal: plain lines, no live-display escape codes.
    assert "epoch 1/2  loss " in result.output and "samples/s" in result.output
    assert "\x1b[" not in result.output
    assert "cuDNN: yes" in result.output and "parameters; device CPU" in result.output
    quiet = cli_train(tiny_config, tmp_path / "quiet", "training.epochs=2", options=("--quiet",))
    assert quiet.exit_code == 0, quiet.output
    assert "epoch 1/2" not in quiet.output and "vocabulary:" not in quiet.output
    assert "accuracy" in quiet.output  # the final results still print


@pytest.mark.slow  # moved out of the default suite (over 5 s): .ci/run runs it
@pytest.mark.parametrize("distribution", ["none", "mirrored"])
def test_tensorboard_logs_hold_per_epoch_scalars(tiny_config, tmp_path, distribution):
    """The same scalars from Keras' fit and from the loop that trains under a strategy
    (it drives the callbacks through a CallbackList, as fit does)."""
    import tensorflow as tf

    run_dir = tmp_path / "run"
    result = cli_train(
        tiny_config,
        run_dir,
        "training.epochs=2",
        "output.tensorboard=true",
        f"runtime.distribution={distribution}",
    )
    assert result.exit_code == 0, result.output
    tags: dict[str, dict[str, list[int]]] = {}
    for split in ("train", "validation"):
        [events] = list((run_dir / "tensorboard" / split).glob("events.out.tfevents.*"))
        tags[split] = {}
        for record in tf.data.TFRecordDataset(str(events)):
            event = tf.compat.v1.Event.FromString(record.numpy())
            for value in event.summary.value:
                tags[split].setdefault(value.tag, []).append(event.step)
    assert tags["train"]["epoch_loss"] == [0, 1]
    assert tags["validation"]["epoch_loss"] == [0, 1]
    assert "epoch_accuracy" in tags["validation"]


def test_tensorboard_without_the_package_is_a_config_error(tiny_config, tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "tensorboard" else real(name, *a),
    )
    result = cli_train(tiny_config, tmp_path / "run", "output.tensorboard=true")
    assert result.exit_code == 2
    assert "output.tensorboard" in result.output and "seqcls[tensorboard]" in result.output
    assert not (tmp_path / "run").exists()  # refused before anything was written


def test_config_output_and_runtime_sections_are_validated(tiny_config):
    from seqcls.errors import ConfigError

    with pytest.raises(ConfigError, match="runtime.device"):
        load_config(tiny_config, ["runtime.device=tpu"])
    with pytest.raises(ConfigError, match="runtime.devices"):
        load_config(tiny_config, ["runtime.devices=['/cpu:0']"])
    loaded = load_config(tiny_config, ["output.tensorboard=true"])
    assert loaded.output.tensorboard is True
    assert json.loads(loaded.model_dump_json())["runtime"]["mixed_precision"] == "none"
