"""`seqcls init`: write a commented starter config, optionally fitted to a data file.

With a data file, the columns, the task and the tokenizer are picked from the data
(seqcls.text.tokenizer_choice: char for single-token texts and scripts written without
spaces) and each choice is explained in a comment; `max_length` is always `auto` (the
99th percentile of train lengths in the chosen tokens), with the figure in a comment.
No TensorFlow here.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import replace
from pathlib import Path

from seqcls.data.parquet import check_column_types, is_text_type
from seqcls.data.reading import read_table, text_value
from seqcls.text.punctuation import KERAS_PUNCTUATION
from seqcls.text.tokenizer_choice import TokenizerChoice, choose_tokenizer

TEXT_NAMES = ("text", "sentence", "utterance", "query", "content", "body", "review", "document")
LABEL_NAMES = ("label", "labels", "intent", "class", "category", "target", "tags", "tag", "y")
SPLIT_NAMES = {"valid": ("dev", "valid", "validation", "val"), "test": ("test",)}


def _pick(columns: list[str], preferred: tuple[str, ...]) -> str | None:
    lowered = {column.lower(): column for column in columns}
    return next((lowered[name] for name in preferred if name in lowered), None)


def _siblings(train: Path) -> dict[str, Path]:
    """dev/valid/test files next to the train file, same suffix."""
    found = {}
    for split, names in SPLIT_NAMES.items():
        for name in names:
            candidate = train.with_name(f"{name}{train.suffix}")
            if candidate.is_file() and candidate != train:
                found[split] = candidate
                break
    return found


def _run_name(data: Path) -> str:
    """A run-directory prefix from the data's folder name (letters, digits, . _ - only)."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", data.resolve().parent.name).strip("-._")
    return name or "run"


def _relative(path: Path, config_dir: Path) -> str:
    return Path(os.path.relpath(path.resolve(), config_dir.resolve())).as_posix()


def inspect_data(path: Path, task: str | None) -> dict:
    table = read_table(path)
    rows = len(table)
    text_column = _pick(table.columns, TEXT_NAMES)
    label_column = _pick(table.columns, LABEL_NAMES)
    reasons = {}
    # Each cell as the reader takes it (JSONL whole numbers and true/false are labels);
    # None where it holds no text (null, a float, a missing key): training counts those
    # rows as bad rows, so they do not count here.
    cells = {c: [text_value(value) for value in table.column(c)] for c in table.columns}
    values = {c: cells[c] for c in table.columns if None not in cells[c]}
    if label_column is None:
        # The column with the fewest distinct values (but at least two) looks like labels.
        candidates = [c for c in values if c != text_column and 2 <= len(set(values[c])) < rows]
        label_column = min(candidates, key=lambda c: len(set(values[c])), default=None)
        reasons["label"] = "fewest distinct values"
    else:
        reasons["label"] = "its name"
    if text_column is None:
        # A typed file's (Parquet) numbers are not texts, whatever their length.
        candidates = [
            c for c in values if c != label_column and is_text_type(table.types.get(c, "string"))
        ]
        text_column = max(
            candidates, key=lambda c: sum(map(len, values[c])) / max(rows, 1), default=None
        )
        reasons["text"] = "longest values on average"
    else:
        reasons["text"] = "its name"
    if text_column is None or label_column is None:
        raise_missing(path, table.columns)
    check_column_types(table, [text_column], label_column)
    pairs = [
        (text, label)
        for text, label in zip(cells[text_column], cells[label_column])
        if text is not None and label is not None
    ]
    if not pairs:
        raise_missing(path, table.columns)
    texts, labels = [text for text, _ in pairs], [label for _, label in pairs]
    if task is None:
        task, reasons["task"] = _guess_task(texts, labels)
    else:
        reasons["task"] = "given with --task"
    choice = _tokenizer_for(texts, task)
    from seqcls.tasks import reading_task

    split = choice.tokenizer == "word" and not reading_task(task).per_token
    lengths = sorted(_length(text, choice.tokenizer, split) for text in texts)
    p99 = lengths[min(len(lengths) - 1, math.ceil(0.99 * len(lengths)) - 1)]
    return {
        "rows": rows,
        "columns": table.columns,
        "text_column": text_column,
        "label_column": label_column,
        "labels": len(set(labels)),
        "task": task,
        "tokenizer": choice,
        "p99_length": max(p99, 1),
        "longest": max(lengths) if lengths else 1,
        "reasons": reasons,
    }


def _tokenizer_for(texts: list[str], task: str) -> TokenizerChoice:
    """choose_tokenizer's choice, except that a per-token task (tagging) keeps word
    tokens: its tags belong to whitespace-separated words."""
    from seqcls.tasks import reading_task

    choice = choose_tokenizer(texts)
    if reading_task(task).per_token and choice.tokenizer != "word":
        return replace(choice, tokenizer="word", reason="tags belong to whitespace-separated words")
    return choice


def _length(text: str, tokenizer: str, split: bool) -> int:
    """About what TextVectorization counts as init configures it: characters with the
    spaces between them (punctuation stripped), or words (split at punctuation with
    `split`, as for every word task but tagging)."""
    if tokenizer == "char":
        return len(re.sub(KERAS_PUNCTUATION, "", text))
    if split:
        text = re.sub(KERAS_PUNCTUATION, " ", text)
    return len(text.split())


def _guess_task(texts: list[str], labels: list[str]) -> tuple[str, str]:
    if all(len(label.split()) == len(text.split()) for text, label in zip(texts, labels)) and any(
        len(label.split()) > 1 for label in labels
    ):
        return "tagging", "every row has exactly one label per whitespace-separated token"
    joined = sum(1 for label in labels if "|" in label)
    if joined >= max(1, len(labels) // 20):
        return "multilabel", f"{joined} rows hold several labels joined by '|'"
    distinct = len(set(labels))
    if distinct == 2:
        return "auto", "two labels: binary (one sigmoid unit)"
    return "auto", f"{distinct} labels: multiclass (softmax)"


def raise_missing(path: Path, columns: list[str]) -> None:
    from seqcls.errors import DataError

    raise DataError(
        f"{path}: cannot tell the text and label columns apart among {columns}; name them "
        f"text and label, or edit data.text_column and data.label_column in the config"
    )


def starter_config(
    data: Path | None, output: Path, task: str | None = None, found: dict | None = None
) -> str:
    """The config text; fitted to `data` when given (`found`: inspect_data's answer for
    it, read here when not given)."""
    lines = [
        "# seqcls config -- written by `seqcls init`; every key is explained in README's",
        "# config reference. Check it with `seqcls validate`, then train:",
        f"#   seqcls train {output}",
    ]
    if data is None:
        lines += [
            "name: my-classifier",
            "seed: 0",
            "data:",
            "  train: data/train.csv    # CSV/TSV/JSONL with a text and a label column",
            "  valid_split: 0.1         # or valid: data/dev.csv",
            "  # test: data/test.csv",
        ]
        found = None
    else:
        found = found or inspect_data(data, task)
        lines += _data_lines(data, found, output.resolve().parent)
    return "\n".join(lines + _model_lines(found)) + "\n"


def _data_lines(data: Path, found: dict, config_dir: Path) -> list[str]:
    """The task and data section fitted to `data`, each choice explained."""
    from seqcls.tasks import AUTO

    reasons = found["reasons"]
    siblings = _siblings(data)
    lines = [
        f"# Fitted to {data}: {found['rows']:,} rows, columns {found['columns']}.",
        f"name: {_run_name(data)}",
        "seed: 0",
    ]
    if found["task"] != AUTO:
        lines.append(f"task: {found['task']}    # {reasons['task']}")
    else:
        lines.append(f"# task: auto -- {reasons['task']}")
    lines += ["data:", f"  train: {_relative(data, config_dir)}"]
    if "valid" in siblings:
        lines.append(f"  valid: {_relative(siblings['valid'], config_dir)}")
    else:
        lines.append("  valid_split: 0.1         # no dev/valid file next to train was found")
    if "test" in siblings:
        lines.append(f"  test: {_relative(siblings['test'], config_dir)}")
    return lines + [
        f"  text_column: {found['text_column']}    # picked by {reasons['text']}",
        f"  label_column: {found['label_column']}    # picked by {reasons['label']}"
        f"; {found['labels']} distinct values",
    ]


def _model_lines(found: dict | None) -> list[str]:
    """preprocessing, model and training: the shipped recipe (per-token tasks keep
    punctuation and use no attention)."""
    from seqcls.tasks import reading_task

    per_token = found is not None and reading_task(found["task"]).per_token
    tokenizer, max_length = _tokenizer_lines(found)
    lines = ["preprocessing:", tokenizer, "  lowercase: true"]
    if per_token:
        lines.append("  strip_punctuation: false    # tags belong to every token, punctuation too")
    elif found is None or found["tokenizer"].tokenizer == "word":
        lines.append('  split_punctuation: true     # "mind--and" -> mind and (not mindand)')
    lines += [
        max_length,
        "model:",
        "  embedding:",
        "    dim: 128",
        "    dropout: 0.2             # cheap regularisation for small datasets",
        "    spatial_dropout: 0.2     # drops whole channels: no leaning on one feature",
        "  encoder:",
        "    cell: lstm",
        "    units: 128",
        "    bidirectional: true",
        "    merge_mode: concat       # (batch, time, 256): both directions side by side",
        "  attention:",
    ]
    if per_token:
        lines.append("    type: none               # tagging keeps one vector per token")
    else:
        lines += [
            "    type: additive           # Zhou et al. 2016, masked before the softmax",
            "    concat_pooling: [mean, max]   # beside the attention: the steps' mean and max",
        ]
    lines += _linear_lines(found)
    return lines + [
        "training:",
        "  epochs: 20",
        "  batch_size: 32",
        "  learning_rate: 0.002",
        "  clipnorm: 1.0",
        "  label_smoothing: 0.1       # softer targets: less over-confident fits",
        "  ema_momentum: 0.99         # validate and save a moving average of the weights",
        "  early_stopping:",
        "    monitor: val_loss",
        "    patience: 3",
    ]


def _linear_lines(found: dict | None) -> list[str]:
    """model.linear for single-label tasks: word uni- and bigrams, or characters 1-4 in a
    row (as a character TF-IDF model reads text written without spaces)."""
    from seqcls.tasks import reading_task

    if found is not None and not reading_task(found["task"]).blends_linear:
        return []
    char = found is not None and found["tokenizer"].tokenizer == "char"
    return [
        "  linear:                    # TF-IDF n-grams + linear SVM, blended in (weight on valid)",
        f"    ngrams: {4 if char else 2}                # {'characters' if char else 'words'} 1 to {4 if char else 2} in a row",
    ]


def _tokenizer_lines(found: dict | None) -> tuple[str, str]:
    """The preprocessing.tokenizer and max_length lines: the choice from the data and why."""
    if found is None:
        return (
            "  tokenizer: word          # char for codes, URLs, names or Chinese/Japanese/Thai",
            "  max_length: auto         # the 99th percentile of train lengths, reported",
        )
    choice = found["tokenizer"]
    unit = "characters" if choice.tokenizer == "char" else "words"
    return (
        f"  tokenizer: {choice.tokenizer}    # {choice.reason}",
        f"  max_length: auto    # the 99th percentile of train lengths: about "
        f"{found['p99_length']} {unit} here, longest {found['longest']}",
    )


def write_starter_config(
    output: Path, data: Path | None = None, task: str | None = None, force: bool = False
) -> dict | None:
    """`seqcls init`: write starter_config to `output` (not over an existing file without
    `force`, nor over `data`); a config fitted to `data` is validated once written.
    Returns what was read from `data` (inspect_data), None without data."""
    from seqcls.config import load_config
    from seqcls.errors import UsageError
    from seqcls.run.artifacts import write_text
    from seqcls.run.destinations import check_destination
    from seqcls.tasks import AUTO, TASK_NAMES

    tasks = (AUTO, *TASK_NAMES)
    if task is not None and task not in tasks:
        raise UsageError(f"--task must be one of {', '.join(tasks)}, got {task!r}")
    if output.exists() and not force:
        raise UsageError(f"{output} exists; choose another --output or pass --force")
    check_destination(output, "--output", [("data file", data)] if data else [])
    found = inspect_data(data, task) if data is not None else None
    write_text(output, starter_config(data, output, task, found))
    if data is not None:
        load_config(output)  # what init writes must validate
    return found
