"""train(config) -> TrainResult, in four stages a reader can follow:

1. prepare (prepare.py): the splits, the task, the vocabulary, the datasets;
2. build (build.py): the Keras model, compiled, under the distribution strategy;
3. fit (fit.py): the epochs, with checkpoints, early stopping and resume;
4. finish (finish.py): the saved, reloaded and evaluated model, reports, manifest.

`_train` calls them in order inside `runtime.process_settings`, so the seeds,
determinism and dtype policy a run sets are put back afterwards. A smoke run is
`smoke_config` (a config transform) plus `smoke_test` (reload and predict).
"""

from __future__ import annotations

import shutil
import signal
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from seqcls.config import Config, config_to_yaml
from seqcls.errors import TrainingFailed, TrainingInterrupted
from seqcls.run import artifacts, readers
from seqcls.training import checkpoints, signals
from seqcls.training.build import build, describe_model
from seqcls.training.finish import Started, TrainResult, finish
from seqcls.training.prepare import SMOKE_ROWS, Prepared, prepare

Report = Callable[[str], None]

__all__ = ["TrainResult", "smoke_config", "smoke_test", "train"]


def smoke_config(config: Config) -> Config:
    """A smoke run's config: one short epoch on the CPU in full precision, no early
    stopping, no distribution, in-memory data (the rows are cut to SMOKE_ROWS per split).
    A smoke run checks that every artifact works, the same on any machine."""
    training = config.training.model_copy(
        update={
            "epochs": 1,
            "batch_size": min(config.training.batch_size, 16),
            "steps_per_epoch": None,
            "early_stopping": config.training.early_stopping.model_copy(update={"enabled": False}),
        }
    )
    runtime = config.runtime.model_copy(
        update={
            "distribution": "none",
            "devices": None,
            "device": "cpu",
            "mixed_precision": "none",
        }
    )
    data = config.data.model_copy(update={"streaming": False})
    return config.model_copy(update={"training": training, "runtime": runtime, "data": data})


def check_run(config: Config, resume: bool = False) -> bool:
    """What the machine must offer the config (optional packages, a GPU; what a strategy
    refuses), checked before anything is written; returns whether this process writes
    the run directory (always, unless it is another worker of a multi_worker run)."""
    from seqcls.training import distribute, runtime

    runtime.check_environment(config)
    distribute.check_runtime(config.runtime, resume)
    return distribute.is_chief(config.runtime)


def train(
    config: Config, run_dir: Path, *, chief: bool | None = None, **options: Any
) -> TrainResult:
    """Train a classifier as `config` says and write every artifact into `run_dir`
    (see `_train` for the options). `chief` is check_run's answer (asked here when not
    given). With runtime.distribution multi_worker, only the chief writes `run_dir`;
    another worker trains in a temporary directory that is deleted afterwards, and never
    touches `run_dir`."""
    if options.get("smoke"):
        config = smoke_config(config)
    if chief is None:
        chief = check_run(config, options.get("resume", False))
    if chief:
        return _train_until_stopped(config, run_dir, **options)
    scratch = Path(tempfile.mkdtemp(prefix="seqcls-worker-"))
    try:
        result = _train_until_stopped(config, scratch, **options)
        result.run_dir = run_dir  # where the chief wrote the run
        return result
    except TrainingInterrupted as error:
        # Its message names the scratch directory (deleted below) as the one to resume.
        stopped = str(error).split(";")[0]
        raise TrainingInterrupted(
            f"{stopped}; this worker keeps nothing, the chief saved the completed epochs",
            error.exit_code,
        ) from None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _train_until_stopped(config: Config, run_dir: Path, **options: Any) -> TrainResult:
    """_train, with SIGINT/SIGTERM outside the epochs (which signals.Interrupt handles)
    raising signals.Stopped: the clean-ups on the way run (no temporary file is left,
    where SIGTERM's default would kill Python on the spot), and the user is told what was
    kept (TrainingInterrupted, exit 130 / 143)."""
    try:
        with signals.stopping_on_signals():
            return _train(config, run_dir, **options)
    except signals.Stopped as stopped:
        from seqcls.training.fit import saved_epochs

        name = signal.Signals(stopped.signum).name
        try:
            state = artifacts.read_json(run_dir / artifacts.STATE_FILE)
            completed, finished = int(state["completed_epochs"]), bool(state["finished"])
        except Exception:  # no state yet, or unreadable: nothing to resume from
            completed, finished = 0, False
        if finished:
            kept = f"training had finished; {run_dir} is complete"
        elif completed:
            kept = f"{saved_epochs(completed)}. Resume with: seqcls train --resume {run_dir}"
        else:
            kept = "no epoch had completed, so there is nothing to resume"
        raise TrainingInterrupted(
            f"{name}: stopped outside an epoch; {kept}",
            signals.Interrupt.EXIT_CODES[stopped.signum],
        ) from None


def _train(
    config: Config,
    run_dir: Path,
    *,
    smoke: bool = False,
    command: list[str] | None = None,
    report: Report = print,
    resume: bool = False,
    callbacks: tuple = (),
    display: Any = None,
) -> TrainResult:
    """Train a classifier as `config` says and write every artifact into `run_dir`.

    With `resume`, continue `run_dir` from its last completed epoch (weights, optimizer
    state, early-stopping and best-checkpoint state, history, dropout RNG state).
    `callbacks` are extra Keras callbacks, run after seqcls's own. `display` shows the
    epochs as they run (seqcls.reporting.display; default: one line per epoch through
    `report`). `smoke`: `config` is smoke_config's, and each split keeps SMOKE_ROWS rows.
    """
    from seqcls.training import distribute, runtime
    from seqcls.training.fit import fit

    started = datetime.now(timezone.utc), time.perf_counter()
    state = _resumable_state(run_dir, config, report) if resume else None
    artifacts.write_text(run_dir / artifacts.CONFIG_FILE, config_to_yaml(config))
    with runtime.process_settings():
        # Before TensorFlow's runtime starts: which devices it may use, GPU memory growth;
        # then the strategy, before other TensorFlow work (MultiWorkerMirroredStrategy).
        device = runtime.select_device(config.runtime)
        strategy = distribute.make_strategy(config.runtime)
        runtime.seed_run(config)
        prepared = prepare(config, strategy, SMOKE_ROWS if smoke else None)
        # The task and max_length the data decided, where the config said auto.
        decided = {
            "task": prepared.task,
            "preprocessing.max_length": prepared.vocabulary.max_length,
        }
        artifacts.write_text(run_dir / artifacts.CONFIG_FILE, config_to_yaml(config, decided))
        _save_data_files(run_dir, prepared, state, report)
        built = build(config, prepared, strategy)
        describe_model(config, prepared, built, strategy, device, report)
        log = fit(
            config,
            prepared,
            built,
            run_dir,
            state=state,
            strategy=strategy,
            report=report,
            display=display,
            callbacks=callbacks,
        )
        resumed_after = state["completed_epochs"] if state else None
        how = Started(*started, command, smoke, resumed_after)
        return finish(config, prepared, built, log, run_dir, started=how, report=report)


def _resumable_state(run_dir: Path, config: Config, report: Report) -> dict[str, Any]:
    """The state to resume from, after bringing checkpoints, state, history and best
    checkpoint to one epoch: the state's."""
    state = readers.read_state(run_dir)
    state, reconciled = checkpoints.reconcile(
        run_dir, state, config.training.early_stopping.monitor
    )
    for note in reconciled:
        report(note)
    return state


def _save_data_files(
    run_dir: Path, prepared: Prepared, state: dict[str, Any] | None, report: Report
) -> None:
    """labels.json and vocabulary.json (a resumed run checks they are unchanged first),
    and what the data looks like, for the user."""
    from seqcls.training.resume import check_same_data

    splits, vocabulary = prepared.splits, prepared.vocabulary
    if state is not None:
        check_same_data(run_dir, splits.labels, vocabulary.tokens)
    artifacts.write_json(
        run_dir / artifacts.LABELS_FILE, {"task": prepared.task, "labels": splits.labels}
    )
    artifacts.write_json(run_dir / artifacts.VOCABULARY_FILE, vocabulary.to_json())
    report(
        f"data: train {len(splits.train)}, valid {len(splits.valid)}"
        + (f", test {len(splits.test)}" if splits.test is not None else "")
        + f" rows; {len(splits.labels)} labels; task {prepared.task}"
    )
    for note in splits.notes:
        report(f"  {note}")
    report(
        f"vocabulary: {vocabulary.size} entries ({vocabulary.tokens_seen} distinct train tokens); "
        f"train OOV rate {vocabulary.train_oov_rate:.2%}; max_length {vocabulary.max_length} "
        f"({vocabulary.max_length_source}; {vocabulary.train_truncated_share:.1%} of train texts "
        "truncated)"
    )
    weights = prepared.class_weights
    if weights:
        setting = prepared.config.training.class_weight
        source = setting if isinstance(setting, str) else "from the config"
        shown = ", ".join(f"{label} {weight:.3g}" for label, weight in list(weights.items())[:10])
        more = " ..." if len(weights) > 10 else ""
        report(f"class weights ({source}): {shown}{more}")


def smoke_test(
    config: Config, run_dir: Path, report: Report = print, chief: bool | None = None
) -> TrainResult:
    """Train on a few rows for one epoch, then prove the saved run works end to end:
    reload it from disk alone, predict (an empty and an all-punctuation text too), and
    load the best checkpoint. Raises if any step fails."""
    from seqcls.data.reading import Table
    from seqcls.inference.predict import load_run, predict_table

    result = train(config, run_dir, smoke=True, report=report, chief=chief)
    for name in artifacts.RUN_FILES:
        if not (run_dir / name).is_file():
            raise TrainingFailed(f"smoke: {run_dir / name} was not written")
    run = load_run(run_dir)
    # The data was read once, by train(): its texts, already joined when data.text_column
    # is a list, so one column holds them. Add an empty and an all-punctuation text.
    column = "text"
    sample = [*result.sample_texts, "", "!!!"]
    table = Table(None, [column], {column: sample}, list(range(1, len(sample) + 1)))
    _, rows = predict_table(run, table, column)
    if len(rows) != len(sample):
        raise TrainingFailed(f"smoke: predicted {len(rows)} rows for {len(sample)} texts")
    artifacts.load_model(run_dir / artifacts.BEST_CHECKPOINT_FILE)
    report(f"smoke: reloaded {run_dir}, predicted {len(sample)} texts, every artifact loads")
    return result
