"""The training loop's bookkeeping: per-epoch report and history, best checkpoint, early
stopping, NaN guard, interrupt handling, and the resumable state written after every
epoch.

Everything is written atomically. The resumable state is a checkpoint of the training
model with its optimizer (`checkpoints/epoch-NNNN.keras`) plus `checkpoints/state.json`,
which names that checkpoint and holds the loop's own state (epochs done, best value and
epoch, history rows, the dropout random-generator states). The checkpoint is written
before the state that names it, and the previous one is deleted only after, so a crash
at any point leaves a consistent pair.
"""

from __future__ import annotations

import csv
import io
import math
import signal
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from seqcls import artifacts
from seqcls.errors import DataError

Report = Callable[[str], None]


def seed_states(model: Any) -> dict[str, list[int]]:
    """Random-generator states (dropout): not part of get_weights(), needed for exact resumes."""
    return {
        variable.path: np.asarray(variable.numpy()).tolist()
        for variable in model.variables
        if variable.path.endswith("seed_generator_state")
    }


def restore_seed_states(model: Any, states: dict[str, list[int]]) -> None:
    for variable in model.variables:
        if variable.path in states:
            variable.assign(np.asarray(states[variable.path], dtype=variable.dtype))


def restore_optimizer(model: Any, checkpoint: Path) -> None:
    """Weights and optimizer state (moments, step count) from a saved training model."""
    saved = artifacts.load_model(checkpoint, compile=True)
    model.set_weights(saved.get_weights())
    model.optimizer.build(model.trainable_variables)
    mine, theirs = model.optimizer.variables, saved.optimizer.variables
    if len(mine) != len(theirs):
        raise DataError(
            f"{checkpoint}: its optimizer state has {len(theirs)} variables, the model needs "
            f"{len(mine)}; the checkpoint does not belong to this config"
        )
    for variable, value in zip(mine, theirs):
        variable.assign(value)


class Interrupt:
    """Records SIGINT/SIGTERM so training can stop cleanly after the current batch."""

    EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}

    def __init__(self):
        self.signal: int | None = None

    @contextmanager
    def handling(self):
        def handler(signum, frame):
            if self.signal is not None:  # a second Ctrl-C: stop now
                raise KeyboardInterrupt
            self.signal = signum

        with signals_handled(handler):
            yield self


@contextmanager
def signals_handled(handler: Callable[[int, Any], None]):
    """Route SIGINT and SIGTERM to `handler` inside the block, then restore the previous
    handlers. Outside the main thread signals cannot be handled and are left alone."""
    previous = {}
    try:
        for signum in Interrupt.EXIT_CODES:
            previous[signum] = signal.signal(signum, handler)
    except ValueError:
        previous = {}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def make_epoch_log(
    *,
    run_dir: Path,
    model: Any,
    epochs: int,
    monitor: str,
    patience: int | None,
    report: Report,
    interrupt: Interrupt,
    state: dict[str, Any] | None = None,
    best_weights: list[np.ndarray] | None = None,
    display: Any = None,
):
    import keras

    from seqcls.display import Display

    display = display if display is not None else Display(report)

    lower_is_better = monitor.endswith("loss")

    class EpochLog(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            previous = state or {}
            self.rows: list[dict[str, Any]] = list(previous.get("rows", []))
            self.best_value: float | None = previous.get("best_value")
            self.best_epoch: int | None = previous.get("best_epoch")
            self.best_weights = best_weights
            self.checkpoint: str | None = previous.get("checkpoint")
            self.stopped_early = False
            self.started = time.perf_counter()
            self.epoch = 0
            self.steps = 0
            self.diverged: tuple[int, int, float] | None = None

        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.perf_counter()
            self.epoch = epoch + 1
            self.steps = 0
            display.epoch_begin(epoch + 1)

        def on_train_batch_end(self, batch, logs=None):
            # The NaN guard: stop at the first non-finite loss (Keras' TerminateOnNaN
            # stops quietly, and fit then returns as if all were well).
            loss = float((logs or {}).get("loss", 0.0))
            if not math.isfinite(loss) and self.diverged is None:
                self.diverged = (self.epoch, batch + 1, loss)
                self.model.stop_training = True
            if interrupt.signal is not None:
                self.model.stop_training = True
            self.steps = batch + 1
            display.batch_end(batch + 1, logs or {})

        def on_epoch_end(self, epoch, logs=None):
            if self.diverged is not None or interrupt.signal is not None:
                return  # a partial epoch: nothing of it is recorded or saved
            logs = {key: float(value) for key, value in (logs or {}).items()}
            seconds = time.perf_counter() - self.started
            self.rows.append({"epoch": epoch + 1, **logs, "seconds": round(seconds, 3)})
            self._write_history()
            value = logs.get(monitor)
            improved = (
                value is not None
                and math.isfinite(value)
                and (
                    self.best_value is None
                    or (value < self.best_value if lower_is_better else value > self.best_value)
                )
            )
            if improved:
                self.best_value, self.best_epoch = value, epoch + 1
                self.best_weights = [w.copy() for w in model.get_weights()]
                artifacts.save_model(model, run_dir / artifacts.BEST_CHECKPOINT_FILE)
            if (
                patience is not None
                and self.best_epoch is not None
                and epoch + 1 - self.best_epoch >= patience
                and epoch + 1 < epochs
            ):
                self.stopped_early = True
                self.model.stop_training = True
            self._save_state(epoch + 1)
            patience_left = (
                None
                if patience is None or self.best_epoch is None
                else max(0, patience - (epoch + 1 - self.best_epoch))
            )
            display.epoch_end(
                self.rows[-1], improved=improved, patience_left=patience_left, steps=self.steps
            )

        def _write_history(self):
            buffer = io.StringIO()
            writer = csv.DictWriter(buffer, fieldnames=list(self.rows[-1]), lineterminator="\n")
            writer.writeheader()
            writer.writerows(self.rows)
            artifacts.write_text(run_dir / artifacts.HISTORY_FILE, buffer.getvalue())

        def _save_state(self, completed: int, finished: bool = False):
            previous = self.checkpoint
            self.checkpoint = None
            if not finished:
                self.checkpoint = f"{artifacts.CHECKPOINT_FOLDER}/epoch-{completed:04d}.keras"
                artifacts.save_model(model, run_dir / self.checkpoint)
            artifacts.write_json(
                run_dir / artifacts.STATE_FILE,
                {
                    "completed_epochs": completed,
                    "finished": finished,
                    "checkpoint": self.checkpoint,
                    "best_value": self.best_value,
                    "best_epoch": self.best_epoch,
                    "stopped_early": self.stopped_early,
                    "seed_states": seed_states(model),
                    "rows": self.rows,
                },
            )
            # Only now is the previous checkpoint unreferenced.
            if previous and previous != self.checkpoint:
                (run_dir / previous).unlink(missing_ok=True)

        def mark_finished(self):
            """Training is over: the state says so (resuming is refused), and the
            per-epoch checkpoint is no longer needed."""
            self._save_state(len(self.rows), finished=True)

    return EpochLog()
