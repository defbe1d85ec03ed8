"""run_search: what `seqcls tune` runs between parsing and printing.

A new search checks the config (tune.space against the schema: exit 2 before any data is
read), makes the tune directory (new or empty), locks it, creates DIR/study.db and runs
trials; `--resume DIR` locks DIR, loads the study and the search it records (a CONFIG
given too must describe the same search), marks the trials a killed process left
running as failed, and runs the trials still wanted. `--jobs N` adds N-1 worker
processes on the same study (worker.py). At the end: trials.csv, best.yaml, the plots
and the best trial's test metrics (outputs.py). Results are returned; nothing printed.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import seqcls.messages as messages
import seqcls.tuning.outputs as outputs
from seqcls.errors import DataError, TrainingInterrupted, UsageError
from seqcls.messages import Report
from seqcls.run import artifacts
from seqcls.tuning.results import best_trial, trial_row, trial_rows
from seqcls.tuning.space import short_names
from seqcls.tuning.study import (
    FINISHED,
    PARTIAL_FILE,
    STUDY_FILE,
    Search,
    check_same_search,
    create_study,
    fail_unfinished,
    load_study,
    make_search,
    set_trials,
    states,
)

DEFAULT_TRIALS = 20


@dataclass
class TuneResult:
    tune_dir: Path
    metric: str
    direction: str
    keys: list[str]  # the key paths searched
    names: dict[str, str]  # their short names (units, encoder.dropout)
    rows: list[dict[str, Any]]  # one per trial (results.trial_row)
    best: dict[str, Any] | None
    wanted: int
    finished: int
    test_metrics: dict[str, Any] | None
    files: list[Path] = field(default_factory=list)


def parse_duration(text: str) -> float:
    """Seconds in `90`, `90s`, `30m`, `2h`, `1h30m` or `1d` (UsageError otherwise)."""
    units = {"d": 86400, "h": 3600, "m": 60, "s": 1}
    cleaned = text.strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", cleaned):
        return float(cleaned)
    parts = re.findall(r"(\d+(?:\.\d+)?)([dhms])", cleaned)
    if not parts or "".join(number + unit for number, unit in parts) != cleaned:
        raise UsageError(f"--timeout {text!r}: expected a duration such as 90s, 30m, 2h or 1h30m")
    seconds = sum(float(number) * units[unit] for number, unit in parts)
    if seconds <= 0:
        raise UsageError(f"--timeout {text!r}: give a duration above zero")
    return seconds


def _check_test_file(test: Path | None) -> None:
    """The best trial is evaluated on data.test at the end: a missing file is said now,
    not after the search (its rows are not read here)."""
    if test is not None and not Path(test).is_file():
        raise DataError(
            f"data.test {test} is not a file; the best trial is evaluated on it once the "
            "search ends: fix the path, or remove data.test to search without a test split"
        )


def run_search(
    config_path: Path | None = None,
    *,
    trials: int | None = None,
    timeout: float | None = None,
    output_dir: Path | None = None,
    resume: Path | None = None,
    jobs: int = 1,
    progress: str = "plain",
    console: Any = None,
    report: Report = print,
    note: Report | None = None,
    command: list[str] | None = None,
) -> TuneResult:
    """Search as the config's `tune` section says (see the module docstring). `progress`
    is a seqcls.tuning.progress mode (plain, rich with `console`, quiet); `note` gets
    what is shown even when `report` filters (default: `report`)."""
    from seqcls.config import load_config
    from seqcls.session import import_tensorflow_quietly

    shown = note or report
    _check_usage(config_path, output_dir, resume, trials, jobs)
    given = recorded = None
    if config_path is not None:
        given = make_search(load_config(config_path), trials or DEFAULT_TRIALS)
    if resume is None:
        tune_dir = output_dir or artifacts.default_run_dir(f"tune-{given.config.name}")
        _refuse_used(tune_dir)
    else:
        tune_dir = resume
        _, recorded = load_study(tune_dir)  # not a study: UsageError; nothing written
        if given is not None:
            check_same_search(recorded, given, tune_dir)  # before TensorFlow starts
    _check_test_file((given or recorded).config.data.test)
    import_tensorflow_quietly()
    with _held(tune_dir, new=resume is None) as lock:
        study, search = _open(tune_dir, given, trials, resume is not None, shown)
        mode = "plain" if jobs > 1 and progress == "rich" else progress
        names = short_names(search.space.keys)
        from seqcls.tuning.progress import make_progress

        shows = make_progress(mode, report, search.trials, search.metric, names, console)
        deadline = time.time() + timeout if timeout is not None else None
        _run(study, search, tune_dir, jobs, deadline, shows, mode, report, command, lock)
        return _finish(study, search, tune_dir, names, report)


def _check_usage(
    config_path: Path | None,
    output_dir: Path | None,
    resume: Path | None,
    trials: int | None,
    jobs: int,
) -> None:
    if resume is not None and output_dir is not None:
        raise UsageError("--resume continues DIR in place; drop --output-dir")
    if resume is None and config_path is None:
        raise UsageError("missing CONFIG: seqcls tune CONFIG, or seqcls tune --resume DIR")
    if trials is not None and trials < 1:
        raise UsageError(f"--trials {trials}: give at least 1")
    if jobs < 1:
        raise UsageError(f"--jobs {jobs}: give at least 1")


def _refuse_used(tune_dir: Path) -> None:
    """A new search's directory must be new or empty: nothing is ever overwritten."""
    if tune_dir.exists() and not tune_dir.is_dir():
        raise UsageError(f"--output-dir {tune_dir} exists and is not a directory")
    if not tune_dir.is_dir():
        return
    if (tune_dir / STUDY_FILE).exists():
        raise UsageError(
            f"{tune_dir} already holds a search; continue it with seqcls tune --resume "
            f"{tune_dir}, or choose another --output-dir"
        )
    from seqcls.run.directory import LOCK_FILE

    # A lock file left by a killed process, or the start of a study a crash cut short.
    leftovers = (LOCK_FILE, PARTIAL_FILE, PARTIAL_FILE + "-journal")
    if any(entry.name not in leftovers for entry in tune_dir.iterdir()):
        raise UsageError(f"--output-dir {tune_dir} exists and is not empty; choose another")


@contextmanager
def _held(tune_dir: Path, new: bool) -> Iterator[Any]:
    """The tune directory, locked: one `seqcls tune` at a time in it. The --jobs workers
    inherit the lock (worker.start_workers), so it is held until the last of them ends."""
    from seqcls.run.directory import RunLock

    if new:
        tune_dir.mkdir(parents=True, exist_ok=True)
    try:
        lock = RunLock.take(tune_dir)
    except UsageError:
        raise UsageError(
            f"another seqcls tune is using {tune_dir}; wait for it to end (its --jobs "
            "workers end with it)"
        ) from None
    try:
        yield lock
    finally:
        lock.release()


def _open(
    tune_dir: Path, given: Search | None, trials: int | None, resuming: bool, shown: Report
) -> tuple[Any, Search]:
    """The study and its search: created, or loaded and brought up to date (a CONFIG
    given with --resume has been checked against it already)."""
    from seqcls.training.runtime import check_environment

    if not resuming:
        check_environment(given.config)
        study = create_study(tune_dir, given)
        outputs.write_search_yaml(tune_dir, given)
        search = given
    else:
        study, search = load_study(tune_dir)
        check_environment(search.config)
        if not (tune_dir / outputs.SEARCH_YAML).is_file():  # a crash right after study.db
            outputs.write_search_yaml(tune_dir, search)
        if trials is not None and trials != search.trials:
            set_trials(study, search, trials)
        failed = fail_unfinished(study)
        if failed:
            numbers = ", ".join(str(number) for number in failed)
            shown(
                messages.note(
                    f"trial(s) {numbers} did not finish before the search stopped: failed"
                )
            )
    for message in getattr(given, "notes", []):
        shown(message)
    shown(f"tune directory: {tune_dir}")
    shown(_describe(search, len(states(study, *FINISHED))))
    return study, search


def _describe(search: Search, finished: int) -> str:
    entries = []
    for dimension in search.space.dimensions:
        d = dimension.distribution
        if d.choices is not None:
            entries.append(f"{dimension.key} in {d.choices}")
        else:
            scale = " (log)" if d.log else ""
            entries.append(f"{dimension.key} {dimension.kind} [{d.low}, {d.high}]{scale}")
    pruning = search.tune.pruning
    pruned = (
        f"median pruning after {pruning.startup_trials} trial(s), from epoch "
        f"{pruning.warmup_epochs + 1}"
        if pruning.enabled
        else "no pruning"
    )
    return (
        f"search: {search.trials} trials ({finished} finished so far), objective "
        f"{search.metric} on valid ({search.direction}), {pruned}; space: " + "; ".join(entries)
    )


def _run(
    study: Any,
    search: Search,
    tune_dir: Path,
    jobs: int,
    deadline: float | None,
    progress: Any,
    mode: str,
    report: Report,
    command: list[str] | None,
    lock: Any = None,
) -> None:
    """This process's trials, and the workers' (--jobs), until done or stopped. The
    workers run in their own process group: a Ctrl-C at the terminal reaches this process
    only, and it passes the one signal on (SIGINT, or SIGTERM when it got SIGTERM)."""
    import signal

    from seqcls.tuning.trials import run_trials
    from seqcls.tuning.worker import start_workers, stop_workers

    worker_mode = "quiet" if mode == "quiet" else "plain"
    gpus = 0
    if jobs > 1 and search.config.runtime.device != "cpu":
        from seqcls.training.runtime import physical_gpus

        gpus = len(physical_gpus())
    workers = start_workers(tune_dir, jobs - 1, deadline, worker_mode, gpus, lock=lock)
    try:
        run_trials(
            study,
            search,
            tune_dir,
            deadline=deadline,
            progress=progress,
            report=report,
            command=command,
            after_trial=lambda: outputs.write_trials_csv(tune_dir, study, search),
        )
    except (TrainingInterrupted, KeyboardInterrupt) as error:
        code = getattr(error, "exit_code", 130)
        stop_workers(workers, signal.SIGTERM if code == 143 else signal.SIGINT)
        outputs.write_trials_csv(tune_dir, study, search)
        finished = len(states(study, *FINISHED))
        name = str(error).split(":")[0] if isinstance(error, TrainingInterrupted) else "SIGINT"
        raise TrainingInterrupted(
            f"{name}: the search stopped; the trial under way is recorded as failed, the "
            f"{finished} finished trial(s) are kept. Resume with: seqcls tune --resume "
            f"{tune_dir}",
            code,
        ) from None
    except BaseException:
        stop_workers(workers, signal.SIGTERM)
        raise
    for job, code in enumerate(stop_workers(workers, None), start=1):
        if code != 0:
            report(messages.warning(f"job {job} (a --jobs worker) ended with exit code {code}"))


def _finish(
    study: Any, search: Search, tune_dir: Path, names: dict[str, str], report: Report
) -> TuneResult:
    """The outputs of a search that has run its trials (or its time)."""
    fail_unfinished(study)  # a worker that died in a trial; every process has ended
    files = [outputs.write_trials_csv(tune_dir, study, search)]
    best = best_trial(study)
    test_metrics = None
    if best is None:
        report(messages.warning("no trial completed, so there is no best trial (see trials.csv)"))
    else:
        files.append(outputs.write_best_yaml(tune_dir, search, best))
        files += outputs.write_plots(tune_dir, study, search, report)
        test_metrics = outputs.best_test_metrics(tune_dir, search, best, report)
        if test_metrics is not None:
            files.append(tune_dir / outputs.TEST_METRICS_JSON)
    return TuneResult(
        tune_dir=tune_dir,
        metric=search.metric,
        direction=search.direction,
        keys=search.space.keys,
        names=names,
        rows=trial_rows(study, search),
        best=trial_row(best, search) if best is not None else None,
        wanted=search.trials,
        finished=len(states(study, *FINISHED)),
        test_metrics=test_metrics,
        files=files,
    )
