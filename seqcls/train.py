"""train(config) -> TrainResult: seed, data, vocabulary, model, callbacks, fit, export, evaluation."""

from __future__ import annotations

import platform
import shutil
import signal
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from seqcls import __version__, artifacts, progress, run_files
from seqcls.config import Config, config_to_yaml
from seqcls.data import Split, Splits, expand_paths, file_sha256, load_splits
from seqcls.errors import DataError, SeqclsError
from seqcls.reports import write_reports

# Rows of each split a smoke run keeps: enough for every code path, seconds to train.
SMOKE_ROWS = 48

Report = Callable[[str], None]


class TrainingFailed(SeqclsError):
    """Training ran but produced no usable model, or a smoke check failed."""

    exit_code = 1


class TrainingDiverged(TrainingFailed):
    """The loss became NaN or infinite: exit code 4, distinct from other failures."""

    exit_code = 4


class TrainingInterrupted(SeqclsError):
    """SIGINT or SIGTERM: the last completed epoch is saved and can be resumed."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code


# Settings a resumed run may change: they extend or shorten training, not what is trained.
# What may differ on resume: how long to train, and where/how results are shown.
RESUMABLE_CHANGES = {
    "training.epochs",
    "training.early_stopping.patience",
    "runtime.device",
    # A multi_worker run resumes on the chief's machine alone (see distribute.check_runtime).
    "runtime.distribution",
    "runtime.devices",
    "output.tensorboard",
    "output.plots",
    "output.html_report",
}


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat = {}
    for key, value in data.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(_flatten(value, path + "."))
        else:
            flat[path] = value
    return flat


def resume_config(run_dir: Path, config_path: Path | None, overrides: list[str]) -> Config:
    """The config to resume `run_dir` with: the run's own (with --set overrides), or
    CONFIG; refused when it differs in anything but RESUMABLE_CHANGES."""
    from seqcls.config import (
        apply_overrides,
        load_config,
        resolved_dict,
        validate_config,
    )
    from seqcls.errors import ConfigError, UsageError

    state_path = run_dir / artifacts.STATE_FILE
    if not state_path.is_file():
        raise UsageError(
            f"{run_dir} has no resumable state ({artifacts.STATE_FILE}): it did not finish an "
            "epoch (or was not started by this version of seqcls), so there is nothing to "
            f"resume. Start it again: seqcls train CONFIG --output-dir {run_dir} --force"
        )
    if run_files.read_state(run_dir)["finished"]:
        raise UsageError(f"{run_dir} finished training; there is nothing to resume")
    saved = run_files.read_run_config(run_dir)
    if config_path is not None:
        wanted = load_config(config_path, overrides)
    else:
        raw = run_files.read_run_yaml(run_dir, artifacts.CONFIG_FILE)
        touched = apply_overrides(raw, overrides)
        wanted = validate_config(raw, touched)
    before, after = _flatten(resolved_dict(saved)), _flatten(resolved_dict(wanted))
    differing = sorted(
        key
        for key in before.keys() | after.keys()
        if before.get(key) != after.get(key) and key not in RESUMABLE_CHANGES
    )
    if differing:
        raise ConfigError(
            f"cannot resume {run_dir} with a different config: {', '.join(differing)} differ "
            f"from the run's; only {', '.join(sorted(RESUMABLE_CHANGES))} may change"
        )
    return wanted


@dataclass
class TrainResult:
    run_dir: Path
    metrics: dict[str, Any]
    epochs_run: int
    best_epoch: int | None
    wall_seconds: float
    notes: list[str] = field(default_factory=list)
    # A few validation texts, for checks of the saved run (the smoke test).
    sample_texts: list[str] = field(default_factory=list)


def smoke_config(config: Config) -> Config:
    """One short epoch, no early stopping: a smoke run checks that every artifact works."""
    training = config.training.model_copy(
        update={
            "epochs": 1,
            "batch_size": min(config.training.batch_size, 16),
            "steps_per_epoch": None,
            "early_stopping": config.training.early_stopping.model_copy(update={"enabled": False}),
        }
    )
    runtime = config.runtime.model_copy(update={"distribution": "none", "devices": None})
    return config.model_copy(update={"training": training, "runtime": runtime})


def _tag_targets(split: Split, tags: list[str], ids: Any, max_length: int):
    """Ragged tag ids, cut like the token ids; a row whose token count TensorFlow sees
    differently from the tag count is a data error naming the line."""
    import tensorflow as tf

    from seqcls.tasks import label_indices

    rows = [row[:max_length] for row in label_indices(split, tags, "tagging", "|")]
    lengths = ids.row_lengths().numpy()
    for index, (row, length) in enumerate(zip(rows, lengths)):
        if len(row) != length:
            raise DataError(
                f"{split.source}, line {split.lines[index]}: TensorFlow splits the text into "
                f"{length} tokens but there are {len(row)} tags (is there a no-break or other "
                "non-ASCII space?); normalise the whitespace"
            )
    return tf.ragged.constant(rows, dtype=tf.int64)


def _device_description() -> list[str]:
    import tensorflow as tf

    gpus = tf.config.list_logical_devices("GPU")
    return [device.name for device in gpus] or ["CPU"]


def _versions() -> dict[str, str]:
    import keras
    import pandas
    import tensorflow as tf

    return {
        "seqcls": __version__,
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "pandas": pandas.__version__,
        "platform": platform.platform(),
    }


def _data_manifest(config: Config, splits: Splits) -> dict[str, Any]:
    files = {}
    for key in ("train", "valid", "test"):
        path = getattr(config.data, key)
        if path is not None:
            shards = expand_paths(path)
            files[key] = {"path": str(path), "sha256": file_sha256(shards[0])}
            if len(shards) > 1:
                files[key]["shards"] = [
                    {"path": str(shard), "sha256": file_sha256(shard)} for shard in shards
                ]
                del files[key]["sha256"]
    rows = {"train": len(splits.train), "valid": len(splits.valid)}
    if splits.test is not None:
        rows["test"] = len(splits.test)
    # Rows left out under data.on_bad_rows skip/warn, per split and reason.
    return {"files": files, "rows_used": rows, "bad_rows": splits.bad_rows}


@contextmanager
def _stopping(display: Any):
    """Close the live display however training ends, so messages after it print cleanly."""
    try:
        yield
    finally:
        if display is not None:
            display.stop()


def train(config: Config, run_dir: Path, **options: Any) -> TrainResult:
    """Train a classifier as `config` says and write every artifact into `run_dir`
    (see `_train` for the options). With runtime.distribution multi_worker, only the
    chief writes `run_dir`; another worker trains in a temporary directory that is
    deleted afterwards, and never touches `run_dir`."""
    from seqcls import distribute

    distribute.check_runtime(config.runtime, options.get("resume", False))
    if options.get("smoke") or distribute.is_chief(config.runtime):
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
    """_train, with SIGINT/SIGTERM outside the epochs (which progress.Interrupt handles)
    raising progress.Stopped: the clean-ups on the way run (no temporary file is left,
    where SIGTERM's default would kill Python on the spot), and the user is told what was
    kept (TrainingInterrupted, exit 130 / 143)."""
    try:
        with progress.stopping_on_signals():
            return _train(config, run_dir, **options)
    except progress.Stopped as stopped:
        name = signal.Signals(stopped.signum).name
        try:
            state = artifacts.read_json(run_dir / artifacts.STATE_FILE)
            completed, finished = int(state["completed_epochs"]), bool(state["finished"])
        except Exception:  # no state yet, or unreadable: nothing to resume from
            completed, finished = 0, False
        if finished:
            kept = f"training had finished; {run_dir} is complete"
        elif completed:
            kept = f"epochs 1-{completed} are saved. Resume with: seqcls train --resume {run_dir}"
        else:
            kept = "no epoch had completed, so there is nothing to resume"
        raise TrainingInterrupted(
            f"{name}: stopped outside an epoch; {kept}",
            progress.Interrupt.EXIT_CODES[stopped.signum],
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
    epochs as they run (seqcls.display; default: one line per epoch through `report`).
    """
    started_at = datetime.now(timezone.utc)
    clock = time.perf_counter()
    if smoke:
        config = smoke_config(config)
    from seqcls import runtime

    runtime.check_environment(config, smoke=smoke)
    state = run_files.read_state(run_dir) if resume else None
    if state is not None:
        # One epoch for checkpoints, state, history and best checkpoint: the state's.
        state, reconciled = progress.reconcile(
            run_dir, state, config.training.early_stopping.monitor
        )
        for note in reconciled:
            report(note)
    artifacts.write_text(run_dir / artifacts.CONFIG_FILE, config_to_yaml(config))

    import keras
    import tensorflow as tf

    if smoke:
        # A smoke run must behave the same on any machine: CPU only.
        try:
            tf.config.set_visible_devices([], "GPU")
        except RuntimeError:  # devices already initialised (TensorFlow used earlier)
            pass

    # Before TensorFlow's runtime starts: which devices it may use, GPU memory growth.
    device = "CPU" if smoke else runtime.select_device(config.runtime)
    from seqcls import distribute

    # Before other TensorFlow work (MultiWorkerMirroredStrategy insists).
    strategy = distribute.make_strategy(config.runtime)
    multi_worker = config.runtime.distribution == "multi_worker"
    worker, workers = distribute.worker_position(config.runtime)

    from seqcls import model as model_lib
    from seqcls import tasks, text
    from seqcls.predict import predict_outputs

    keras.utils.set_random_seed(config.seed)
    if config.training.deterministic:
        tf.config.experimental.enable_op_determinism()
    streamed = None
    if config.data.streaming and not smoke:
        from seqcls import streaming

        # Larger than memory: one pass counts labels and tokens; training reads the files.
        streamed = streaming.prepare(config, config.task)
        splits = streamed.splits
    else:
        splits = load_splits(config.data, config.seed, SMOKE_ROWS if smoke else None, config.task)
    notes = list(splits.notes)
    task = tasks.resolve_task(config.task, splits.labels, config.data.train)
    delimiter = config.data.label_delimiter
    # A resumed run must see the data it started with; a refusal leaves its files as they were.
    if state is not None and run_files.read_labels(run_dir)["labels"] != splits.labels:
        raise DataError(
            f"the data changed since {run_dir} started (its labels differ from "
            f"{artifacts.LABELS_FILE}); resume with the same files, or start a new run"
        )
    artifacts.write_json(run_dir / artifacts.LABELS_FILE, {"task": task, "labels": splits.labels})
    report(
        f"data: train {len(splits.train)}, valid {len(splits.valid)}"
        + (f", test {len(splits.test)}" if splits.test is not None else "")
        + f" rows; {len(splits.labels)} labels; task {task}"
    )
    for note in notes:
        report(f"  {note}")

    if streamed is not None:
        vocabulary = streamed.vocabulary
    else:
        vocabulary = text.build_vocabulary(splits.train.texts, config.preprocessing)
    if state is not None:
        if run_files.read_vocabulary(run_dir)["tokens"] != vocabulary.tokens:
            raise DataError(
                f"the data changed since {run_dir} started (its vocabulary differs from "
                f"{artifacts.VOCABULARY_FILE}); resume with the same files, or start a new run"
            )
    artifacts.write_json(run_dir / artifacts.VOCABULARY_FILE, vocabulary.to_json())
    report(
        f"vocabulary: {vocabulary.size} entries ({vocabulary.tokens_seen} distinct train tokens); "
        f"train OOV rate {vocabulary.train_oov_rate:.2%}; max_length {vocabulary.max_length} "
        f"({vocabulary.max_length_source}; {vocabulary.train_truncated_share:.1%} of train texts "
        "truncated)"
    )

    vectorizer = text.make_vectorizer(config.preprocessing, vocabulary.tokens, ragged=True)
    # A streamed train split is read by its dataset, never held in memory.
    in_memory = [splits.valid] if streamed is not None else [splits.train, splits.valid]
    ids = {
        split.name: text.encode(vectorizer, split.texts, vocabulary.max_length)
        for split in in_memory
    }
    if task == "tagging":
        targets = {
            split.name: _tag_targets(split, splits.labels, ids[split.name], vocabulary.max_length)
            for split in in_memory
        }
    else:
        targets = {
            split.name: tasks.dense_targets(split, splits.labels, task, delimiter)
            for split in in_memory
        }

    num_outputs = tasks.output_units(task, len(splits.labels))
    precision = "none" if smoke else config.runtime.mixed_precision
    scope = ExitStack()
    if strategy is not None:
        # Variables (model and optimizer) are created mirrored across the devices/workers.
        scope.enter_context(strategy.scope())
    with runtime.precision_policy(precision):
        # Layers compute in the policy's dtype; the output layer is float32 regardless.
        core = model_lib.build_core_model(config, vocabulary.size, num_outputs, task)
        classifier = model_lib.training_model(core)
    embedding = config.model.embedding
    if embedding.pretrained is not None:
        layer = core.get_layer("embedding")
        matrix, coverage = model_lib.load_pretrained_vectors(
            embedding.pretrained, vocabulary.tokens, embedding.dim, layer.get_weights()[0]
        )
        layer.set_weights([matrix])
        notes.append(f"pretrained vectors found for {coverage:.1%} of the vocabulary")
        report(f"embedding: {notes[-1]} ({embedding.pretrained})")

    classifier.compile(
        optimizer=model_lib.make_optimizer(config.training),
        loss=tasks.loss_name(task),
        # Tagging: padded steps carry zero sample weight, so the weighted accuracy
        # is the accuracy over real tokens.
        metrics=None if task == "tagging" else ["accuracy"],
        weighted_metrics=["accuracy"] if task == "tagging" else None,
    )
    scope.close()
    if strategy is not None:
        replicas = strategy.num_replicas_in_sync
        report(f"distribution: {config.runtime.distribution}, {replicas} replica(s)")
    report(
        f"model: {classifier.count_params():,} parameters; device {device}"
        + (f"; precision {precision}" if precision != "none" else "")
    )
    gpu_visible = device != "CPU"
    report(runtime.cudnn_line(config, gpu_visible))

    batch_size = config.training.batch_size
    per_token = task == "tagging"
    steps_per_epoch = config.training.steps_per_epoch
    if streamed is not None:
        train_data = streamed.dataset(config, vectorizer, task)
        epoch_steps = streamed.steps(batch_size, config.training.bucketing)
    elif multi_worker:
        # This worker's shard of the rows, in batches of its share of the global batch;
        # every worker takes the same number of steps (collectives would hang otherwise).
        local_batch = distribute.local_batch_size(batch_size, workers, strategy)
        rows = distribute.shard_rows(len(splits.train), config.seed, worker, workers)
        train_data = text.training_dataset(
            tf.gather(ids["train"], rows),
            targets["train"][rows],
            local_batch,
            config.seed,
            per_token,
            bucketing=config.training.bucketing,
        )
        epoch_steps = distribute.common_steps(
            ids["train"].row_lengths().numpy(),
            config.seed,
            workers,
            local_batch,
            config.training.bucketing,
        )
        train_data = train_data.take(epoch_steps)
    else:
        train_data = text.training_dataset(
            ids["train"],
            targets["train"],
            batch_size,
            config.seed,
            per_token,
            bucketing=config.training.bucketing,
        )
        epoch_steps = text.steps_per_epoch(
            ids["train"].row_lengths().numpy(), batch_size, config.training.bucketing
        )
    if steps_per_epoch is not None:
        # Epochs of a fixed number of batches: the data repeats across epoch boundaries.
        train_data = train_data.repeat()
        epoch_steps = steps_per_epoch
    valid_data = text.evaluation_dataset(ids["valid"], targets["valid"], batch_size, per_token)
    weights = tasks.class_weights(
        config.training.class_weight,
        streamed.label_counts if streamed is not None else splits.train,
        splits.labels,
    )
    if weights:
        setting = config.training.class_weight
        source = setting if isinstance(setting, str) else "from the config"
        shown = ", ".join(f"{label} {weight:.3g}" for label, weight in list(weights.items())[:10])
        more = " ..." if len(weights) > 10 else ""
        report(f"class weights ({source}): {shown}{more}")
    completed = state["completed_epochs"] if state else 0
    best_weights = None
    if state is not None:
        with distribute.scope(strategy):  # mirrored optimizer slots: under the strategy
            progress.restore_optimizer(classifier, run_dir / state["checkpoint"])
        progress.restore_seed_states(classifier, state["seed_states"])
        if state.get("best_epoch"):
            with artifacts.keras_scratch(run_dir / artifacts.CHECKPOINT_FOLDER, "best.keras"):
                best = artifacts.load_model(run_dir / artifacts.BEST_CHECKPOINT_FILE)
            best_weights = best.get_weights()
        # The shuffled order of epoch k depends on how many epochs the dataset has
        # served; replay the completed ones (data only, no training). Not for streamed
        # data (a full read per epoch): a resumed streamed run shuffles differently.
        if steps_per_epoch is not None and streamed is None:
            for _ in train_data.take(completed * steps_per_epoch):
                pass
        elif streamed is None:
            for _ in range(completed):
                for _ in train_data:
                    pass
        report(f"resuming after epoch {completed} (best so far: epoch {state.get('best_epoch')})")
    stopping = config.training.early_stopping
    interrupt = progress.Interrupt()
    if display is None:
        from seqcls.display import Display

        display = Display(report)  # one plain line per epoch
    log = progress.make_epoch_log(
        run_dir=run_dir,
        model=classifier,
        epochs=config.training.epochs,
        monitor=stopping.monitor,
        patience=stopping.patience if stopping.enabled else None,
        report=report,
        interrupt=interrupt,
        state=state,
        best_weights=best_weights,
        display=display,
    )
    # Where training ends: training.epochs, or now when early stopping applies already (it
    # stopped there before a crash, or a smaller patience says so). Fewer epochs than
    # are complete train none: the result is that of the completed epochs.
    last_epoch = (
        completed if state is not None and log.stops_on_resume() else config.training.epochs
    )
    fit_callbacks = [log]
    if config.output.tensorboard and strategy is not None:
        report(
            "note: output.tensorboard is not supported with runtime.distribution; "
            "no TensorBoard logs"
        )
    elif config.output.tensorboard:
        # Scalars per epoch (loss, metrics, learning rate); no graph or profiler traces.
        fit_callbacks.append(
            keras.callbacks.TensorBoard(
                log_dir=str(run_dir / artifacts.TENSORBOARD_FOLDER),
                write_graph=False,
                update_freq="epoch",
                profile_batch=0,
            )
        )
        report(f"TensorBoard logs: tensorboard --logdir {run_dir / artifacts.TENSORBOARD_FOLDER}")
    if display is not None:
        display.start(
            epochs=config.training.epochs,
            train_rows=len(splits.train),
            steps=epoch_steps,
            patience=stopping.patience if stopping.enabled else None,
        )
    with warnings.catch_warnings():
        # Bucketed batches make the epoch length unknown up front; Keras warns
        # each epoch that the (finite, by design) dataset "ran out of data".
        warnings.filterwarnings("ignore", message="Your input ran out of data")
        with interrupt.handling(), _stopping(display):
            if strategy is not None:
                distribute.fit_distributed(
                    strategy=strategy,
                    model=classifier,
                    train_data=train_data,
                    steps=epoch_steps,
                    valid_data=valid_data,
                    epochs=last_epoch,
                    initial_epoch=completed,
                    callbacks=[*fit_callbacks, *callbacks],
                    task=task,
                    class_weight={i: weights[label] for i, label in enumerate(splits.labels)}
                    if weights
                    else None,
                    continuous=steps_per_epoch is not None,
                    interrupt=interrupt,
                )
            else:
                classifier.fit(
                    train_data,
                    validation_data=valid_data,
                    epochs=last_epoch,
                    initial_epoch=completed,
                    steps_per_epoch=steps_per_epoch,
                    callbacks=[*fit_callbacks, *callbacks],
                    class_weight={i: weights[label] for i, label in enumerate(splits.labels)}
                    if weights
                    else None,
                    shuffle=False,  # the dataset shuffles itself
                    verbose=0,
                )
    epochs_run = len(log.rows)
    if interrupt.signal is not None:
        name = signal.Signals(interrupt.signal).name
        saved = (
            f"epochs 1-{epochs_run} are saved. Resume with: seqcls train --resume {run_dir}"
            if epochs_run
            else "no epoch had completed, so there is nothing to resume"
        )
        raise TrainingInterrupted(
            f"{name}: stopped in epoch {epochs_run + 1}; {saved}",
            progress.Interrupt.EXIT_CODES[interrupt.signal],
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
    # The epoch whose weights the model holds: the best one, or the last one trained.
    weights_epoch = epochs_run
    if config.training.early_stopping.restore_best and log.best_weights is not None:
        classifier.set_weights(log.best_weights)
        weights_epoch = log.best_epoch
        report(
            f"restored the weights of epoch {log.best_epoch} (best {config.training.early_stopping.monitor})"
        )
    if completed > config.training.epochs:
        notes.append(
            f"resumed with training.epochs {config.training.epochs} after {completed} completed "
            f"epochs: none was trained, and the model holds epoch {weights_epoch}'s weights"
        )
        report(f"note: {notes[-1]}")

    inference = model_lib.build_inference_model(
        core,
        text.make_vectorizer(config.preprocessing, vocabulary.tokens),
        # Tagging: every token of a text gets a tag, however long the text.
        None if task == "tagging" else vocabulary.max_length,
    )
    artifacts.save_model(inference, run_dir / artifacts.MODEL_FILE)

    # Evaluate through the saved file, reloaded with safe_mode: the numbers
    # below are the numbers `seqcls eval` and `predict` will reproduce.
    with artifacts.keras_scratch(run_dir, artifacts.MODEL_FILE):
        exported = artifacts.load_model(run_dir / artifacts.MODEL_FILE)
    outputs = {
        split.name: predict_outputs(exported, split.texts)
        for split in (splits.valid, splits.test)
        if split is not None and len(split)
    }
    thresholds = None
    if task == "multilabel":
        probabilities = tasks.label_probabilities(outputs["valid"][model_lib.PROBABILITIES])
        truth = tasks.dense_targets(splits.valid, splits.labels, task, delimiter)
        thresholds = tasks.tune_thresholds(probabilities, truth)
        artifacts.write_json(
            run_dir / artifacts.THRESHOLDS_FILE,
            {"tuned_on": "valid", "thresholds": dict(zip(splits.labels, thresholds))},
        )
        report(f"thresholds tuned on valid for {len(thresholds)} labels (max F1 per label)")
    metrics: dict[str, Any] = {"task": task}
    if splits.bad_rows:
        metrics["bad_rows"] = splits.bad_rows
    for split in (splits.valid, splits.test):
        if split is not None and split.name in outputs:
            metrics[split.name] = tasks.evaluate_outputs(
                task, outputs[split.name], split, splits.labels, delimiter, thresholds
            )
    artifacts.write_json(run_dir / artifacts.METRICS_FILE, metrics)
    write_reports(run_dir, metrics)
    from seqcls.html_report import write_visual_reports

    write_visual_reports(
        run_dir,
        config,
        metrics,
        history=log.rows,
        best_epoch=log.best_epoch,
        task=task,
        labels=splits.labels,
        valid_texts=splits.valid.texts,
        valid_labels=splits.valid.labels,
        valid_probabilities=outputs.get("valid", {}).get(model_lib.PROBABILITIES),
        report=report,
    )

    wall_seconds = time.perf_counter() - clock
    manifest = {
        "seqcls_version": __version__,
        "command": command if command is not None else sys.argv,
        "started_at": started_at.isoformat(timespec="seconds"),
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "wall_seconds": round(wall_seconds, 2),
        "seed": config.seed,
        "deterministic": config.training.deterministic,
        "smoke": smoke,
        "devices": _device_description(),
        "versions": _versions(),
        "data": _data_manifest(config, splits),
        "task": task,
        "num_labels": len(splits.labels),
        "parameters": int(classifier.count_params()),
        "class_weight": weights,
        "vocabulary_size": vocabulary.size,
        "max_length": vocabulary.max_length,
        "epochs_run": epochs_run,
        "best_epoch": log.best_epoch,
        "weights_epoch": weights_epoch,
        "stopped_early": log.stopped_early,
        "resumed_after_epoch": completed if state else None,
        "notes": notes,
    }
    artifacts.write_json(run_dir / artifacts.MANIFEST_FILE, manifest)
    log.mark_finished()
    return TrainResult(
        run_dir, metrics, epochs_run, log.best_epoch, wall_seconds, notes, splits.valid.texts[:8]
    )


def smoke_test(config: Config, run_dir: Path, report: Report = print) -> TrainResult:
    """Train on a few rows for one epoch, then prove the saved run works end to end:
    reload it from disk alone, predict (an empty and an all-punctuation text too), and
    load the best checkpoint. Raises if any step fails."""
    from seqcls.data import Table
    from seqcls.predict import load_run, predict_table

    result = train(config, run_dir, smoke=True, report=report)
    for name in artifacts.RUN_FILES:
        if not (run_dir / name).is_file():
            raise TrainingFailed(f"smoke: {run_dir / name} was not written")
    run = load_run(run_dir)
    # The data was read once, by train(): its texts, already joined when data.text_column
    # is a list, so one column holds them. Add an empty and an all-punctuation text.
    column = "text"
    sample = [*result.sample_texts, "", "!!!"]
    table = Table(None, [column], [{column: text} for text in sample], list(range(1, 11)))
    _, rows = predict_table(run, table, column)
    if len(rows) != len(sample):
        raise TrainingFailed(f"smoke: predicted {len(rows)} rows for {len(sample)} texts")
    artifacts.load_model(run_dir / artifacts.BEST_CHECKPOINT_FILE)
    report(f"smoke: reloaded {run_dir}, predicted {len(sample)} texts, every artifact loads")
    return result
