"""Training, stage 4: from the fitted model to a finished run directory.

The model keeps the best epoch's weights (early_stopping.restore_best), is saved as the
inference model (`model.keras`: raw strings in), reloaded from that file the way `eval`
and `predict` load it, and evaluated on valid and test; multilabel thresholds are tuned
on valid. Then the metrics, the reports, the manifest and the model card (MODEL_CARD.md,
from those files) are written, and the resumable state is marked finished.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from seqcls.config import Config
from seqcls.messages import note
from seqcls.run import artifacts
from seqcls.training.prepare import Prepared


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


@dataclass
class Started:
    """When and how the run started (for the manifest)."""

    at: datetime
    clock: float
    command: list[str] | None
    smoke: bool
    resumed_after: int | None


def finish(
    config: Config,
    prepared: Prepared,
    built: Any,
    log: Any,
    run_dir: Path,
    *,
    started: Started,
    report: Any,
) -> TrainResult:
    """Save, reload, evaluate and describe the trained model (see the module docstring)."""
    weights_epoch = _final_weights(config, prepared, built, log, started, report)
    import seqcls.text as text
    from seqcls.modeling import build as model_lib
    from seqcls.training.linear_branch import attach_linear

    core, linear = attach_linear(config, prepared, built.core, report)
    inference = model_lib.build_inference_model(
        core,
        text.make_vectorizer(config.preprocessing, prepared.vocabulary.tokens),
        prepared.kind.inference_max_length(prepared.vocabulary.max_length),
    )
    artifacts.save_model(inference, run_dir / artifacts.MODEL_FILE)
    metrics, valid_probabilities = evaluate_saved_model(prepared, run_dir, report)
    from seqcls.reporting.html import write_visual_reports
    from seqcls.reporting.tables import write_reports

    write_reports(run_dir, metrics)
    splits = prepared.splits
    # Measured before the reports, so report.html and manifest.json give one wall time.
    seconds = wall_seconds(log.rows, started.resumed_after, time.perf_counter() - started.clock)
    write_visual_reports(
        run_dir,
        config,
        metrics,
        history=log.rows,
        best_epoch=log.best_epoch,
        task=prepared.task,
        labels=prepared.labels,
        valid_texts=splits.valid.texts,
        valid_labels=splits.valid.labels,
        valid_probabilities=valid_probabilities,
        report=report,
        stopped_early=log.stopped_early,
        wall_seconds=seconds["wall_seconds"],
    )
    training = {"weights_epoch": weights_epoch, **({"linear": linear} if linear else {})}
    _write_manifest(config, prepared, built, log, run_dir, started, seconds, training)
    from seqcls.reporting.model_card import write_model_card

    # From the files just written (metrics, manifest): the card says what they say.
    write_model_card(run_dir)
    log.mark_finished()
    return TrainResult(
        run_dir,
        metrics,
        len(log.rows),
        log.best_epoch,
        seconds["wall_seconds"],
        prepared.notes,
        splits.valid.texts[:8],
    )


def wall_seconds(
    rows: list[dict[str, Any]], resumed_after: int | None, this_part: float
) -> dict[str, float]:
    """How long training took: `wall_seconds` is the whole of it. A resumed run adds the
    epochs completed before the resume (their seconds in the history state.json kept:
    the earlier parts' start-up and an epoch cut short are not recorded) to this part's
    wall time, and keeps both parts apart."""
    if not resumed_after:
        return {"wall_seconds": this_part}
    before = sum(float(row.get("seconds") or 0.0) for row in rows[:resumed_after])
    return {
        "wall_seconds": before + this_part,
        "wall_seconds_before_resume": before,
        "wall_seconds_resumed_part": this_part,
    }


def _final_weights(
    config: Config, prepared: Prepared, built: Any, log: Any, started: Started, report: Any
) -> int:
    """Give the model the weights it is saved with; returns their epoch."""
    weights_epoch = len(log.rows)  # the last one trained, unless the best is restored
    stopping = config.training.early_stopping
    if stopping.restore_best and log.best_weights is not None:
        built.classifier.set_weights(log.best_weights)
        weights_epoch = log.best_epoch
        report(f"restored the weights of epoch {log.best_epoch} (best {stopping.monitor})")
    completed = started.resumed_after or 0
    if completed > config.training.epochs:
        prepared.notes.append(
            f"resumed with training.epochs {config.training.epochs} after {completed} completed "
            f"epochs: none was trained, and the model holds epoch {weights_epoch}'s weights"
        )
        report(note(prepared.notes[-1]))
    return weights_epoch


def evaluate_saved_model(prepared: Prepared, run_dir: Path, report: Any) -> tuple[dict, Any]:
    """Metrics of `model.keras` reloaded with safe_mode, as `seqcls eval` and `predict` will
    reproduce them; writes metrics.json (and the multilabel thresholds tuned on valid).
    Returns the metrics and the valid probabilities (for the report)."""
    from seqcls.inference.predict import predict_outputs
    from seqcls.modeling.outputs import PROBABILITIES

    with artifacts.keras_scratch(run_dir, artifacts.MODEL_FILE):
        exported = artifacts.load_model(run_dir / artifacts.MODEL_FILE)
    splits, task, labels = prepared.splits, prepared.kind, prepared.labels
    delimiter = prepared.config.data.label_delimiter
    raw = {
        split.name: predict_outputs(exported, split.texts)
        for split in (splits.valid, splits.test)
        if split is not None and len(split)
    }
    calibration = _calibrate(raw["valid"], prepared, run_dir, report)
    outputs = {name: task.calibrated(values, calibration) for name, values in raw.items()}
    # The texts labelled data.out_of_scope_label, apart from the splits' own.
    outside = {
        split.name: task.calibrated(predict_outputs(exported, split.out_of_scope), calibration)
        for split in (splits.valid, splits.test)
        if split is not None and split.out_of_scope
    }
    # Thresholds are tuned on the calibrated probabilities predict decides on.
    thresholds = task.tune(outputs["valid"], splits.valid, labels, delimiter)
    chosen = _abstention_threshold(
        outputs["valid"], outside.get("valid"), prepared, run_dir, report
    )
    if thresholds is not None:
        artifacts.write_json(
            run_dir / artifacts.THRESHOLDS_FILE,
            {"tuned_on": "valid", "thresholds": dict(zip(labels, thresholds))},
        )
        report(f"thresholds tuned on valid for {len(thresholds)} labels (max F1 per label)")
    metrics: dict[str, Any] = {"task": task.name}
    if splits.bad_rows:
        metrics["bad_rows"] = splits.bad_rows
    from seqcls.tasks.abstention import abstention_report, out_of_scope_report
    from seqcls.tasks.calibration import calibration_report

    for split in (splits.valid, splits.test):
        if split is not None and split.name in outputs:
            metrics[split.name] = task.evaluate(
                outputs[split.name], split, labels, delimiter, thresholds
            )
            measured = calibration_report(
                task, raw[split.name], outputs[split.name], split, labels, delimiter, calibration
            )
            if measured is not None:
                metrics[split.name]["calibration"] = measured
            trade = abstention_report(task, outputs[split.name], split, labels, delimiter, chosen)
            if trade is not None:
                metrics[split.name]["abstention"] = trade
            if split.name in outside:
                metrics[split.name]["out_of_scope"] = out_of_scope_report(
                    task, outputs[split.name], split, outside[split.name], labels, delimiter, chosen
                )
    artifacts.write_json(run_dir / artifacts.METRICS_FILE, metrics)
    return metrics, outputs.get("valid", {}).get(PROBABILITIES)


def _calibrate(valid: dict, prepared: Prepared, run_dir: Path, report: Any) -> dict | None:
    """Fit the temperature(s) on the valid outputs (never test) and save them in
    calibration.json; None when the task gives nothing to fit."""
    splits, task = prepared.splits, prepared.kind
    delimiter = prepared.config.data.label_delimiter
    calibration = task.fit_calibration(valid, splits.valid, prepared.labels, delimiter)
    if calibration is None:
        return None
    calibration.update(fitted_on="valid", valid_rows=len(splits.valid))
    artifacts.write_json(run_dir / artifacts.CALIBRATION_FILE, calibration)
    if "temperature" in calibration:
        from seqcls.tasks.calibration import at_bound

        bound = (
            " (at the search's bound: valid may be too small or too easy for it to hold)"
            if at_bound(calibration["temperature"])
            else ""
        )
        report(f"calibration: temperature {calibration['temperature']:.3f} fitted on valid{bound}")
    else:
        values = list(calibration["temperatures"].values())
        report(
            f"calibration: one temperature per label fitted on valid "
            f"({min(values):.3f} to {max(values):.3f})"
        )
    return calibration


def _abstention_threshold(
    valid: dict, outside: dict | None, prepared: Prepared, run_dir: Path, report: Any
) -> dict | None:
    """The confidence threshold `predict --abstain auto` uses: the lowest at which the
    calibrated valid predictions kept are abstention.target_precision precise (an
    out-of-scope valid row kept counts as wrong); saved in abstention.json. None for a
    task that does not abstain."""
    import numpy as np

    from seqcls.modeling.outputs import PROBABILITIES
    from seqcls.tasks.abstention import choose_threshold, confidence_rows

    task, split, config = prepared.kind, prepared.splits.valid, prepared.config
    if not task.abstains or not len(split):
        return None
    confidence, correct = confidence_rows(
        task, valid, split, prepared.labels, config.data.label_delimiter
    )
    if outside is not None:
        scores = task.probabilities(outside[PROBABILITIES]).max(axis=1)
        confidence = np.r_[confidence, scores]
        correct = np.r_[correct, np.zeros(len(scores), dtype=bool)]
    chosen = choose_threshold(confidence, correct, config.abstention.target_precision)
    chosen.update(
        fitted_on="valid",
        score="calibrated top probability",
        out_of_scope_rows=0 if outside is None else len(prepared.splits.valid.out_of_scope),
    )
    artifacts.write_json(run_dir / artifacts.ABSTENTION_FILE, chosen)
    reached = "" if chosen["reached"] else " (the target was not reached: the most precise)"
    outside_rows = f", {chosen['out_of_scope_rows']} out of scope" if outside is not None else ""
    report(
        f"abstention: threshold {chosen['threshold']:.3f} keeps {chosen['coverage']:.1%} of "
        f"valid's {chosen['rows']} rows{outside_rows} at precision {chosen['precision']:.3f} "
        f"(target {chosen['target_precision']}){reached}"
    )
    return chosen


def _write_manifest(
    config: Config,
    prepared: Prepared,
    built: Any,
    log: Any,
    run_dir: Path,
    started: Started,
    seconds: dict[str, float],
    extra: dict[str, Any],
) -> None:
    from seqcls.run.manifest import run_manifest

    training = {
        "task": prepared.task,
        "num_labels": len(prepared.labels),
        "parameters": int(built.classifier.count_params()),
        "class_weight": prepared.class_weights,
        "train_label_counts": _train_label_counts(prepared),
        "vocabulary_size": prepared.vocabulary.size,
        "max_length": prepared.vocabulary.max_length,
        "epochs_run": len(log.rows),
        "best_epoch": log.best_epoch,
        **extra,
        "stopped_early": log.stopped_early,
        "resumed_after_epoch": started.resumed_after,
        "notes": prepared.notes,
    }
    manifest = run_manifest(
        config,
        prepared.splits,
        command=started.command,
        started_at=started.at,
        wall_seconds=seconds,
        smoke=started.smoke,
        training=training,
    )
    artifacts.write_json(run_dir / artifacts.MANIFEST_FILE, manifest)


def _train_label_counts(prepared: Prepared) -> dict[str, int]:
    """Rows (tagging: tags) of each label in train, in label order; a streamed train
    split's from its scan."""
    from seqcls.data.splits import label_counts

    counts = prepared.label_counts  # the scan's dict, or the train split in memory
    if not isinstance(counts, dict):
        counts = label_counts(counts.labels, prepared.task, prepared.config.data.label_delimiter)
    return {label: int(counts.get(label, 0)) for label in prepared.labels}
