"""The training loop's callbacks (seqcls.training.callbacks), on a real tiny Keras model trained on
a few NumPy rows, writing real files in tmp_path.

A LearningRateScheduler shapes the monitor: SGD with learning rate 0 leaves the weights
exactly as they are (the validation loss repeats, bit for bit: no improvement), and a
negative one climbs the loss (the monitor gets worse).
"""

from __future__ import annotations

import json
import math
import os
import signal

import keras
import numpy as np
import pytest

from seqcls.reporting.display import Display
from seqcls.run import artifacts
from seqcls.training import checkpoints, signals
from seqcls.training.callbacks import Diverged, LoopState, NanGuard, epoch_callbacks

BATCH = 8
LEARN, STILL, CLIMB = 0.5, 0.0, -2.0


def rows(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    generator = np.random.default_rng(seed)
    x = generator.normal(size=(count, 3)).astype("float32")
    return x, (x[:, 0] + x[:, 1] > 0).astype("int64")


TRAIN, VALID = rows(32, 0), rows(16, 1)


def tiny_model() -> keras.Model:
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(
        optimizer=keras.optimizers.SGD(LEARN),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def schedule(*rates: float) -> keras.callbacks.Callback:
    """Learning rate per epoch (1-based order); the last one for every later epoch."""
    return keras.callbacks.LearningRateScheduler(
        lambda epoch, lr: rates[min(epoch, len(rates) - 1)]
    )


def make_log(run_dir, model, lines, *, epochs, patience=None, monitor="val_loss", **options):
    display = Display(lines.append)
    display.start(epochs=epochs, train_rows=len(TRAIN[0]), steps=None, patience=patience)
    options.setdefault("interrupt", signals.Interrupt())
    return epoch_callbacks(
        run_dir=run_dir,
        model=model,
        epochs=epochs,
        monitor=monitor,
        patience=patience,
        display=display,
        **options,
    )


def fit(model, log, epochs, *, before=(), after=(), initial_epoch=0, x=None):
    """fit as train does: `before` runs ahead of the log's callbacks, `after` behind them."""
    model.fit(
        TRAIN[0] if x is None else x,
        TRAIN[1],
        validation_data=VALID,
        batch_size=BATCH,
        epochs=epochs,
        initial_epoch=initial_epoch,
        shuffle=False,
        verbose=0,
        callbacks=[*before, *log.callbacks, *after],
    )


class Watch(keras.callbacks.Callback):
    """What happened, seen from outside: epochs begun and batches run (1-based), the
    weights at each epoch end."""

    def __init__(self):
        super().__init__()
        self.begun: list[int] = []
        self.batches: dict[int, int] = {}
        self.weights: dict[int, list[np.ndarray]] = {}

    def on_epoch_begin(self, epoch, logs=None):
        self.begun.append(epoch + 1)

    def on_train_batch_end(self, batch, logs=None):
        self.batches[self.begun[-1]] = batch + 1

    def on_epoch_end(self, epoch, logs=None):
        self.weights[epoch + 1] = [w.copy() for w in self.model.get_weights()]


def read_state(run_dir):
    return json.loads((run_dir / artifacts.STATE_FILE).read_text())


def history_lines(run_dir):
    return (run_dir / artifacts.HISTORY_FILE).read_text().splitlines()


def checkpoint_files(run_dir):
    return sorted(path.name for path in (run_dir / artifacts.CHECKPOINT_FOLDER).iterdir())


def epoch_lines(lines):
    return [line for line in lines if line.startswith("epoch ")]


# ---------------------------------------------------------------- early stopping


@pytest.mark.parametrize("patience", [1, 3])
def test_early_stopping_stops_patience_epochs_after_the_best_and_not_before(tmp_path, patience):
    model, lines, watch = tiny_model(), [], Watch()
    log = make_log(tmp_path, model, lines, epochs=20, patience=patience)
    fit(model, log, 20, before=[schedule(LEARN, LEARN, STILL)], after=[watch])
    losses = [row["val_loss"] for row in log.rows]
    assert losses[1] < losses[0] and set(losses[2:]) == {losses[1]}  # best: epoch 2
    assert log.best_epoch == 2
    assert watch.begun == list(range(1, 2 + patience + 1))  # no epoch after the stop
    assert len(log.rows) == 2 + patience and log.stopped_early
    assert read_state(tmp_path)["stopped_early"] is True
    shown = epoch_lines(lines)
    assert len(shown) == 2 + patience
    for waited, line in enumerate(shown[2:-1], start=1):
        assert line.endswith(f"(patience {patience - waited} left)")


def test_early_stopping_never_stops_in_the_last_epoch(tmp_path):
    model, lines = tiny_model(), []
    # Epoch 4 is 2 epochs after the best: patience is out, but it is the last epoch.
    log = make_log(tmp_path, model, lines, epochs=4, patience=2)
    fit(model, log, 4, before=[schedule(LEARN, LEARN, STILL)])
    assert log.best_epoch == 2 and len(log.rows) == 4
    assert not log.stopped_early and read_state(tmp_path)["stopped_early"] is False


def test_patience_counts_from_the_saved_best_epoch_across_a_resume(tmp_path):
    """Stopped after epoch 3 (a crash), resumed from state.json: early stopping stops after
    epoch 5, as the uninterrupted run does (Keras' EarlyStopping would start over)."""
    model, lines = tiny_model(), []
    rates = schedule(LEARN, LEARN, STILL)
    first = make_log(tmp_path, model, lines, epochs=20, patience=3)
    fit(model, first, 3, before=[rates])
    assert first.best_epoch == 2 and not first.stopped_early
    state = read_state(tmp_path)
    resumed = make_log(
        tmp_path, model, lines, epochs=20, patience=3, state=state, best_weights=first.best_weights
    )
    assert not resumed.stops_on_resume()
    fit(model, resumed, 20, before=[rates], initial_epoch=3)
    assert [row["epoch"] for row in resumed.rows] == [1, 2, 3, 4, 5]
    assert resumed.stopped_early and resumed.best_epoch == 2
    assert len(history_lines(tmp_path)) == 1 + 5


@pytest.mark.parametrize(
    ("done", "best", "patience", "epochs", "stops"),
    [
        (3, 1, 2, 10, True),  # patience ran out (stopped there, then crashed before the end)
        (3, 1, 3, 10, False),  # one more epoch to wait
        (3, 1, 1, 3, False),  # the last epoch is done: training ends, not early
        (3, 1, None, 10, False),  # early stopping off
        (3, None, 1, 10, False),  # no finite monitor value yet
    ],
)
def test_stops_on_resume(tmp_path, done, best, patience, epochs, stops):
    state = {
        "rows": [{"epoch": epoch, "val_loss": 1.0} for epoch in range(1, done + 1)],
        "best_epoch": best,
        "best_value": None if best is None else 1.0,
        "stopped_early": True,  # what the state said is not trusted: decided again
        "checkpoint": checkpoints.checkpoint_name(done),
    }
    log = make_log(tmp_path, tiny_model(), [], epochs=epochs, patience=patience, state=state)
    assert log.stops_on_resume() is stops
    assert log.stopped_early is stops


# ---------------------------------------------------------------- best epoch


@pytest.mark.parametrize("monitor", ["val_loss", "val_accuracy"])
def test_best_epoch_keeps_that_epochs_weights(tmp_path, monitor):
    model, lines, watch = tiny_model(), [], Watch()
    log = make_log(tmp_path, model, lines, epochs=6, monitor=monitor)
    fit(model, log, 6, before=[schedule(LEARN, LEARN, CLIMB)], after=[watch])
    values = [row[monitor] for row in log.rows]
    best = (min if monitor == "val_loss" else max)(values)
    expected = values.index(best) + 1  # the first epoch that reached it
    assert log.best_epoch == expected < len(log.rows)  # not simply the last epoch
    assert log.best_value == best == read_state(tmp_path)["best_value"]
    for ours, then in zip(log.best_weights, watch.weights[expected]):
        np.testing.assert_array_equal(ours, then)
    assert not np.array_equal(log.best_weights[0], model.get_weights()[0])
    saved = artifacts.load_model(tmp_path / artifacts.BEST_CHECKPOINT_FILE).get_weights()
    for ours, then in zip(saved, watch.weights[expected]):
        np.testing.assert_array_equal(ours, then)
    # The display marks the epochs that improved on all before them.
    better = (lambda a, b: a < b) if monitor == "val_loss" else (lambda a, b: a > b)
    improved = [i + 1 for i, v in enumerate(values) if all(better(v, w) for w in values[:i])]
    shown = epoch_lines(lines)
    assert [i + 1 for i, line in enumerate(shown) if line.endswith("*best")] == improved


def test_a_non_finite_monitor_value_is_never_the_best(tmp_path):
    model = tiny_model()
    log = make_log(tmp_path, model, [], epochs=2, monitor="val_missing")
    fit(model, log, 2)
    assert log.best_epoch is None and log.best_weights is None and len(log.rows) == 2
    assert not (tmp_path / artifacts.BEST_CHECKPOINT_FILE).exists()


# ---------------------------------------------------------------- NaN stop


def nan_in_batch(batch: int) -> np.ndarray:
    """The training inputs with a NaN in batch `batch` (1-based)."""
    x = TRAIN[0].copy()
    x[(batch - 1) * BATCH, 0] = np.nan
    return x


def test_nan_loss_stops_records_where_and_writes_nothing_for_the_partial_epoch(tmp_path):
    model, lines, watch = tiny_model(), [], Watch()
    log = make_log(tmp_path, model, lines, epochs=5)
    fit(model, log, 1, after=[watch])  # epoch 1 clean
    saved = {name: (tmp_path / name).read_bytes() for name in (artifacts.HISTORY_FILE,)}
    fit(model, log, 5, initial_epoch=1, x=nan_in_batch(3), after=[watch])
    epoch, batch, loss = log.diverged
    assert (epoch, batch) == (2, 3) and math.isnan(loss)
    assert watch.begun == [1, 2] and watch.batches[2] == 3  # stopped after that batch
    assert [row["epoch"] for row in log.rows] == [1]
    assert (tmp_path / artifacts.HISTORY_FILE).read_bytes() == saved[artifacts.HISTORY_FILE]
    state = read_state(tmp_path)
    assert state["completed_epochs"] == 1 and state["checkpoint"] == checkpoints.checkpoint_name(1)
    assert checkpoint_files(tmp_path) == ["best.keras", "epoch-0001.keras", "state.json"]
    # The best epoch so far stays: in memory and in best.keras.
    assert log.best_epoch == 1 and log.best_weights is not None
    best = tmp_path / artifacts.BEST_CHECKPOINT_FILE
    assert best.read_bytes() == (tmp_path / checkpoints.checkpoint_name(1)).read_bytes()
    assert len(epoch_lines(lines)) == 1


def test_nan_guard_with_raise_error_records_then_raises(tmp_path):
    model, loop, watch = tiny_model(), LoopState(), Watch()
    with pytest.raises(Diverged) as raised:
        model.fit(
            nan_in_batch(2),
            TRAIN[1],
            batch_size=BATCH,
            epochs=2,
            shuffle=False,
            verbose=0,
            callbacks=[NanGuard(loop, raise_error=True), watch],
        )
    assert isinstance(raised.value, RuntimeError)
    assert (raised.value.epoch, raised.value.batch) == (1, 2) == loop.diverged[:2]
    assert math.isnan(raised.value.loss)
    assert watch.batches[1] == 1  # the callbacks after the guard never saw batch 2


def test_nan_loss_in_the_distributed_loop_is_recorded_the_same_way(tmp_path):
    """distributed_loop.fit_distributed drives the callbacks by hand, and still calls
    on_epoch_end after a NaN loss: nothing of that epoch is recorded either."""
    import tensorflow as tf

    from seqcls.training import distributed_loop

    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    with strategy.scope():
        model = tiny_model()
    lines, watch = [], Watch()
    log = make_log(tmp_path, model, lines, epochs=5)
    valid = tf.data.Dataset.from_tensor_slices(VALID).batch(BATCH)
    for x, first, epochs in ((TRAIN[0], 0, 1), (nan_in_batch(3), 1, 5)):  # epoch 1 clean
        distributed_loop.fit_distributed(
            strategy=strategy,
            model=model,
            train_data=tf.data.Dataset.from_tensor_slices((x, TRAIN[1])).batch(BATCH),
            steps=len(x) // BATCH,
            valid_data=valid,
            epochs=epochs,
            initial_epoch=first,
            callbacks=[*log.callbacks, watch],
            task="multiclass",
            class_weight=None,
        )
    epoch, batch, loss = log.diverged
    assert (epoch, batch) == (2, 3) and not math.isfinite(loss)
    assert watch.begun == [1, 2] and watch.batches[2] == 3
    assert [row["epoch"] for row in log.rows] == [1] and len(history_lines(tmp_path)) == 2
    assert read_state(tmp_path)["completed_epochs"] == 1
    assert checkpoint_files(tmp_path) == ["best.keras", "epoch-0001.keras", "state.json"]
    assert len(epoch_lines(lines)) == 1


# ---------------------------------------------------------------- interrupts


class Signal(keras.callbacks.Callback):
    """Sends this process `signum` at batch `batch` of epoch `epoch` (1-based), or while
    that epoch is validated (batch None)."""

    def __init__(self, epoch: int, batch: int | None, signum=signal.SIGINT):
        super().__init__()
        self.epoch, self.batch, self.signum = epoch, batch, signum
        self.current = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.current = epoch + 1

    def on_train_batch_end(self, batch, logs=None):
        if (self.current, batch + 1) == (self.epoch, self.batch):
            os.kill(os.getpid(), self.signum)

    def on_test_begin(self, logs=None):
        if self.current == self.epoch and self.batch is None:
            os.kill(os.getpid(), self.signum)


@pytest.mark.parametrize("batch", [2, None], ids=["mid-epoch", "in-validation"])
def test_interrupt_stops_after_the_batch_and_records_nothing_of_the_epoch(tmp_path, batch):
    model, lines, watch, interrupt = tiny_model(), [], Watch(), signals.Interrupt()
    log = make_log(tmp_path, model, lines, epochs=5, interrupt=interrupt)
    with interrupt.handling():
        fit(model, log, 5, before=[Signal(2, batch, signal.SIGTERM)], after=[watch])
    assert interrupt.signal == signal.SIGTERM
    assert watch.begun == [1, 2]
    assert watch.batches[2] == (batch or len(TRAIN[0]) // BATCH)
    assert [row["epoch"] for row in log.rows] == [1] and len(history_lines(tmp_path)) == 2
    assert read_state(tmp_path)["completed_epochs"] == 1
    assert checkpoint_files(tmp_path) == ["best.keras", "epoch-0001.keras", "state.json"]
    assert len(epoch_lines(lines)) == 1


# ---------------------------------------------------------------- the files


class Snapshot(keras.callbacks.Callback):
    """After the log's callbacks: the checkpoint folder, state and history at each epoch end."""

    def __init__(self, run_dir):
        super().__init__()
        self.run_dir = run_dir
        self.files: dict[int, list[str]] = {}
        self.checkpoints: dict[int, bytes] = {}

    def on_epoch_end(self, epoch, logs=None):
        done = epoch + 1
        self.files[done] = checkpoint_files(self.run_dir)
        self.checkpoints[done] = (self.run_dir / checkpoints.checkpoint_name(done)).read_bytes()
        state = read_state(self.run_dir)
        assert state["completed_epochs"] == done
        assert len(history_lines(self.run_dir)) == 1 + done


def test_state_history_and_the_order_of_the_writes(tmp_path, monkeypatch):
    writes: list[str] = []
    replace = os.replace

    def recording(source, destination, *args, **kwargs):
        writes.append(os.path.basename(destination))
        return replace(source, destination, *args, **kwargs)

    monkeypatch.setattr(os, "replace", recording)
    model, lines, snapshot = tiny_model(), [], Snapshot(tmp_path)
    log = make_log(tmp_path, model, lines, epochs=3)
    fit(model, log, 3, before=[schedule(LEARN, LEARN, STILL)], after=[snapshot])

    # Per epoch: history, checkpoint, state (the commit), best (when improved); then the
    # previous checkpoint is gone.
    epoch = ["history.csv", "epoch-{:04d}.keras", "state.json"]
    expected = [name.format(1) for name in epoch] + ["best.keras"]
    expected += [name.format(2) for name in epoch] + ["best.keras"]
    expected += [name.format(3) for name in epoch]  # epoch 3 did not improve
    assert writes == expected
    for done in (1, 2, 3):
        assert snapshot.files[done] == ["best.keras", f"epoch-{done:04d}.keras", "state.json"]

    best = tmp_path / artifacts.BEST_CHECKPOINT_FILE
    assert log.best_epoch == 2 and best.read_bytes() == snapshot.checkpoints[2]
    state = read_state(tmp_path)
    assert state == {
        "completed_epochs": 3,
        "finished": False,
        "checkpoint": "checkpoints/epoch-0003.keras",
        "best_value": log.rows[1]["val_loss"],
        "best_epoch": 2,
        "best_sha256": checkpoints.file_sha256(best),
        "stopped_early": False,
        "seed_states": {},
        "rows": log.rows,
    }
    header, *lines_on_disk = history_lines(tmp_path)
    assert header.split(",") == list(log.rows[-1])
    assert header.startswith("epoch,") and header.endswith(",seconds")
    for row, line in zip(log.rows, lines_on_disk):
        assert [float(value) for value in line.split(",")] == pytest.approx(list(row.values()))

    log.mark_finished()
    state = read_state(tmp_path)
    assert state["finished"] and state["checkpoint"] is None and state["completed_epochs"] == 3
    assert checkpoint_files(tmp_path) == ["best.keras", "state.json"]
    assert best.read_bytes() == snapshot.checkpoints[2]
