"""The run directory's training files and resuming: what the training loop's
callbacks (seqcls.training.callbacks) write, and what a resume reads back.

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
from pathlib import Path
from typing import Any

import numpy as np

from seqcls.errors import DataError
from seqcls.messages import note, warning
from seqcls.run import artifacts


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


def improves(value: Any, best: float | None, monitor: str) -> bool:
    """Whether `value` of `monitor` beats `best` (None: any finite value does): lower is
    better for a loss, higher for anything else; a missing or non-finite value never."""
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

    on_disk = _history_rows(run_dir)
    write_history(run_dir, state["rows"])
    best_epoch = state.get("best_epoch")
    if best_epoch is None:
        # No epoch so far had a finite monitor value: a best file is a later epoch's.
        (run_dir / artifacts.BEST_CHECKPOINT_FILE).unlink(missing_ok=True)
        changed = False
    elif best_epoch == state["completed_epochs"]:
        changed = _best_is_the_state_epoch(run_dir, state, on_disk, notes)
    else:
        changed = _best_is_earlier(run_dir, state, on_disk, monitor, notes)
    if changed:
        artifacts.write_json(run_dir / artifacts.STATE_FILE, state)
    return state, notes


def _best_is_the_state_epoch(
    run_dir: Path, state: dict[str, Any], on_disk: list[dict[str, str]], notes: list[str]
) -> bool:
    """reconcile, the best epoch being the state's own: best.keras becomes a copy of the
    state's checkpoint (saved at the same moment as the best: the same weights). Returns
    whether the state changed."""
    checkpoint = run_dir / state["checkpoint"]
    best = run_dir / artifacts.BEST_CHECKPOINT_FILE
    recorded = state.get("best_sha256")
    wanted = file_sha256(checkpoint)
    if not best.is_file() or file_sha256(best) != wanted:
        copy_file(checkpoint, best)
        # An older state (no sha256) had its best saved separately: other bytes, the
        # same weights, unless a later epoch had started writing (a history row).
        if recorded is not None or len(on_disk) > state["completed_epochs"]:
            notes.append(
                note(
                    f"{artifacts.BEST_CHECKPOINT_FILE} did not hold epoch {state['best_epoch']}'s "
                    "weights (a crash left a later epoch's, or stopped its copy); restored it "
                    f"from {state['checkpoint']}"
                )
            )
    state["best_sha256"] = wanted
    return recorded != wanted


def _best_is_earlier(
    run_dir: Path,
    state: dict[str, Any],
    on_disk: list[dict[str, str]],
    monitor: str,
    notes: list[str],
) -> bool:
    """reconcile, the best epoch being before the state's: best.keras is verified (by its
    sha256, or for an older state without one by history.csv showing no later
    improvement); when its weights are gone, the state's own epoch becomes the best.
    Returns whether the state changed."""
    best = run_dir / artifacts.BEST_CHECKPOINT_FILE
    completed, recorded = state["completed_epochs"], state.get("best_sha256")
    if recorded is not None:
        verified = best.is_file() and file_sha256(best) == recorded
    else:
        later = on_disk[completed] if len(on_disk) > completed else {}
        verified = best.is_file() and not improves(
            later.get(monitor), state.get("best_value"), monitor
        )
    if verified:
        if recorded is None:
            state["best_sha256"] = file_sha256(best)
        return recorded is None
    # The best epoch's weights are gone; the state's own epoch is what is left.
    rows = state["rows"]
    value = rows[-1].get(monitor) if rows else None
    notes.append(
        warning(
            f"{artifacts.BEST_CHECKPOINT_FILE} does not hold the weights of the best epoch "
            f"({state['best_epoch']}); they cannot be recovered, so epoch {completed}, the "
            "last completed one, counts as the best from now on"
        )
    )
    if improves(value, None, monitor):
        copy_file(run_dir / state["checkpoint"], best)
        state.update(best_epoch=completed, best_value=float(value), best_sha256=file_sha256(best))
    else:
        best.unlink(missing_ok=True)
        state.update(best_epoch=None, best_value=None, best_sha256=None)
    return True


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


def averaging_optimizer(model: Any) -> Any:
    """The model's optimizer when it keeps weight averages (training.ema_momentum), looking
    inside mixed_float16's LossScaleOptimizer; else None."""
    optimizer = getattr(model, "optimizer", None)
    optimizer = getattr(optimizer, "inner_optimizer", optimizer)
    return optimizer if optimizer is not None and optimizer.use_ema else None


def evaluated_weights(model: Any) -> list[np.ndarray]:
    """A copy of the model's weights as validation sees them: with training.ema_momentum,
    the optimizer's moving averages in place of the trainable weights (Keras'
    SwapEMAWeights swaps them in for validation); otherwise the weights themselves."""
    optimizer = averaging_optimizer(model)
    if optimizer is None or not optimizer.built:
        return [weight.copy() for weight in model.get_weights()]
    # Paired as Keras' SwapEMAWeights pairs them, and matched by identity: variable paths
    # repeat across an ensemble's members.
    averages = {
        id(variable): average
        for variable, average in zip(
            optimizer._trainable_variables, optimizer._model_variables_moving_average
        )
    }
    return [np.array(averages.get(id(weight), weight)) for weight in model.weights]


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
