"""Trials: each one an ordinary run directory (DIR/trials/0007) trained by
seqcls.training.train with the trial's values set and data.test removed, so the test
split is never read during the search; `run_trials` is the loop one process runs: ask
the study for values (TPE), train, tell the outcome.

Outcomes:
- complete: the objective is the metric's value for the weights the run kept;
- pruned: the pruner stopped it after an epoch (ReportToTrial), or its training failed
  on its own values (the loss diverged: train's exit 4; no finite validation value). It
  counts as finished, and TPE learns to avoid such values;
- failed: the values make an invalid config together (the search goes on), or the trial
  was interrupted or hit an error that would stop every trial (bad data: the search
  stops with that error). A failed trial never counts as finished.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from seqcls.config.limits import clip
from seqcls.errors import ConfigError, SeqclsError, TrainingFailed, TrainingInterrupted
from seqcls.messages import Report, severity
from seqcls.tuning.results import best_trial, trial_dir, trial_row
from seqcls.tuning.space import config_with, suggest
from seqcls.tuning.study import FINISHED, Search, states

# A search whose trials keep failing (invalid combinations) stops rather than spin.
MAX_FAILURES_IN_A_ROW = 10


def run_trials(
    study: Any,
    search: Search,
    tune_dir: Path,
    *,
    deadline: float | None,
    progress: Any,
    report: Report,
    command: list[str] | None = None,
    after_trial: Any = None,
) -> int:
    """Run trials in this process until the study has `search.trials` finished trials
    (those running in other processes of the search count as if finished: they will
    be) or `deadline` (time.time()) has passed; a running trial is never cut short by
    the deadline. Returns how many trials this process ran."""
    trial_report = _once(report)
    ran = failures = 0
    with _retracing_unremarked():
        while _wanted(study, search.trials) and (deadline is None or time.time() < deadline):
            trial = study.ask()
            state = run_trial(study, trial, search, tune_dir, progress, trial_report, command)
            ran += 1
            frozen = next(t for t in study.get_trials(deepcopy=False) if t.number == trial.number)
            row = trial_row(frozen, search)
            best = best_trial(study)
            finished = len(states(study, *FINISHED))
            progress.trial_end(row, trial_row(best, search) if best else None, finished)
            if after_trial is not None:
                after_trial()
            failures = failures + 1 if state == "FAIL" else 0
            if failures >= MAX_FAILURES_IN_A_ROW:
                raise TrainingFailed(
                    f"{failures} trials in a row failed, the last one: {row['note']}; "
                    "change tune.space so that its values fit together"
                )
    return ran


@contextmanager
def _retracing_unremarked():
    """Leave out TensorFlow's "triggered tf.function retracing" warnings: every trial
    builds new models, so functions are traced again by design."""
    import logging

    def keep(record: logging.LogRecord) -> bool:
        return "triggered tf.function retracing" not in record.getMessage()

    logger = logging.getLogger("tensorflow")
    logger.addFilter(keep)
    try:
        yield
    finally:
        logger.removeFilter(keep)


def _wanted(study: Any, target: int) -> bool:
    return len(states(study, *FINISHED, "RUNNING")) < target


def _once(report: Report) -> Report:
    """A trial's messages: its notes and warnings, each once per search (every trial
    would repeat the same data notes); the per-run information is left out."""
    seen: set[str] = set()

    def trial_report(message: str) -> None:
        if severity(message) != "info" and message not in seen:
            seen.add(message)
            report(message)

    return trial_report


def run_trial(
    study: Any,
    trial: Any,
    search: Search,
    tune_dir: Path,
    progress: Any,
    report: Report,
    command: list[str] | None,
) -> str:
    """Train one trial and tell the study its outcome; returns its state's name.
    An interruption or an error that would fail every trial is re-raised (after the
    trial is marked FAIL)."""
    params = suggest(trial, search.space)
    progress.trial_start(trial.number, params)
    run_dir = trial_dir(tune_dir, trial.number)
    trial.set_user_attr("run_dir", str(run_dir.relative_to(tune_dir)))
    started = time.perf_counter()
    try:
        config = config_with(search.config, params, test=False)
    except ConfigError as error:  # values that each fit, but not together
        reason = str(error).replace("invalid config:\n  ", "").replace("\n  ", "; ")
        return _tell(study, trial, "FAIL", started, note=f"invalid combination: {reason}")
    try:
        result, reporter = _train(trial, config, search, run_dir, progress, report, command)
    except TrainingFailed as error:  # diverged (exit 4), or no finite validation value
        return _tell(study, trial, "PRUNED", started, note=str(error).split(";")[0])
    except BaseException as error:
        if type(error).__name__ == "ResourceExhaustedError":  # TensorFlow's out of memory
            # These values do not fit the device; others may: the search goes on.
            note = "out of memory with these values (smaller units, dim or batch_size fit)"
            return _tell(study, trial, "FAIL", started, note=note)
        _tell(study, trial, "FAIL", started, note=_stopped_by(error))
        raise
    trial.set_user_attr("epochs", result.epochs_run)
    restore = config.training.early_stopping.restore_best
    value = reporter.objective(result.best_epoch, result.epochs_run, restore)
    if reporter.pruned_at is not None:
        return _tell(study, trial, "PRUNED", started, note=f"after epoch {reporter.pruned_at}")
    if value is None:
        note = f"no finite {search.metric} for the epoch kept"
        return _tell(study, trial, "FAIL", started, note=note)
    return _tell(study, trial, "COMPLETE", started, value=value)


def _train(
    trial: Any,
    config: Any,
    search: Search,
    run_dir: Path,
    progress: Any,
    report: Report,
    command: list[str] | None,
) -> tuple[Any, Any]:
    """train() in a new run directory, with the epochs reported to the trial."""
    from seqcls.run.directory import new_run
    from seqcls.training.train import train
    from seqcls.tuning.pruning import ReportToTrial

    reporter = ReportToTrial(trial, search.metric, config.training.epochs)
    try:
        with new_run(run_dir, False, [], note=report) as held:
            result = train(
                config,
                held,
                command=command,
                report=report,
                callbacks=(reporter,),
                display=progress.trial_display(),
            )
    finally:
        _free_memory()
    return result, reporter


def _free_memory() -> None:
    """Drop the trial's models and graphs before the next trial builds its own."""
    import gc

    import keras

    keras.backend.clear_session()
    gc.collect()


def _tell(
    study: Any, trial: Any, state: str, started: float, value: float | None = None, note: str = ""
) -> str:
    from optuna.trial import TrialState

    trial.set_user_attr("seconds", round(time.perf_counter() - started, 1))
    if note:
        trial.set_user_attr("note", clip(note, 300))
    study.tell(trial, value if state == "COMPLETE" else None, state=TrialState[state])
    return state


def _stopped_by(error: BaseException) -> str:
    if isinstance(error, TrainingInterrupted):
        return "interrupted: " + str(error).split(":")[0]
    if isinstance(error, KeyboardInterrupt):
        return "interrupted: SIGINT"
    if isinstance(error, SeqclsError):
        return str(error)
    if not isinstance(error, Exception):
        return f"interrupted: {type(error).__name__}"
    return f"{type(error).__name__}: {error}"
