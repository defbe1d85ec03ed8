"""The Optuna study of a tune directory: DIR/study.db (SQLite), created for a new search
or loaded for `--resume` and checked against the search it recorded.

The study records, as its user attribute `seqcls`, what the search is: the config (its
`tune` section apart), the search space, the metric and direction, the pruning settings
and the number of trials wanted; study.db appears only with that record in it (built
aside, then linked into place). A resume runs exactly that search; a CONFIG given with
`--resume` must describe the same one. Trials that a killed process left RUNNING are
marked FAIL before any new trial starts (they never count as finished). Optuna is
imported inside the functions.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seqcls.config import Config, TuneConfig, resolved_dict, validate_config
from seqcls.errors import ConfigError, UsageError
from seqcls.tuning.space import SearchSpace, search_space

STUDY_FILE = "study.db"
# Where a new study is built before it becomes STUDY_FILE (create_study).
PARTIAL_FILE = ".study.db.partial"
ATTRIBUTE = "seqcls"
FORMAT = 1
# Finished trials: what --trials counts. A FAIL (interrupted, invalid combination) does not.
FINISHED = ("COMPLETE", "PRUNED")


@dataclass
class Search:
    """What a search runs: the config (its tune section attached), the space, the
    objective (metric, direction) and how many finished trials are wanted."""

    config: Config
    space: SearchSpace
    metric: str
    direction: str
    trials: int
    notes: list[str]

    @property
    def tune(self) -> TuneConfig:
        return self.config.tune or TuneConfig()

    def record(self) -> dict[str, Any]:
        """What the study stores (JSON): enough to run the same search again."""
        tune = self.tune.model_dump(mode="json", exclude={"space"})
        return {
            "format": FORMAT,
            "config": resolved_dict(self.config),
            "tune": {**tune, "metric": self.metric, "direction": self.direction},
            "space": self.space.to_json(),
            "trials": self.trials,
        }


def make_search(config: Config, trials: int) -> Search:
    """The search `config` describes (its tune section, or the defaults)."""
    tune = config.tune or TuneConfig()
    if config.runtime.distribution == "multi_worker":
        raise ConfigError(
            "seqcls tune trains each trial in one process; runtime.distribution multi_worker "
            "is not supported (use none, or mirrored for the GPUs of one machine)"
        )
    metric = tune.metric or config.training.early_stopping.monitor
    direction = tune.direction or ("minimize" if metric.endswith("loss") else "maximize")
    space, notes = search_space(config)
    return Search(config, space, metric, direction, trials, notes)


def storage(tune_dir: Path) -> Any:
    """The SQLite storage of DIR/study.db. Processes of one search (--jobs) share it;
    a writer waits for the others' transactions instead of failing at once."""
    import optuna

    url = f"sqlite:///{(tune_dir / STUDY_FILE).resolve()}"
    return optuna.storages.RDBStorage(url, engine_kwargs={"connect_args": {"timeout": 120}})


def quiet_optuna() -> None:
    """Optuna logs every trial at INFO; seqcls shows its own lines."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)


def sampler_and_pruner(search: Search, offset: int) -> tuple[Any, Any]:
    """TPE seeded from the config's seed (and `offset`: the trials already in the study
    and the worker's index, so a resumed or parallel search draws new values rather than
    repeating the first ones), and the median pruner of tune.pruning."""
    import optuna

    seed = (search.config.seed + offset) % 2**32
    sampler = optuna.samplers.TPESampler(seed=seed)
    pruning = search.tune.pruning
    if not pruning.enabled:
        return sampler, optuna.pruners.NopPruner()
    # Steps are epochs (1, 2, ...); Optuna may prune from step n_warmup_steps on, so
    # warmup_epochs W (default 3) lets every trial train W epochs and prunes from W + 1.
    pruner = optuna.pruners.MedianPruner(
        n_startup_trials=pruning.startup_trials, n_warmup_steps=pruning.warmup_epochs + 1
    )
    return sampler, pruner


def create_study(tune_dir: Path, search: Search) -> Any:
    """DIR/study.db with the study and its record, made whole or not at all: Optuna
    creates a study in several transactions (tables, study, then the record), so they
    go to PARTIAL_FILE, which is linked into place once complete. A crash on the way
    leaves no study.db (a new search may use DIR; it removes the partial file). The
    caller holds the tune directory's lock. UsageError: DIR already holds a study."""
    import optuna

    quiet_optuna()
    partial = tune_dir / PARTIAL_FILE
    for suffix in ("", "-journal", "-wal", "-shm"):  # SQLite would replay a stale journal
        partial.with_name(PARTIAL_FILE + suffix).unlink(missing_ok=True)
    url = f"sqlite:///{partial.resolve()}"
    building = optuna.storages.RDBStorage(url)
    try:
        made = optuna.create_study(
            storage=building, study_name=search.config.name, direction=search.direction
        )
        made.set_user_attr(ATTRIBUTE, search.record())
    finally:
        building.remove_session()
        building.engine.dispose()  # no connection left open on the file moved into place
    _move_into_place(partial, tune_dir / STUDY_FILE)
    sampler, pruner = sampler_and_pruner(search, 0)
    return optuna.load_study(
        study_name=search.config.name, storage=storage(tune_dir), sampler=sampler, pruner=pruner
    )


def _move_into_place(partial: Path, path: Path) -> None:
    """`partial` becomes `path` in one step, never replacing a study already there."""
    try:
        os.link(partial, path)  # fails if path exists, where os.replace would overwrite
    except FileExistsError:
        raise UsageError(
            f"{path.parent} already holds a search; continue it with seqcls tune --resume "
            f"{path.parent}, or choose another --output-dir"
        ) from None
    except OSError:  # a file system without hard links: checked, then renamed
        if path.exists():
            raise UsageError(f"{path.parent} already holds a search ({path.name})") from None
        os.replace(partial, path)
        return
    partial.unlink()


def load_study(tune_dir: Path, worker: int = 0) -> tuple[Any, Search]:
    """The study in `tune_dir` and the search it records (UsageError: not a study)."""
    import optuna

    quiet_optuna()
    path = tune_dir / STUDY_FILE
    if not tune_dir.is_dir() or not path.is_file():
        raise UsageError(
            f"{tune_dir} is not a seqcls tune directory (no {STUDY_FILE} in it); start a "
            f"search with: seqcls tune CONFIG --output-dir {tune_dir}"
        )
    try:
        _check_optuna_tables(path)  # before Optuna opens it (and would add its tables)
        summaries = optuna.get_all_study_summaries(storage(tune_dir))
        names = [summary.study_name for summary in summaries]
        loaded = optuna.load_study(study_name=names[0], storage=storage(tune_dir))
        record = loaded.user_attrs[ATTRIBUTE]
        search = search_from_record(record)
    except Exception as error:  # not SQLite, another program's database, a damaged record
        raise UsageError(
            f"{path} is not a seqcls study ({type(error).__name__}: {error}); point "
            "--resume at a directory that `seqcls tune` wrote"
        ) from None
    offset = len(loaded.get_trials(deepcopy=False)) + 1000 * worker
    sampler, pruner = sampler_and_pruner(search, offset)
    study = optuna.load_study(
        study_name=names[0], storage=storage(tune_dir), sampler=sampler, pruner=pruner
    )
    return study, search


def _check_optuna_tables(path: Path) -> None:
    import sqlite3

    connection = sqlite3.connect(f"file:{path.resolve()}?mode=ro", uri=True)
    try:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    finally:
        connection.close()
    if not {"studies", "trials", "study_user_attributes"} <= tables:
        raise ValueError("it holds no Optuna study")


def search_from_record(record: dict[str, Any]) -> Search:
    """The search a study recorded (Search.record), validated again."""
    if record.get("format") != FORMAT:
        raise ValueError(f"unknown record format {record.get('format')!r}")
    tune = {**record["tune"], "space": record["space"]}
    config = validate_config({**record["config"], "tune": tune})
    return make_search(config, int(record["trials"]))


def set_trials(study: Any, search: Search, trials: int) -> None:
    """Record a new number of trials wanted (a resume may ask for more or fewer)."""
    search.trials = trials
    study.set_user_attr(ATTRIBUTE, search.record())


def check_same_search(recorded: Search, given: Search, tune_dir: Path) -> None:
    """A CONFIG given with --resume must describe the study's search (ConfigError)."""
    mine, theirs = recorded.record(), given.record()
    differences = [
        f"tune.{key}" for key in ("metric", "direction") if mine["tune"][key] != theirs["tune"][key]
    ]
    if mine["space"] != theirs["space"]:
        differences.insert(0, "tune.space")
    if mine["tune"]["pruning"] != theirs["tune"]["pruning"]:
        differences.append("tune.pruning")
    differences += _config_differences(mine["config"], theirs["config"])
    if differences:
        shown = ", ".join(differences[:8]) + (" ..." if len(differences) > 8 else "")
        raise ConfigError(
            f"CONFIG describes another search than the study in {tune_dir} ({shown} differ); "
            f"resume without CONFIG (seqcls tune --resume {tune_dir}), or start a new search "
            "in another --output-dir"
        )


def _config_differences(mine: Any, theirs: Any, prefix: str = "") -> list[str]:
    if isinstance(mine, dict) and isinstance(theirs, dict):
        found = []
        for key in dict.fromkeys([*mine, *theirs]):
            found += _config_differences(mine.get(key), theirs.get(key), f"{prefix}{key}.")
        return found
    return [] if mine == theirs else [prefix.rstrip(".")]


def states(study: Any, *names: str) -> list[Any]:
    """The study's trials in the named states (RUNNING, COMPLETE, PRUNED, FAIL)."""
    from optuna.trial import TrialState

    wanted = tuple(TrialState[name] for name in names)
    return study.get_trials(deepcopy=False, states=wanted)


def fail_unfinished(study: Any) -> list[int]:
    """Mark FAIL the trials left RUNNING by a process that ended without finishing them
    (SIGKILL, a crash); only while no process of the search runs. Returns their numbers."""
    from optuna.trial import TrialState

    numbers = [trial.number for trial in states(study, "RUNNING")]
    for number in numbers:
        study.tell(number, state=TrialState.FAIL, skip_if_finished=True)
    return numbers
