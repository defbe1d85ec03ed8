"""The training loop's bookkeeping: per-epoch report and history, best checkpoint, early
stopping, NaN guard, interrupt handling, and the resumable state written after every
epoch.

Everything is written atomically. The resumable state is a checkpoint of the training
model with its optimizer (`checkpoints/epoch-NNNN.keras`) plus `checkpoints/state.json`,
which names that checkpoint and holds the loop's own state (epochs done, best value and
epoch with the sha256 of the best checkpoint's bytes, history rows, the dropout
random-generator states). At the end of an epoch the writes go: history.csv, the epoch
checkpoint, state.json (the commit), then `checkpoints/best.keras` (a copy of the epoch
checkpoint, when the epoch improved), then the previous checkpoint is deleted. A crash
anywhere leaves state.json naming a complete checkpoint; what was written for a later
epoch, or not yet updated for this one, `reconcile` puts right when the run is resumed.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import shutil
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


def checkpoint_name(epoch: int) -> str:
    return f"{artifacts.CHECKPOINT_FOLDER}/epoch-{epoch:04d}.keras"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def copy_file(source: Path, target: Path) -> None:
    """Copy `source` over `target` atomically (the best checkpoint from an epoch's)."""
    with artifacts.atomic_path(target, suffix=target.suffix) as temporary:
        shutil.copyfile(source, temporary)


def write_history(run_dir: Path, rows: list[dict[str, Any]]) -> None:
    """history.csv: one row per completed epoch."""
    if not rows:
        return
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[-1]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    artifacts.write_text(run_dir / artifacts.HISTORY_FILE, buffer.getvalue())


def _history_rows(run_dir: Path) -> list[dict[str, str]]:
    try:
        with open(run_dir / artifacts.HISTORY_FILE, newline="", encoding="utf-8") as handle:
            return list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error):
        return []


def _improves(value: Any, best: float | None, monitor: str) -> bool:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return False
    if not math.isfinite(value):
        return False
    if best is None:
        return True
    return value < best if monitor.endswith("loss") else value > best


def reconcile(
    run_dir: Path, state: dict[str, Any], monitor: str
) -> tuple[dict[str, Any], list[str]]:
    """Bring `run_dir` back to the epoch `state` (checkpoints/state.json) names before a
    resume: the last epoch whose state is complete.

    - Crash leftovers (atomic_path temporaries, Keras scratch folders) are deleted, and so
      is every epoch checkpoint but the one the state names (a later epoch's, written
      before its state; an earlier one whose deletion a crash prevented).
    - history.csv holds exactly the state's rows (a later epoch's row is dropped).
    - checkpoints/best.keras holds the weights of the state's best epoch. When that is the
      state's own epoch, it is the state's checkpoint (copied over a stale or newer file).
      An earlier best is verified by its sha256 (older state files have none: it is
      trusted unless history.csv shows that a later epoch improved, and so may have
      replaced it); when its weights are gone, the state's own epoch becomes the best.

    The state's checkpoint must exist (run_files.read_state checks it); whether it loads
    is found out when the optimizer is restored. Returns the state, updated (and saved)
    when the best changed, and notes for the user.
    """
    notes: list[str] = []
    folder = run_dir / artifacts.CHECKPOINT_FOLDER
    # Before anything is changed: a damaged checkpoint must not be copied over an intact
    # best.keras (the only good weights left), nor resumed from.
    _check_archive(run_dir / state["checkpoint"], run_dir)
    artifacts.remove_temporaries(run_dir, artifacts.TRAINING_WRITES)
    artifacts.remove_temporaries(folder, artifacts.CHECKPOINT_WRITES)
    checkpoint = run_dir / state["checkpoint"]
    for path in folder.glob("epoch-*.keras"):
        if path.name != checkpoint.name:
            path.unlink(missing_ok=True)

    completed = state["completed_epochs"]
    rows = state["rows"]
    on_disk = _history_rows(run_dir)
    write_history(run_dir, rows)

    changed = False
    best = run_dir / artifacts.BEST_CHECKPOINT_FILE
    best_epoch = state.get("best_epoch")
    recorded = state.get("best_sha256")
    if best_epoch is None:
        # No epoch so far had a finite monitor value: a best file is a later epoch's.
        best.unlink(missing_ok=True)
    elif best_epoch == completed:
        # The state's checkpoint was saved at the same moment as the best: same weights.
        wanted = file_sha256(checkpoint)
        if not best.is_file() or file_sha256(best) != wanted:
            copy_file(checkpoint, best)
            # An older state (no sha256) had its best saved separately: other bytes, the
            # same weights, unless a later epoch had started writing (a history row).
            if recorded is not None or len(on_disk) > completed:
                notes.append(
                    f"{artifacts.BEST_CHECKPOINT_FILE} did not hold epoch {best_epoch}'s "
                    "weights (a crash left a later epoch's, or stopped its copy); restored it "
                    f"from {state['checkpoint']}"
                )
        changed = recorded != wanted
        state["best_sha256"] = wanted
    else:
        if recorded is not None:
            verified = best.is_file() and file_sha256(best) == recorded
        else:
            later = on_disk[completed] if len(on_disk) > completed else {}
            verified = best.is_file() and not _improves(
                later.get(monitor), state.get("best_value"), monitor
            )
        if not verified:
            # The best epoch's weights are gone; the state's own epoch is what is left.
            value = rows[-1].get(monitor) if rows else None
            notes.append(
                f"warning: {artifacts.BEST_CHECKPOINT_FILE} does not hold the weights of the "
                f"best epoch ({best_epoch}); they cannot be recovered, so epoch {completed}, "
                "the last completed one, counts as the best from now on"
            )
            if _improves(value, None, monitor):
                copy_file(checkpoint, best)
                state.update(
                    best_epoch=completed, best_value=float(value), best_sha256=file_sha256(best)
                )
            else:
                best.unlink(missing_ok=True)
                state.update(best_epoch=None, best_value=None, best_sha256=None)
            changed = True
        elif recorded is None:
            state["best_sha256"] = file_sha256(best)
            changed = True
    if changed:
        artifacts.write_json(run_dir / artifacts.STATE_FILE, state)
    return state, notes


def _check_archive(path: Path, run_dir: Path) -> None:
    """A .keras file is a zip archive: every member's CRC is checked (a truncated or
    damaged checkpoint is found without loading it)."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            damaged = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        damaged = f"{type(error).__name__}: {error}"
    if damaged:
        raise DataError(
            f"{path} is damaged ({damaged}); the run cannot be resumed from it. Nothing was "
            f"changed: {run_dir / artifacts.BEST_CHECKPOINT_FILE} still holds the best epoch "
            "so far. Keep a copy of the run if you need those weights, and train again"
        )


def _seed_variables(model: Any) -> list[Any]:
    return [v for v in model.variables if v.path.endswith("seed_generator_state")]


def seed_states(model: Any) -> dict[str, list[int]]:
    """Random-generator states (dropout): not part of get_weights(), needed for exact resumes."""
    return {v.path: np.asarray(v.numpy()).tolist() for v in _seed_variables(model)}


def restore_seed_states(model: Any, states: dict[str, list[int]]) -> None:
    """Put the saved states back, in model order. Not by name: a variable's path holds an
    auto-numbered layer name (`seed_generator_3/...`) that depends on how many layers the
    process made before, so a resume in a process that had loaded another model would
    silently miss every state (and train with other dropout masks)."""
    variables = _seed_variables(model)
    if len(variables) != len(states):
        raise DataError(
            f"the resumable state holds {len(states)} random-generator state(s), the model "
            f"has {len(variables)}; the run's {artifacts.STATE_FILE} does not belong to its "
            "config"
        )
    for variable, value in zip(variables, states.values()):
        variable.assign(np.asarray(value, dtype=variable.dtype))


def restore_optimizer(model: Any, checkpoint: Path) -> None:
    """Weights and optimizer state (moments, step count) from a saved training model."""
    with artifacts.keras_scratch(checkpoint.parent, checkpoint.name):
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


class Stopped(BaseException):
    """SIGINT or SIGTERM outside the epochs (reading data, the final save): unwinds like
    Ctrl-C, so every clean-up runs (no temporary file is left). A BaseException, so that
    `except Exception` on the way does not swallow it."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


@contextmanager
def stopping_on_signals():
    """Inside the block, SIGINT and SIGTERM raise Stopped (once: a signal during the
    clean-up that follows does not cut it short)."""
    raised = []

    def handler(signum, frame):
        if not raised:
            raised.append(signum)
            raise Stopped(signum)

    with signals_handled(handler):
        yield


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
            # sha256 of checkpoints/best.keras: lets a resume tell it is the best epoch's.
            self.best_sha256: str | None = previous.get("best_sha256")
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
            if (
                patience is not None
                and self.best_epoch is not None
                and epoch + 1 - self.best_epoch >= patience
                and epoch + 1 < epochs
            ):
                self.stopped_early = True
                self.model.stop_training = True
            self._save_state(epoch + 1, improved=improved)
            patience_left = (
                None
                if patience is None or self.best_epoch is None
                else max(0, patience - (epoch + 1 - self.best_epoch))
            )
            display.epoch_end(
                self.rows[-1], improved=improved, patience_left=patience_left, steps=self.steps
            )

        def _write_history(self):
            write_history(run_dir, self.rows)

        def _save_state(self, completed: int, finished: bool = False, improved: bool = False):
            previous = self.checkpoint
            self.checkpoint = None
            if not finished:
                self.checkpoint = checkpoint_name(completed)
                artifacts.save_model(model, run_dir / self.checkpoint)
                if improved:
                    self.best_sha256 = file_sha256(run_dir / self.checkpoint)
            artifacts.write_json(
                run_dir / artifacts.STATE_FILE,
                {
                    "completed_epochs": completed,
                    "finished": finished,
                    "checkpoint": self.checkpoint,
                    "best_value": self.best_value,
                    "best_epoch": self.best_epoch,
                    "best_sha256": self.best_sha256,
                    "stopped_early": self.stopped_early,
                    "seed_states": seed_states(model),
                    "rows": self.rows,
                },
            )
            # Committed: the best checkpoint may follow (a crash before it is complete
            # leaves the state's best epoch == its checkpoint's, which reconcile copies).
            if improved:
                copy_file(run_dir / self.checkpoint, run_dir / artifacts.BEST_CHECKPOINT_FILE)
            # Only now is the previous checkpoint unreferenced.
            if previous and previous != self.checkpoint:
                (run_dir / previous).unlink(missing_ok=True)

        def stops_on_resume(self) -> bool:
            """Resumed where early stopping applies (training stopped there, then crashed
            before the end; or patience is smaller now): train no further."""
            done = len(self.rows)
            if (
                patience is not None
                and self.best_epoch is not None
                and done - self.best_epoch >= patience
                and done < epochs
            ):
                self.stopped_early = True
            return self.stopped_early

        def mark_finished(self):
            """Training is over: the state says so (resuming is refused), and the
            per-epoch checkpoint is no longer needed."""
            self._save_state(len(self.rows), finished=True)

    return EpochLog()
