"""Use a finished run directory: load it, predict texts, evaluate a labelled file, write tables.

Everything comes from the run directory itself (its config, labels and
`model.keras`); nothing is rebuilt from command-line flags.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from seqcls import artifacts
from seqcls.config import Config, config_from_yaml_text
from seqcls.data import (
    FORMATS,
    SUFFIX_FORMATS,
    Table,
    check_known_labels,
    labelled_split,
    read_table,
    texts_of,
)
from seqcls.errors import UsageError
from seqcls.evaluate import classification_metrics

PREDICTED_LABEL = "predicted_label"
PREDICTED_PROBABILITY = "predicted_probability"
PREDICT_BATCH_SIZE = 256


@dataclass
class Run:
    directory: Path
    config: Config
    labels: list[str]
    max_length: int
    model: Any  # the inference model: strings in, {"probabilities", ...} out


def load_run(run_dir: str | Path) -> Run:
    run_dir = artifacts.require_run_dir(run_dir)
    config = config_from_yaml_text((run_dir / artifacts.CONFIG_FILE).read_text(encoding="utf-8"))
    labels = artifacts.read_json(run_dir / artifacts.LABELS_FILE)["labels"]
    max_length = artifacts.read_json(run_dir / artifacts.VOCABULARY_FILE)["max_length"]
    model = artifacts.load_model(run_dir / artifacts.MODEL_FILE)
    return Run(run_dir, config, labels, max_length, model)


def predict_outputs(
    model: Any, texts: list[str], batch_size: int = PREDICT_BATCH_SIZE
) -> dict[str, list]:
    """Run the inference model over `texts`; every output as one entry per text, in input order.

    Texts are batched by length (sorted, then restored) so short texts are not
    padded to the length of long ones; per-step outputs (attention weights,
    token ids) therefore differ in width from batch to batch.
    """
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


def to_label_probabilities(values: list) -> np.ndarray:
    """(rows, num_labels) from the model's probabilities output; binary's one sigmoid unit
    (the probability of the second label) becomes two columns."""
    probabilities = np.asarray(values, dtype=np.float64)
    if probabilities.ndim == 2 and probabilities.shape[1] == 1:
        probabilities = np.concatenate([1.0 - probabilities, probabilities], axis=1)
    return probabilities


def predict_probabilities(
    model: Any, texts: list[str], batch_size: int = PREDICT_BATCH_SIZE
) -> np.ndarray:
    """(rows, num_labels) probabilities for `texts`, in input order."""
    from seqcls.model import PROBABILITIES

    if not texts:
        return np.zeros((0, 0), dtype=np.float64)
    return to_label_probabilities(predict_outputs(model, texts, batch_size)[PROBABILITIES])


def evaluate_split_texts(
    model: Any, texts: list[str], labels: list[str], label_names: list[str]
) -> dict[str, Any]:
    index = {label: i for i, label in enumerate(label_names)}
    probabilities = predict_probabilities(model, texts)
    true = np.array([index[label] for label in labels], dtype=np.int64)
    return classification_metrics(true, probabilities.argmax(axis=1), label_names)


def evaluate_file(
    run: Run, data_file: Path, text_column: str | None = None, label_column: str | None = None
) -> dict[str, Any]:
    """Metrics of the run's model on a labelled CSV/TSV/JSONL file."""
    data = run.config.data
    table = read_table(data_file)
    split = labelled_split(
        "eval", table, text_column or data.text_column, label_column or data.label_column
    )
    check_known_labels(split, run.labels)
    metrics = evaluate_split_texts(run.model, split.texts, split.labels, run.labels)
    return {"file": str(data_file), **metrics}


def read_input(source: str, text_column: str) -> Table:
    """A CSV/TSV/JSONL file, or `-`: one text per line on stdin (blank lines are empty texts)."""
    if source == "-":
        lines = sys.stdin.read().splitlines()
        return Table(
            None,
            [text_column],
            [{text_column: line} for line in lines],
            list(range(1, len(lines) + 1)),
        )
    return read_table(source)


def attention_columns(outputs: dict[str, list]) -> dict[str, str]:
    """Output column name for each attention-weight output of the model."""
    from seqcls.model import ATTENTION_WEIGHTS

    return {
        key: "attention" + key.removeprefix(ATTENTION_WEIGHTS)
        for key in outputs
        if key.startswith(ATTENTION_WEIGHTS)
    }


def predict_table(
    run: Run, table: Table, text_column: str, top_k: int = 0, with_attention: bool = False
) -> tuple[list[str], list[dict[str, Any]]]:
    """The table's rows with the predicted label and its probability added; optionally the
    top k labels, and the attention weight of each token as a list of [token, weight]."""
    from seqcls.model import PROBABILITIES
    from seqcls.text import display_tokens

    if top_k < 0 or top_k > len(run.labels):
        raise UsageError(
            f"--top-k must be between 1 and the number of labels ({len(run.labels)}), got {top_k}"
        )
    texts = texts_of(table, text_column)
    outputs = predict_outputs(run.model, texts) if texts else {PROBABILITIES: []}
    attention = attention_columns(outputs) if with_attention else {}
    if with_attention and not attention:
        raise UsageError(
            f"--with-attention: this run's model has no attention weights (model.attention.type "
            f"is {run.config.model.attention.type!r}; only 'additive' attention gives one weight "
            "per token)"
        )
    added = [PREDICTED_LABEL, PREDICTED_PROBABILITY]
    for rank in range(1, top_k + 1):
        added += [f"top{rank}_label", f"top{rank}_probability"]
    added += list(attention.values())
    clashes = [column for column in added if column in table.columns]
    if clashes:
        raise UsageError(
            f"{table.path or '<stdin>'} already has column(s) {clashes}, which predict would "
            "overwrite; rename them"
        )
    probabilities = to_label_probabilities(outputs[PROBABILITIES])
    tokens = display_tokens(texts, run.config.preprocessing, run.max_length) if attention else []
    rows = []
    for index, (row, scores) in enumerate(zip(table.rows, probabilities)):
        best = int(scores.argmax())
        result = {
            **row,
            PREDICTED_LABEL: run.labels[best],
            PREDICTED_PROBABILITY: round(float(scores[best]), 6),
        }
        for rank, label_index in enumerate(np.argsort(-scores, kind="stable")[:top_k], start=1):
            result[f"top{rank}_label"] = run.labels[int(label_index)]
            result[f"top{rank}_probability"] = round(float(scores[label_index]), 6)
        for key, column in attention.items():
            weights = outputs[key][index]
            result[column] = [
                [token, round(float(weight), 6)] for token, weight in zip(tokens[index], weights)
            ]
        rows.append(result)
    return table.columns + added, rows


def output_format(destination: str, declared: str | None) -> str:
    if declared:
        if declared not in FORMATS:
            raise UsageError(f"--format must be one of {', '.join(FORMATS)}, got {declared!r}")
        return declared
    if destination == "-":
        return "csv"
    fmt = SUFFIX_FORMATS.get(Path(destination).suffix.lower())
    if fmt is None:
        raise UsageError(
            f"cannot tell the output format from {destination!r}; use a .csv, .tsv or .jsonl "
            "name or pass --format"
        )
    return fmt


def format_rows(columns: list[str], rows: list[dict[str, Any]], fmt: str) -> str:
    buffer = io.StringIO()
    if fmt == "jsonl":
        for row in rows:
            buffer.write(json.dumps(row, ensure_ascii=False) + "\n")
        return buffer.getvalue()
    writer = csv.DictWriter(
        buffer, fieldnames=columns, delimiter="\t" if fmt == "tsv" else ",", lineterminator="\n"
    )
    writer.writeheader()
    for row in rows:
        writer.writerow({key: _cell(value) for key, value in row.items()})
    return buffer.getvalue()


def _cell(value: Any) -> Any:
    # JSONL inputs may carry nested values; keep them readable in a CSV cell.
    return json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list)) else value


def write_rows(columns: list[str], rows: list[dict[str, Any]], destination: str, fmt: str) -> None:
    text = format_rows(columns, rows, fmt)
    if destination == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        artifacts.write_text(destination, text)
