"""Use a finished run directory: load it, predict texts, evaluate a labelled file, write tables.

Everything comes from the run directory itself (its config, labels and
`model.keras`); nothing is rebuilt from command-line flags.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from seqcls.config import Config
from seqcls.data.reading import Table, texts_of
from seqcls.errors import DataError, UsageError
from seqcls.run import artifacts, readers
from seqcls.tasks import AUTO, AUTO_TASKS, get_task, resolved_name

PREDICT_BATCH_SIZE = 256


@dataclass
class Run:
    directory: Path
    config: Config
    task: str
    labels: list[str]
    max_length: int
    model: Any  # the inference model: strings in, {"probabilities", ...} out
    thresholds: list[float] | None = None  # multilabel: one per label, tuned on valid
    calibration: dict | None = None  # temperature(s) fitted on valid (calibration.json)
    abstention: dict | None = None  # the threshold fitted on valid (abstention.json)

    def outputs(
        self, texts: list[str], calibrated: bool = True, batch_size: int = PREDICT_BATCH_SIZE
    ) -> dict[str, Any]:
        """The model's outputs for `texts`, probabilities calibrated (unless asked not to);
        texts sorted by length go to the model `batch_size` at a time (predict_outputs)."""
        outputs = predict_outputs(self.model, texts, batch_size)
        if not calibrated:
            return outputs
        return get_task(self.task).calibrated(outputs, self.calibration)

    @property
    def delimiter(self) -> str:
        return self.config.data.label_delimiter

    def display_tokens(self, texts: list[str]) -> list[list[str]]:
        """The tokens the model sees for each text, as attention weights line up with them:
        the ONNX engine's own tokenizer's, else TensorFlow's (seqcls.text)."""
        tokenizer = getattr(self.model, "tokenizer", None)
        if tokenizer is not None:
            return tokenizer.display_tokens(texts, self.max_length)
        from seqcls.text import display_tokens

        return display_tokens(texts, self.config.preprocessing, self.max_length)

    @property
    def has_attention(self) -> bool:
        """Whether the model outputs attention weights (one per token)."""
        from seqcls.modeling.outputs import ATTENTION_WEIGHTS

        return any(key.startswith(ATTENTION_WEIGHTS) for key in self.model.output)


def load_run(run_dir: str | Path) -> Run:
    """Load a finished run, its files checked on their own and against each other.

    A damaged run (a truncated, emptied or hand-edited file, or files from different
    runs) is a DataError naming the file, never a traceback or silently wrong labels.
    The JSON and YAML files are checked before the (slow) model is loaded.
    """
    run_dir = artifacts.require_run_dir(run_dir)
    config = readers.read_run_config(run_dir)
    label_file = readers.read_labels(run_dir)
    task, labels = label_file["task"], label_file["labels"]
    check_run_task(run_dir, config, task, labels)
    vocabulary = readers.read_vocabulary(run_dir)
    decisions = run_decisions(run_dir, task, labels)
    model = artifacts.load_model(run_dir / artifacts.MODEL_FILE)
    check_run_model(run_dir, model, task, labels, vocabulary)
    return Run(run_dir, config, task, labels, vocabulary["max_length"], model, **decisions)


def run_decisions(run_dir: Path, task: str, labels: list[str]) -> dict[str, Any]:
    """What a run decides with besides its model, read and checked (Run's fields): the
    thresholds (multilabel runs always have their tuned ones; other tasks none), the
    calibration and the abstention threshold (absent in runs trained before them)."""
    tuned = get_task(task).tuned_thresholds
    return {
        "thresholds": readers.read_thresholds(run_dir, labels) if tuned else None,
        "calibration": readers.read_calibration(run_dir, labels),
        "abstention": readers.read_abstention(run_dir),
    }


def _from_different_runs(run_dir: Path, name: str) -> str:
    return (
        f"the run's files come from different runs, or one was edited; restore {name} from a "
        f"backup or copy of {run_dir}, or train the run again"
    )


def check_run_task(run_dir: Path, config: Config, task: str, labels: list[str]) -> None:
    """labels.json's task is the task config.yaml asks for (`auto`: binary for two labels,
    else multiclass, as training resolves it)."""
    labels_path, config_path = run_dir / artifacts.LABELS_FILE, run_dir / artifacts.CONFIG_FILE
    expected = resolved_name(config.task, len(labels))
    if task == expected:
        return
    if config.task == AUTO and task in AUTO_TASKS:
        # The label count decides: a label was added or removed, or the task edited.
        problem = (
            f"{labels_path} lists {len(labels)} labels with task {task!r}, but {config_path} "
            f"has task 'auto', which trains a {expected} model for {len(labels)} labels"
        )
    else:
        said = f"{config.task!r}" + (
            " (binary for two labels, else multiclass)" if config.task == AUTO else ""
        )
        problem = f"{labels_path} says the task is {task!r} but {config_path} says {said}"
    raise DataError(f"{problem}; " + _from_different_runs(run_dir, artifacts.LABELS_FILE))


def _all_layers(model: Any):
    for layer in getattr(model, "layers", []):
        yield layer
        yield from _all_layers(layer)


def check_run_model(
    run_dir: Path, model: Any, task: str, labels: list[str], vocabulary: dict[str, Any]
) -> None:
    """The model fits labels.json and vocabulary.json: one output per label (binary: one
    sigmoid output for its two labels), one embedding row and one vectorizer entry per
    token, and the vectorizer's tokens and max_length are vocabulary.json's."""
    import keras

    from seqcls.modeling.layers import SequenceClip
    from seqcls.modeling.outputs import PROBABILITIES

    model_path = run_dir / artifacts.MODEL_FILE
    labels_path = run_dir / artifacts.LABELS_FILE
    vocabulary_path = run_dir / artifacts.VOCABULARY_FILE
    outputs = model.output if isinstance(model.output, dict) else {}
    if PROBABILITIES not in outputs:
        raise DataError(
            f"{model_path} is not a seqcls inference model (it has no {PROBABILITIES!r} "
            f"output); {_from_different_runs(run_dir, artifacts.MODEL_FILE)}"
        )
    width = outputs[PROBABILITIES].shape[-1]
    kind = get_task(task)
    expected = kind.output_units(len(labels))
    if width != expected:
        why = f" (a {task} run has {kind.outputs_meaning})" if kind.outputs_meaning else ""
        raise DataError(
            f"{labels_path} lists {len(labels)} labels for task {task} but {model_path} has "
            f"{width} outputs, expected {expected}{why}; "
            + _from_different_runs(run_dir, artifacts.LABELS_FILE)
        )
    tokens = vocabulary["tokens"]
    layers = list(_all_layers(model))
    for layer in layers:
        if isinstance(layer, keras.layers.Embedding) and layer.input_dim != len(tokens):
            raise DataError(
                f"{vocabulary_path} has {len(tokens)} tokens but the embedding of "
                f"{model_path} has {layer.input_dim} rows; "
                + _from_different_runs(run_dir, artifacts.VOCABULARY_FILE)
            )
    for layer in layers:
        if isinstance(layer, keras.layers.TextVectorization):
            known = layer.get_vocabulary()
            if known != tokens:
                differs = next(
                    (i for i, (a, b) in enumerate(zip(known, tokens)) if a != b),
                    min(len(known), len(tokens)),
                )
                raise DataError(
                    f"{vocabulary_path} does not match the vocabulary inside {model_path} "
                    f"({len(tokens)} tokens against {len(known)}; first difference at entry "
                    f"{differs}); " + _from_different_runs(run_dir, artifacts.VOCABULARY_FILE)
                )
        if (
            isinstance(layer, SequenceClip)
            and layer.max_length is not None
            and layer.max_length != vocabulary["max_length"]
        ):
            raise DataError(
                f"{vocabulary_path} says max_length {vocabulary['max_length']} but "
                f"{model_path} cuts texts at {layer.max_length} tokens; "
                + _from_different_runs(run_dir, artifacts.VOCABULARY_FILE)
            )


def predict_outputs(
    model: Any, texts: list[str], batch_size: int = PREDICT_BATCH_SIZE
) -> dict[str, list]:
    """Run the inference model over `texts`; every output as one entry per text, in input order.

    Texts are batched by length (sorted, then restored) so short texts are not
    padded to the length of long ones; per-step outputs (attention weights,
    token ids) therefore differ in width from batch to batch.
    """
    if not texts:
        return {key: [] for key in model.output}
    if hasattr(model, "predict_texts"):  # the ONNX engine: batches by length itself
        return model.predict_texts(texts, batch_size)
    import tensorflow as tf

    order = np.argsort([len(text) for text in texts], kind="stable")
    results: dict[str, list] = {}
    for start in range(0, len(texts), batch_size):
        rows = order[start : start + batch_size]
        outputs = model.predict_on_batch(tf.constant([texts[i] for i in rows], dtype=tf.string))
        for key, values in outputs.items():
            column = results.setdefault(key, [None] * len(texts))
            for row, value in zip(rows, np.asarray(values)):
                column[row] = value
    return results


def attention_columns(outputs: dict[str, list]) -> dict[str, str]:
    """Output column name for each attention-weight output of the model."""
    from seqcls.modeling.outputs import ATTENTION_WEIGHTS

    return {
        key: "attention" + key.removeprefix(ATTENTION_WEIGHTS)
        for key in outputs
        if key.startswith(ATTENTION_WEIGHTS)
    }


def attention_column_names(columns: list[str]) -> list[str]:
    """Of the columns predict_table added, the attention ones (attention, or
    attention_forward/attention_backward)."""
    return [name for name in columns if name == "attention" or name.startswith("attention_")]


def predict_table(
    run: Run,
    table: Table,
    text_column: str | list[str],
    top_k: int = 0,
    with_attention: bool = False,
    threshold: float | None = None,
    calibrated: bool = True,
    abstain: float | None = None,
) -> tuple[list[str], list[dict[str, Any]]]:
    """The table's rows with the predictions added (see prediction_rows); probabilities
    calibrated unless `calibrated` is false."""
    check_prediction_options(run, top_k, with_attention, threshold)
    texts = texts_of(table, text_column, separator=run.config.data.text_separator)
    outputs = run.outputs(texts, calibrated)
    added, predicted = prediction_rows(
        run, texts, outputs, top_k, with_attention, threshold, abstain, calibrated
    )
    clashes = [column for column in added if column in table.columns]
    if clashes:
        raise UsageError(
            f"{table.path or '<stdin>'} already has column(s) {clashes}, which predict would "
            "overwrite; rename them"
        )
    rows = [{**row, **predicted[index]} for index, row in enumerate(table.rows)]
    return table.columns + added, rows


def resolve_abstain(run: Run, abstain: str | float | None) -> float | None:
    """The confidence threshold `--abstain` asks for: None, "auto" (the run's, fitted on
    valid: abstention.json) or a number in [0, 1]; a UsageError otherwise, or for a task
    that does not abstain, or an unknown_label that is one of the run's labels."""
    if abstain is None:
        return None
    task = get_task(run.task)
    if not task.abstains:
        raise UsageError(
            f"--abstain applies to multiclass and binary runs, not {run.task}"
            + (
                "; a multilabel run decides per label: see --threshold"
                if task.tuned_thresholds
                else ""
            )
        )
    unknown = run.config.abstention.unknown_label
    if unknown in run.labels:
        raise UsageError(
            f"abstention.unknown_label {unknown!r} is one of the run's labels: an abstention "
            "could not be told from a prediction; retrain with another unknown_label"
        )
    if abstain == "auto":
        if run.abstention is None:
            raise UsageError(
                f"--abstain auto: {run.directory} has no abstention.json (trained before "
                "seqcls fitted a threshold); pass a threshold such as --abstain 0.5"
            )
        return float(run.abstention["threshold"])
    try:
        value = float(abstain)
    except (TypeError, ValueError):
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise UsageError(f"--abstain must be auto or a number in [0, 1], got {abstain!r}")
    return value


def check_prediction_options(
    run: Run, top_k: int, with_attention: bool, threshold: float | None
) -> None:
    """Refuse options the run cannot honour, before any text is predicted."""
    get_task(run.task).check_prediction_options(top_k, threshold)
    if top_k < 0 or top_k > len(run.labels):
        raise UsageError(
            f"--top-k must be between 1 and the number of labels ({len(run.labels)}), got {top_k}"
        )
    if with_attention and not run.has_attention:
        raise UsageError(
            f"--with-attention/--explain: this run's model has no attention weights "
            f"(model.attention.type is {run.config.model.attention.type!r}; additive and "
            "multihead attention give one weight per token; a multihead run trained by an "
            "earlier seqcls lacks them: retrain it)"
        )


def prediction_rows(
    run: Run,
    texts: list[str],
    outputs: dict[str, list],
    top_k: int = 0,
    with_attention: bool = False,
    threshold: float | None = None,
    abstain: float | None = None,
    calibrated: bool = True,
) -> tuple[list[str], list[dict[str, Any]]]:
    """The columns predict adds, and their values for each of `texts` from the model's
    `outputs` (predict_outputs of those texts; check_prediction_options first).
    `calibrated`: whether `outputs` are calibrated. Decisions are the calibrated ones
    either way: the tuned multilabel thresholds are mapped to the model's own scale, and
    abstention compares the calibrated top probability.

    multiclass/binary: the label and its probability; multilabel: every label at or
    above its threshold (joined by the run's delimiter); tagging: one tag per token.
    Optionally the top k labels, and each token's attention weight as [token, weight].
    With `abstain` (a threshold from resolve_abstain), a text whose top probability is
    below it gets abstention.unknown_label as its label (its probability stays).
    """
    task = get_task(run.task)
    attention = attention_columns(outputs) if with_attention else {}
    added = task.prediction_columns()
    for rank in range(1, top_k + 1):
        added += [f"top{rank}_label", f"top{rank}_probability"]
    added += list(attention.values())
    if not texts:
        return added, []
    tokens = run.display_tokens(texts) if attention else []
    decisions = run.thresholds
    if decisions is not None and not calibrated:
        decisions = task.uncalibrated_thresholds(decisions, run.calibration)
    if threshold is not None:
        decisions = np.full(len(run.labels), threshold)
    predicted = task.decide(outputs, run.labels, run.delimiter, decisions, top_k)
    if abstain is not None:
        from seqcls.modeling.outputs import PROBABILITIES
        from seqcls.tasks.base import PREDICTED_LABEL

        scored = outputs if calibrated else task.calibrated(outputs, run.calibration)
        confidence = task.probabilities(scored[PROBABILITIES]).max(axis=1)
        for result, score in zip(predicted, confidence):
            if score < abstain:
                result[PREDICTED_LABEL] = run.config.abstention.unknown_label
    for index, result in enumerate(predicted):
        for key, column in attention.items():
            weights = outputs[key][index]
            result[column] = [
                [token, round(float(weight), 6)] for token, weight in zip(tokens[index], weights)
            ]
    return added, predicted
