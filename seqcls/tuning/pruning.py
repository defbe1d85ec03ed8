"""ReportToTrial: the Keras callback that reports each epoch's validation value to the
Optuna trial and stops training when the pruner says the trial is not promising.

It runs after seqcls's own callbacks (train's `callbacks=`), so the epoch is recorded,
checkpointed and shown before training stops; the run then finishes as any other (a
pruned trial is still a usable run directory) and the caller marks the trial PRUNED.
"""

from __future__ import annotations

import math
from typing import Any

import keras


class ReportToTrial(keras.callbacks.Callback):
    def __init__(self, trial: Any, metric: str, epochs: int):
        super().__init__()
        self.trial, self.metric, self.epochs = trial, metric, epochs
        self.values: dict[int, float] = {}  # epoch (1-based) -> the metric's value
        self.pruned_at: int | None = None

    def on_epoch_end(self, epoch, logs=None):
        if self.model.stop_training:
            # Early stopping ended the run here (a finished trial, not a pruned one), or a
            # signal or a NaN loss cut the epoch short (not a value to report).
            return
        value = (logs or {}).get(self.metric)
        if value is None or not math.isfinite(float(value)):
            return  # a NaN loss ends the trial anyway (TrainingDiverged)
        step = epoch + 1
        self.values[step] = float(value)
        self.trial.report(float(value), step=step)
        # At the last epoch there is nothing left to save: the trial completes.
        if self.pruned_at is None and step < self.epochs and self.trial.should_prune():
            self.pruned_at = step
            self.model.stop_training = True

    def objective(self, best_epoch: int | None, epochs_run: int, restore_best: bool):
        """The metric's value for the weights the run kept: the best epoch's (by
        early_stopping.monitor) when they were restored, else the last epoch's."""
        epoch = best_epoch if restore_best and best_epoch else epochs_run
        return self.values.get(epoch)
