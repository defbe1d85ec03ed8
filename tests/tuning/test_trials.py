"""Trials: the pruner stops a trial whose epochs report bad values (PRUNED, after one
epoch, still a usable run); a trial whose loss diverges (train's exit 4) is recorded
and the search goes on; values that do not fit together fail that trial only."""

from __future__ import annotations

import optuna
import pytest
from optuna.trial import TrialState
from tuning_helpers import write_tune_project

from seqcls.config import load_config
from seqcls.tuning.progress import Progress
from seqcls.tuning.study import create_study, make_search
from seqcls.tuning.trials import run_trial, run_trials


def _study(tmp_path, tune: str, trials: int, epochs: int = 2):
    config = load_config(write_tune_project(tmp_path, tune, epochs=epochs))
    search = make_search(config, trials)
    tune_dir = tmp_path / "tune"
    tune_dir.mkdir()
    return create_study(tune_dir, search), search, tune_dir


def _run(study, search, tune_dir) -> list[str]:
    lines: list[str] = []
    progress = Progress(lines.append, search.trials, search.metric, {})
    run_trials(study, search, tune_dir, deadline=None, progress=progress, report=lines.append)
    return lines


@pytest.mark.slow  # trials that train: about 6 s
def test_trials_pruner_prunes_a_trial_that_reports_a_bad_value(tmp_path):
    tune = (
        "tune:\n  pruning: {startup_trials: 1, warmup_epochs: 0}\n  space:\n"
        "    training.learning_rate: {choices: [0.00001, 0.03]}\n"
    )
    study, search, tune_dir = _study(tmp_path, tune, trials=2, epochs=2)
    # A finished trial that did very well at every epoch: the median to beat.
    choices = optuna.distributions.CategoricalDistribution([0.00001, 0.03])
    study.add_trial(
        optuna.trial.create_trial(
            params={"training.learning_rate": 0.03},
            distributions={"training.learning_rate": choices},
            value=0.01,
            intermediate_values={1: 0.01, 2: 0.01},
        )
    )
    study.enqueue_trial({"training.learning_rate": 0.00001})  # learns nothing in an epoch
    lines = _run(study, search, tune_dir)
    trial = study.trials[1]
    assert trial.state == TrialState.PRUNED
    assert trial.user_attrs["epochs"] == 1 and trial.user_attrs["note"] == "after epoch 1"
    assert trial.intermediate_values[1] > 0.5  # the bad value it reported
    assert (tune_dir / "trials" / "0001" / "model.keras").is_file()  # still a usable run
    assert any("trial 1  [2/2 finished]  pruned (after epoch 1)" in line for line in lines)


@pytest.mark.slow
def test_trials_a_diverged_trial_is_recorded_and_the_search_goes_on(tmp_path):
    tune = (
        "tune:\n  space:\n    training.optimizer: {choices: [sgd, adam]}\n"
        "    training.learning_rate: {choices: [1.0e+38, 0.03]}\n"
    )
    study, search, tune_dir = _study(tmp_path, tune, trials=2, epochs=1)
    study.enqueue_trial({"training.optimizer": "sgd", "training.learning_rate": 1.0e38})
    study.enqueue_trial({"training.optimizer": "adam", "training.learning_rate": 0.03})
    _run(study, search, tune_dir)
    diverged, fine = study.trials
    assert diverged.state == TrialState.PRUNED
    assert diverged.user_attrs["note"].startswith("training diverged: the loss became")
    assert fine.state == TrialState.COMPLETE and fine.value < 1.5


def test_trials_values_that_do_not_fit_together_fail_that_trial(tmp_path):
    # Each value fits the config alone; units 8 with merge_mode sum does not (backward 4).
    tune = (
        "tune:\n  space:\n    model.encoder.units: {choices: [4, 8]}\n"
        "    model.encoder.merge_mode: {choices: [concat, sum]}\n"
    )
    folder = tmp_path
    config_path = write_tune_project(folder, tune)
    text = config_path.read_text().replace(
        "encoder: {units: 8}", "encoder: {units: 4, backward: {units: 4}}"
    )
    config_path.write_text(text)
    search = make_search(load_config(config_path), 1)
    (folder / "tune").mkdir()
    study = create_study(folder / "tune", search)
    study.enqueue_trial({"model.encoder.units": 8, "model.encoder.merge_mode": "sum"})
    progress = Progress(print, 1, search.metric, {})
    state = run_trial(study, study.ask(), search, folder / "tune", progress, print, None)
    assert state == "FAIL"
    note = study.trials[0].user_attrs["note"]
    assert note.startswith("invalid combination:") and "merge_mode sum" in note
    assert not (folder / "tune" / "trials" / "0000").exists()
