"""The training loop's Keras callbacks: one job each, sharing one LoopState.

`epoch_callbacks(...)` makes them and returns a TrainingLog whose `.callbacks`, in this
order, is the list to give `model.fit` (or `distributed_loop.fit_distributed`, which drives
callbacks as fit does):

1. NanGuard         batch end: the first non-finite training loss stops training and is
                    recorded as `diverged` (epoch, batch, loss).
2. InterruptStop    batch and epoch end: after a SIGINT/SIGTERM (signals.Interrupt)
                    training stops, and the epoch under way is not recorded.
3. HistoryRecorder  the epoch's row (metrics, seconds) in `rows`; history.csv rewritten.
4. BestTracker      whether the monitor improved; the best value, epoch, weights.
5. EarlyStopping    stop `patience` epochs after the best one (never in the last epoch).
6. ResumableState   the epoch checkpoint, state.json (the commit), best.keras (a copy of
                    the checkpoint, when the epoch improved), the previous checkpoint
                    deleted; `mark_finished` after training.
7. DisplayUpdates   the display (seqcls.reporting.display): epoch begin, batch end, epoch end.

The order is the guarantee. At an epoch end each callback first asks `cut_short` (a NaN
loss or a signal in this epoch, decided by 1 and 2 before the others run): nothing of a
partial epoch is recorded, written or shown. Then the history row is written, the best
and early-stopping decisions taken (state.json records both), the state committed, and
only then the epoch shown. An epoch's writes therefore go: history.csv, epoch
checkpoint, state.json, best.keras, deletion of the previous checkpoint; a crash
anywhere leaves state.json naming a complete checkpoint, and checkpoints.reconcile puts the
rest right on resume.

Keras' callbacks, and why most are not used:
- TerminateOnNaN: NanGuard subclasses it. Keras' prints (to stdout, past the display)
  and stops with no record of where; with raise_error=True it raises a RuntimeError that
  names the batch, not the epoch, and skips every callback's on_train_end (TensorBoard's
  writers). NanGuard records (epoch, batch, loss) on the LoopState and stops gracefully,
  or with raise_error=True raises `Diverged` (a RuntimeError) after recording.
- CSVLogger appends to a file it holds open: a crash can leave half a line, or a row of
  an epoch whose state was never committed; its epochs are 0-based, with no seconds.
- EarlyStopping keeps its wait count and best value in memory and resets them in
  on_train_begin: a resumed run would start its patience over (no exact resume). Here
  patience counts from the LoopState's best epoch, which state.json carries.
- ModelCheckpoint writes in place (not atomically), with no sha256 and no commit order.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np

from seqcls.run import artifacts
from seqcls.training import checkpoints, signals


@dataclass
class LoopState:
    """What the callbacks know of the run, shared by them and read by train after fit."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    best_value: float | None = None
    best_epoch: int | None = None
    best_weights: list[np.ndarray] | None = None
    # sha256 of checkpoints/best.keras: lets a resume tell it is the best epoch's.
    best_sha256: str | None = None
    # The checkpoint state.json names: the last completed epoch's.
    checkpoint: str | None = None
    stopped_early: bool = False
    # (epoch, batch, loss), both 1-based, of the first non-finite training loss.
    diverged: tuple[int, int, float] | None = None
    # A SIGINT/SIGTERM came during the epoch under way.
    interrupted: bool = False
    # Whether the epoch that just ended improved on the best (BestTracker).
    improved: bool = False

    @classmethod
    def from_state(
        cls, state: dict[str, Any] | None, best_weights: list[np.ndarray] | None = None
    ) -> LoopState:
        """From a resumed run's checkpoints/state.json (or none). `stopped_early` is not
        carried over: EarlyStopping.stops_on_resume decides it again (patience may differ)."""
        previous = state or {}
        return cls(
            rows=list(previous.get("rows", [])),
            best_value=previous.get("best_value"),
            best_epoch=previous.get("best_epoch"),
            best_weights=best_weights,
            best_sha256=previous.get("best_sha256"),
            checkpoint=previous.get("checkpoint"),
        )

    @property
    def cut_short(self) -> bool:
        """The epoch under way stopped before its end: nothing of it is recorded."""
        return self.diverged is not None or self.interrupted


class Diverged(RuntimeError):
    """NanGuard(raise_error=True): the loss became `loss` at `batch` of `epoch` (1-based)."""

    def __init__(self, epoch: int, batch: int, loss: float):
        super().__init__(f"the loss became {loss} at batch {batch} of epoch {epoch}")
        self.epoch, self.batch, self.loss = epoch, batch, loss


class NanGuard(keras.callbacks.TerminateOnNaN):
    """Stop at the first non-finite training loss and record where on the LoopState."""

    def __init__(self, loop: LoopState, raise_error: bool = False):
        super().__init__(raise_error=raise_error)
        self.loop = loop
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch + 1

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None or self.loop.diverged is not None or math.isfinite(float(loss)):
            return
        self.loop.diverged = (self.epoch, batch + 1, float(loss))
        if self.raise_error:
            raise Diverged(*self.loop.diverged)
        self.model.stop_training = True


class InterruptStop(keras.callbacks.Callback):
    """After a SIGINT/SIGTERM (seen by `interrupt`, a signals.Interrupt): stop after the
    current batch; the epoch under way, even if its batches were done, is not recorded."""

    def __init__(self, loop: LoopState, interrupt: signals.Interrupt):
        super().__init__()
        self.loop, self.interrupt = loop, interrupt

    def on_train_batch_end(self, batch, logs=None):
        self._check()

    def on_epoch_end(self, epoch, logs=None):
        self._check()

    def _check(self):
        if self.interrupt.signal is not None:
            self.loop.interrupted = True
            self.model.stop_training = True


class HistoryRecorder(keras.callbacks.Callback):
    """Each completed epoch's row (epoch, metrics, seconds) in `rows` and history.csv."""

    def __init__(self, loop: LoopState, run_dir: Path):
        super().__init__()
        self.loop, self.run_dir = loop, run_dir
        self.started = time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if self.loop.cut_short:
            return
        values = {key: float(value) for key, value in (logs or {}).items()}
        seconds = round(time.perf_counter() - self.started, 3)
        self.loop.rows.append({"epoch": epoch + 1, **values, "seconds": seconds})
        checkpoints.write_history(self.run_dir, self.loop.rows)


class BestTracker(keras.callbacks.Callback):
    """The best epoch by `monitor` (lower is better for a loss, higher otherwise; only
    finite values count) and a copy of its weights."""

    def __init__(self, loop: LoopState, monitor: str):
        super().__init__()
        self.loop, self.monitor = loop, monitor

    def on_epoch_end(self, epoch, logs=None):
        loop = self.loop
        loop.improved = False
        if loop.cut_short:
            return
        value = (logs or {}).get(self.monitor)
        if checkpoints.improves(value, loop.best_value, self.monitor):
            loop.best_value, loop.best_epoch = float(value), epoch + 1
            loop.best_weights = checkpoints.evaluated_weights(self.model)
            loop.improved = True


class EarlyStopping(keras.callbacks.Callback):
    """Stop once `patience` epochs have passed since the best epoch, unless the epoch
    just done is the last one (`epochs`); `patience` None: never."""

    def __init__(self, loop: LoopState, patience: int | None, epochs: int):
        super().__init__()
        self.loop, self.patience, self.epochs = loop, patience, epochs

    def due(self, completed: int) -> bool:
        best = self.loop.best_epoch
        return (
            self.patience is not None
            and best is not None
            and completed - best >= self.patience
            and completed < self.epochs
        )

    def on_epoch_end(self, epoch, logs=None):
        if not self.loop.cut_short and self.due(epoch + 1):
            self.loop.stopped_early = True
            self.model.stop_training = True

    def stops_on_resume(self) -> bool:
        """Resumed where early stopping applies (training stopped there, then crashed
        before the end; or patience is smaller now): train no further."""
        if self.due(len(self.loop.rows)):
            self.loop.stopped_early = True
        return self.loop.stopped_early


class ResumableState(keras.callbacks.Callback):
    """After each completed epoch, what a resume needs (see checkpoints.py for the files)."""

    def __init__(self, loop: LoopState, run_dir: Path, model: Any):
        super().__init__()
        self.loop, self.run_dir = loop, run_dir
        self.set_model(model)  # mark_finished runs after fit

    def on_epoch_end(self, epoch, logs=None):
        if not self.loop.cut_short:
            self.save(epoch + 1, improved=self.loop.improved)

    def mark_finished(self):
        """Training is over: the state says so (resuming is refused), and the per-epoch
        checkpoint is no longer needed."""
        self.save(len(self.loop.rows), finished=True)

    def save(self, completed: int, finished: bool = False, improved: bool = False):
        loop, run_dir = self.loop, self.run_dir
        previous, loop.checkpoint = loop.checkpoint, None
        if not finished:
            loop.checkpoint = checkpoints.checkpoint_name(completed)
            artifacts.save_model(self.model, run_dir / loop.checkpoint)
            if improved:
                loop.best_sha256 = checkpoints.file_sha256(run_dir / loop.checkpoint)
        artifacts.write_json(
            run_dir / artifacts.STATE_FILE,
            {
                "completed_epochs": completed,
                "finished": finished,
                "checkpoint": loop.checkpoint,
                "best_value": loop.best_value,
                "best_epoch": loop.best_epoch,
                "best_sha256": loop.best_sha256,
                "stopped_early": loop.stopped_early,
                "seed_states": checkpoints.seed_states(self.model),
                "rows": loop.rows,
            },
        )
        # Committed: the best checkpoint may follow (a crash before it is complete
        # leaves the state's best epoch == its checkpoint's, which reconcile copies).
        if improved:
            checkpoints.copy_file(
                run_dir / loop.checkpoint, run_dir / artifacts.BEST_CHECKPOINT_FILE
            )
        # Only now is the previous checkpoint unreferenced.
        if previous and previous != loop.checkpoint:
            (run_dir / previous).unlink(missing_ok=True)


class DisplayUpdates(keras.callbacks.Callback):
    """Drives a seqcls.reporting.display Display: the bar per batch, a row per completed epoch."""

    def __init__(self, loop: LoopState, display: Any, patience: int | None):
        super().__init__()
        self.loop, self.display, self.patience = loop, display, patience
        self.steps = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.steps = 0
        self.display.epoch_begin(epoch + 1)

    def on_train_batch_end(self, batch, logs=None):
        self.steps = batch + 1
        self.display.batch_end(batch + 1, logs or {})

    def on_epoch_end(self, epoch, logs=None):
        loop = self.loop
        if loop.cut_short:
            return
        patience_left = (
            None
            if self.patience is None or loop.best_epoch is None
            else max(0, self.patience - (epoch + 1 - loop.best_epoch))
        )
        self.display.epoch_end(
            loop.rows[-1], improved=loop.improved, patience_left=patience_left, steps=self.steps
        )


@dataclass
class TrainingLog:
    """The callbacks for fit, in order, and what train reads once fit returns."""

    loop: LoopState
    callbacks: list[keras.callbacks.Callback]
    early_stopping: EarlyStopping
    resumable: ResumableState

    rows = property(lambda self: self.loop.rows)
    best_value = property(lambda self: self.loop.best_value)
    best_epoch = property(lambda self: self.loop.best_epoch)
    best_weights = property(lambda self: self.loop.best_weights)
    diverged = property(lambda self: self.loop.diverged)
    stopped_early = property(lambda self: self.loop.stopped_early)

    def stops_on_resume(self) -> bool:
        return self.early_stopping.stops_on_resume()

    def mark_finished(self) -> None:
        self.resumable.mark_finished()


def epoch_callbacks(
    *,
    run_dir: Path,
    model: Any,
    epochs: int,
    monitor: str,
    patience: int | None,
    interrupt: signals.Interrupt,
    display: Any,
    state: dict[str, Any] | None = None,
    best_weights: list[np.ndarray] | None = None,
) -> TrainingLog:
    """The training loop's callbacks (see the module docstring for their order), for a
    new run (`state` None) or a resumed one (its state.json and best epoch's weights),
    showing the epochs on `display` (seqcls.reporting.display)."""
    loop = LoopState.from_state(state, best_weights)
    early_stopping = EarlyStopping(loop, patience, epochs)
    resumable = ResumableState(loop, run_dir, model)
    callbacks = [
        NanGuard(loop),
        InterruptStop(loop, interrupt),
        HistoryRecorder(loop, run_dir),
        BestTracker(loop, monitor),
        early_stopping,
        resumable,
        DisplayUpdates(loop, display, patience),
    ]
    return TrainingLog(loop, callbacks, early_stopping, resumable)
