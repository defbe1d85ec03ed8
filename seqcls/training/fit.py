"""Training, stage 3: fit the built model on the prepared data, epoch by epoch.

A resumed run first gets its weights, optimizer state, dropout generator states and
best weights back, and its data replays the completed epochs' shuffles. The epochs run
through Keras' `fit`, or through `distributed_loop.fit_distributed` under a strategy, with the
same callbacks. How training ended (an interrupt, a NaN loss, no finite monitor value)
is raised as the error the user sees; otherwise the epoch log is returned.
"""

from __future__ import annotations

import signal
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from seqcls.config import Config
from seqcls.errors import TrainingDiverged, TrainingFailed, TrainingInterrupted
from seqcls.run import artifacts
from seqcls.training import checkpoints, distribute, distributed_loop, signals
from seqcls.training.callbacks import epoch_callbacks
from seqcls.training.prepare import Prepared


def fit(
    config: Config,
    prepared: Prepared,
    built: Any,
    run_dir: Path,
    *,
    state: dict[str, Any] | None,
    strategy: Any,
    report: Any,
    display: Any = None,
    callbacks: tuple = (),
) -> Any:
    """Train `built` (train.Built) as config.training says; returns the epoch log."""
    completed = state["completed_epochs"] if state else 0
    best_weights = None
    if state is not None:
        best_weights = resume_training(built.classifier, prepared, run_dir, state, strategy)
        report(f"resuming after epoch {completed} (best so far: epoch {state.get('best_epoch')})")
    stopping = config.training.early_stopping
    patience = stopping.patience if stopping.enabled else None
    interrupt = signals.Interrupt()
    if display is None:
        from seqcls.reporting.display import Display

        display = Display(report)  # one plain line per epoch
    log = epoch_callbacks(
        run_dir=run_dir,
        model=built.classifier,
        epochs=config.training.epochs,
        monitor=stopping.monitor,
        patience=patience,
        interrupt=interrupt,
        state=state,
        best_weights=best_weights,
        display=display,
    )
    # Where training ends: training.epochs, or now when early stopping applies already (it
    # stopped there before a crash, or a smaller patience says so). Fewer epochs than
    # are complete train none: the result is that of the completed epochs.
    stops_now = state is not None and log.stops_on_resume()
    last_epoch = completed if stops_now else config.training.epochs
    averaging = []
    if config.training.ema_momentum is not None:
        import keras

        # Validation (the monitor, the best epoch) sees the averaged weights.
        averaging = [keras.callbacks.SwapEMAWeights()]
    all_callbacks = [
        *averaging,
        *log.callbacks,
        *tensorboard_callbacks(config, run_dir, report),
        *callbacks,
    ]
    display.start(
        epochs=config.training.epochs,
        train_rows=len(prepared.splits.train),
        steps=prepared.steps,
        patience=patience,
    )
    with warnings.catch_warnings():
        # Bucketed batches make the epoch length unknown up front; Keras warns
        # each epoch that the (finite, by design) dataset "ran out of data".
        warnings.filterwarnings("ignore", message="Your input ran out of data")
        with interrupt.handling(), _stopping(display):
            _run_epochs(
                config,
                built.classifier,
                prepared,
                strategy,
                range(completed, last_epoch),
                all_callbacks,
                interrupt,
            )
    check_outcome(config, log, interrupt, run_dir, report)
    return log


def resume_training(
    model: Any, prepared: Prepared, run_dir: Path, state: dict[str, Any], strategy: Any
) -> list[Any] | None:
    """Put a resumed run's training state back; returns the best epoch's weights."""
    with distribute.scope(strategy):  # mirrored optimizer slots: under the strategy
        checkpoints.restore_optimizer(model, run_dir / state["checkpoint"])
    checkpoints.restore_seed_states(model, state["seed_states"])
    best_weights = None
    if state.get("best_epoch"):
        with artifacts.keras_scratch(run_dir / artifacts.CHECKPOINT_FOLDER, "best.keras"):
            # Compiled: with training.ema_momentum the best weights are the optimizer's averages.
            best = artifacts.load_model(
                run_dir / artifacts.BEST_CHECKPOINT_FILE,
                compile=checkpoints.averaging_optimizer(model) is not None,
            )
        best_weights = checkpoints.evaluated_weights(best)
    # The shuffled order of epoch k depends on how many epochs the dataset has served;
    # replay the completed ones (data only, no training). Not for streamed data (a full
    # read per epoch): a resumed streamed run shuffles differently.
    completed = state["completed_epochs"]
    if prepared.streamed is None and prepared.continuous:
        for _ in prepared.train_data.take(completed * prepared.steps):
            pass
    elif prepared.streamed is None:
        for _ in range(completed):
            for _ in prepared.train_data:
                pass
    return best_weights


def tensorboard_callbacks(config: Config, run_dir: Path, report: Any) -> list:
    if not config.output.tensorboard:
        return []
    import keras

    folder = run_dir / artifacts.TENSORBOARD_FOLDER
    report(f"TensorBoard logs: tensorboard --logdir {folder}")
    # Scalars per epoch (loss, metrics, learning rate); no graph or profiler traces.
    return [
        keras.callbacks.TensorBoard(
            log_dir=str(folder), write_graph=False, update_freq="epoch", profile_batch=0
        )
    ]


def _run_epochs(
    config: Config,
    model: Any,
    prepared: Prepared,
    strategy: Any,
    epochs: range,
    callbacks: list[Any],
    interrupt: signals.Interrupt,
) -> None:
    """The epochs `epochs` (0-based), through Keras' fit or the distributed loop."""
    if strategy is not None:
        distributed_loop.fit_distributed(
            strategy=strategy,
            model=model,
            train_data=prepared.train_data,
            steps=prepared.steps,
            valid_data=prepared.valid_data,
            epochs=epochs.stop,
            initial_epoch=epochs.start,
            callbacks=callbacks,
            task=prepared.task,
            class_weight=prepared.keras_class_weight(),
            continuous=prepared.continuous,
            interrupt=interrupt,
            label_smoothing=config.training.label_smoothing,
        )
        return
    model.fit(
        prepared.train_data,
        validation_data=prepared.valid_data,
        epochs=epochs.stop,
        initial_epoch=epochs.start,
        steps_per_epoch=prepared.steps if prepared.continuous else None,
        callbacks=callbacks,
        class_weight=prepared.keras_class_weight(),
        shuffle=False,  # the dataset shuffles itself
        verbose=0,
    )


def check_outcome(
    config: Config, log: Any, interrupt: signals.Interrupt, run_dir: Path, report: Any
) -> None:
    """Raise the error for a training that did not end with a usable best epoch."""
    epochs_run = len(log.rows)
    if interrupt.signal is not None:
        name = signal.Signals(interrupt.signal).name
        saved = (
            f"{saved_epochs(epochs_run)}. Resume with: seqcls train --resume {run_dir}"
            if epochs_run
            else "no epoch had completed, so there is nothing to resume"
        )
        raise TrainingInterrupted(
            f"{name}: stopped in epoch {epochs_run + 1}; {saved}",
            signals.Interrupt.EXIT_CODES[interrupt.signal],
        )
    if log.diverged is not None:
        epoch, batch, loss = log.diverged
        if log.best_weights is not None:
            # Keep what was good: the best epoch so far is in the best checkpoint.
            report(
                f"the best checkpoint (epoch {log.best_epoch}) is kept in "
                f"{run_dir / artifacts.BEST_CHECKPOINT_FILE}"
            )
        raise TrainingDiverged(
            f"training diverged: the loss became {loss} at batch {batch} of epoch {epoch}; "
            "lower training.learning_rate or set training.clipnorm (for example 1.0)"
        )
    if log.best_weights is None:
        raise TrainingFailed(
            f"no epoch produced a finite {config.training.early_stopping.monitor}; check the "
            "validation data"
        )


@contextmanager
def _stopping(display: Any):
    """Close the live display however training ends, so messages after it print cleanly."""
    try:
        yield
    finally:
        display.stop()


def saved_epochs(completed: int) -> str:
    """What a stopped run kept: "epoch 1 is saved", "epochs 1-3 are saved"."""
    return "epoch 1 is saved" if completed == 1 else f"epochs 1-{completed} are saved"
