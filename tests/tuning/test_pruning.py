"""The pruning callback: a trial that early stopping (or a signal) ended at an epoch is
never pruned there; a bad value at a later epoch is."""

from __future__ import annotations

import keras
import optuna

from seqcls.tuning.pruning import ReportToTrial


def _trial():
    # A pruner that prunes any trial that reports anything: what the callback asks decides.
    study = optuna.create_study(pruner=optuna.pruners.ThresholdPruner(upper=-1.0))
    return study.ask()


def _model():
    return keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])


def test_pruning_a_run_that_early_stopping_ended_is_not_pruned():
    callback = ReportToTrial(_trial(), "val_loss", epochs=5)
    callback.set_model(_model())
    callback.model.stop_training = True  # EarlyStopping (run before it) stopped here
    callback.on_epoch_end(1, {"val_loss": 3.0})
    assert callback.pruned_at is None


def test_pruning_a_bad_value_before_the_last_epoch_prunes():
    callback = ReportToTrial(_trial(), "val_loss", epochs=5)
    callback.set_model(_model())
    callback.model.stop_training = False
    callback.on_epoch_end(1, {"val_loss": 3.0})
    assert callback.pruned_at == 2 and callback.model.stop_training
