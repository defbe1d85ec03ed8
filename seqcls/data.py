"""Strict reading of CSV/TSV/JSONL text data, label maps and validation splits.

Every cell is read as a string: nothing is guessed to be a number or NA, so the
label "NA" or the text "null" survive as written. Problems are reported with
the file and line they come from. No TensorFlow here.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seqcls.errors import DataError

FORMATS = ("csv", "tsv", "jsonl")
SUFFIX_FORMATS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}


@dataclass
class Table:
    """Rows of one file, in order, with the line each row starts on."""

    path: Path | None
    columns: list[str]
    rows: list[dict[str, Any]]
    lines: list[int]

    def where(self, index: int) -> str:
        return f"{self.path or '<stdin>'}, line {self.lines[index]}"


@dataclass
class Split:
    """Texts and labels of one split (train, valid or test)."""

    name: str
    texts: list[str]
    labels: list[str]
    source: str  # the file it came from, or how it was made
    lines: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.texts)

    def head(self, rows: int) -> Split:
        return Split(
            self.name, self.texts[:rows], self.labels[:rows], self.source, self.lines[:rows]
        )


def detect_format(path: Path, declared: str = "auto") -> str:
    if declared != "auto":
        return declared
    # `data.csv.gz`-style double suffixes are not supported; the last suffix decides.
    fmt = SUFFIX_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise DataError(
            f"{path}: cannot tell the format from the suffix {path.suffix!r}; "
            f"use .csv, .tsv or .jsonl, or set data.format to one of {', '.join(FORMATS)}"
        )
    return fmt


def _decode(path: Path, raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise DataError(
            f"{path}, line {line}: not valid UTF-8 (byte {raw[error.start]:#04x}); "
            "re-save the file as UTF-8"
        ) from None


def _read_delimited(path: Path | None, text: str, delimiter: str) -> Table:
    name = path or "<stdin>"
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header = next(reader, None)
        if header is None:
            raise DataError(f"{name}: the file is empty; expected a header row and data rows")
        columns = [column.strip() for column in header]
        duplicates = sorted(c for c, n in Counter(columns).items() if n > 1)
        if duplicates:
            raise DataError(f"{name}, line 1: duplicate column names {duplicates} in the header")
        rows, lines = [], []
        start = reader.line_num + 1
        for record in reader:
            if not record:
                start = reader.line_num + 1
                continue  # a blank line
            if len(record) != len(columns):
                raise DataError(
                    f"{name}, line {start}: expected {len(columns)} fields "
                    f"({', '.join(columns)}) but found {len(record)}; "
                    "quote fields that contain the delimiter"
                    + (" (is this a TSV file? set data.format: tsv)" if delimiter == "," else "")
                )
            rows.append(dict(zip(columns, record)))
            lines.append(start)
            start = reader.line_num + 1
    except csv.Error as error:
        raise DataError(f"{name}, line {reader.line_num}: malformed row: {error}") from None
    return Table(path, columns, rows, lines)


def _read_jsonl(path: Path | None, text: str) -> Table:
    name = path or "<stdin>"
    rows, lines, columns = [], [], {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise DataError(f"{name}, line {number}: not valid JSON: {error.msg}") from None
        if not isinstance(row, dict):
            raise DataError(
                f"{name}, line {number}: expected a JSON object per line, got {type(row).__name__}"
            )
        columns.update(dict.fromkeys(row))
        rows.append(row)
        lines.append(number)
    return Table(path, list(columns), rows, lines)


def parse_table(text: str, fmt: str, path: Path | None = None) -> Table:
    if fmt == "jsonl":
        return _read_jsonl(path, text)
    return _read_delimited(path, text, "\t" if fmt == "tsv" else ",")


def read_table(path: str | Path, fmt: str = "auto") -> Table:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"data file not found: {path}")
    fmt = detect_format(path, fmt)
    table = parse_table(_decode(path, path.read_bytes()), fmt, path)
    if not table.rows:
        raise DataError(f"{path}: no data rows (only a header or blank lines)")
    return table


def _cell_as_string(table: Table, index: int, column: str) -> str:
    value = table.rows[index].get(column)
    if isinstance(value, str):
        return value
    # JSONL may carry integer or boolean labels; they are labels, not numbers.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    what = "missing" if value is None else f"a {type(value).__name__} ({value!r})"
    raise DataError(f"{table.where(index)}: column '{column}' is {what}; expected a string")


def require_column(table: Table, column: str, config_key: str) -> None:
    if column not in table.columns:
        raise DataError(
            f"{config_key.split('.')[-1].replace('_', ' ')} '{column}' not found in "
            f"{table.path or '<stdin>'}; columns are {table.columns}; set {config_key}"
        )


def texts_of(table: Table, column: str, config_key: str = "data.text_column") -> list[str]:
    require_column(table, column, config_key)
    return [_cell_as_string(table, i, column) for i in range(len(table.rows))]


def parse_labels(raw: str, task: str, delimiter: str = "|") -> list[str]:
    """The labels in one label cell: one (multiclass, binary), delimiter-separated
    (multilabel) or whitespace-separated tags (tagging)."""
    if task == "multilabel":
        return [label.strip() for label in raw.split(delimiter) if label.strip()]
    if task == "tagging":
        return raw.split()
    return [raw.strip()] if raw.strip() else []


def labelled_split(
    name: str,
    table: Table,
    text_column: str,
    label_column: str,
    task: str = "multiclass",
    delimiter: str = "|",
) -> Split:
    """Texts and labels of a table; empty labels and empty texts are errors that name the line.
    For tagging, a row whose tag count differs from its token count is an error too."""
    texts = texts_of(table, text_column)
    require_column(table, label_column, "data.label_column")
    labels = []
    for index in range(len(table.rows)):
        label = _cell_as_string(table, index, label_column).strip()
        parsed = parse_labels(label, task, delimiter)
        if not parsed:
            raise DataError(
                f"{table.where(index)}: the label ('{label_column}') is empty; "
                "every row needs a label"
            )
        if not texts[index].strip():
            raise DataError(
                f"{table.where(index)}: the text ('{text_column}') is empty; remove the row"
            )
        if task == "tagging" and len(parsed) != len(texts[index].split()):
            raise DataError(
                f"{table.where(index)}: {len(texts[index].split())} tokens in '{text_column}' but "
                f"{len(parsed)} tags in '{label_column}'; tagging needs exactly one tag per "
                "whitespace-separated token"
            )
        labels.append(label)
    return Split(name, texts, labels, str(table.path), list(table.lines))


def read_split(name: str, path: Path, data: Any, task: str = "multiclass") -> Split:
    """Read one labelled split as the `data` config section says."""
    return labelled_split(
        name,
        read_table(path, data.format),
        data.text_column,
        data.label_column,
        task,
        data.label_delimiter,
    )


def stratified_split(split: Split, fraction: float, seed: int) -> tuple[Split, Split]:
    """Hold out `fraction` of each label's rows (seeded); labels with one row stay in train."""
    by_label: dict[str, list[int]] = defaultdict(list)
    for index, label in enumerate(split.labels):
        by_label[label].append(index)
    generator = random.Random(seed)
    held_out: set[int] = set()
    for label in sorted(by_label):
        indices = by_label[label]
        if len(indices) < 2:
            continue
        generator.shuffle(indices)
        take = min(len(indices) - 1, max(1, round(fraction * len(indices))))
        held_out.update(indices[:take])

    def subset(name: str, keep: bool) -> Split:
        chosen = [i for i in range(len(split)) if (i in held_out) != keep]
        return Split(
            name,
            [split.texts[i] for i in chosen],
            [split.labels[i] for i in chosen],
            f"{split.source} ({'held out' if name == 'valid' else 'kept'}, seed {seed})",
            [split.lines[i] for i in chosen],
        )

    return subset("train", True), subset("valid", False)


def label_list(train: Split, task: str = "multiclass", delimiter: str = "|") -> list[str]:
    """The label vocabulary: train's labels (or tags), sorted, so indices are stable."""
    return sorted({label for raw in train.labels for label in parse_labels(raw, task, delimiter)})


def check_known_labels(
    split: Split, labels: list[str], task: str = "multiclass", delimiter: str = "|"
) -> None:
    known = set(labels)
    for index, raw in enumerate(split.labels):
        for label in parse_labels(raw, task, delimiter):
            if label in known:
                continue
            where = f"{split.source}, line {split.lines[index]}" if split.lines else split.source
            seen = {item for cell in split.labels for item in parse_labels(cell, task, delimiter)}
            unseen = sorted(seen - known)
            raise DataError(
                f"{where}: label {label!r} does not occur in the training data "
                f"({len(unseen)} unseen label(s) in {split.name}: {unseen[:10]}); "
                "a model cannot predict a label it never saw; fix the label or add training rows"
            )


def drop_unknown_labels(
    split: Split, labels: list[str], task: str = "multiclass", delimiter: str = "|"
) -> Split:
    known = set(labels)
    keep = [
        i for i, raw in enumerate(split.labels) if set(parse_labels(raw, task, delimiter)) <= known
    ]
    return Split(
        split.name,
        [split.texts[i] for i in keep],
        [split.labels[i] for i in keep],
        split.source,
        [split.lines[i] for i in keep] if split.lines else [],
    )


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class Splits:
    train: Split
    valid: Split
    test: Split | None
    labels: list[str]
    notes: list[str] = field(default_factory=list)


def load_splits(
    data: Any, seed: int, smoke_rows: int | None = None, task: str = "multiclass"
) -> Splits:
    """Read train/valid/test as the `data` config section says and check their labels.

    With `smoke_rows`, each split keeps only its first rows and rows whose label
    train lacks are dropped instead of failing (a smoke run checks the
    artifacts, not the data).
    """
    notes = []
    delimiter = data.label_delimiter
    train = read_split("train", data.train, data, task)
    if smoke_rows:
        train = train.head(smoke_rows)
    if data.valid is not None:
        valid = read_split("valid", data.valid, data, task)
    else:
        train, valid = stratified_split(train, data.valid_split, seed)
        notes.append(f"valid: {len(valid)} rows held out of train (valid_split {data.valid_split})")
    test = read_split("test", data.test, data, task) if data.test is not None else None
    labels = label_list(train, task, delimiter)
    if smoke_rows:
        valid = drop_unknown_labels(valid.head(smoke_rows), labels, task, delimiter)
        if test is not None:
            test = drop_unknown_labels(test.head(smoke_rows), labels, task, delimiter)
        if len(valid) == 0:
            valid = train
            notes.append("smoke: no valid row has a train label; validating on train rows")
    if len(labels) < 2:
        raise DataError(
            f"{data.train}: found {len(labels)} distinct label(s) {labels}; "
            "a classifier needs at least two"
        )
    if len(valid) == 0:
        raise DataError(
            f"{data.train}: holding out valid_split {data.valid_split} left no validation rows "
            "(every label has a single row); provide data.valid"
        )
    for split in (valid, test):
        if split is not None:
            check_known_labels(split, labels, task, delimiter)
    return Splits(train, valid, test, labels, notes)
