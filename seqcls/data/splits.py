"""Labelled data: the splits (train, valid, test), their labels, and the files they come from.

Rows are read by seqcls.data.reading (strict CSV/TSV/JSONL, every cell a string). Here a row
becomes a (text, label) pair or a bad row (`LabelledColumns.read`), the same way for a
whole file (`labelled_split`) and for files streamed row by row (streaming.labelled_rows),
and bad rows follow `data.on_bad_rows` (`BadRows`). No TensorFlow here.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seqcls.data.bad_rows import BadRows, Problem
from seqcls.data.paths import expand_paths, match_note
from seqcls.data.reading import (
    NOT_TEXT,
    Table,
    cell_text,
    column_list,
    first_cell_problem,
    read_table,
    require_columns,
)
from seqcls.data.table import joined_lines, one_label_cells, pick_lines
from seqcls.errors import DataError
from seqcls.tasks import Task, reading_task


@dataclass
class Split:
    """Texts and labels of one split (train, valid or test)."""

    name: str
    texts: list[str]
    labels: list[str]
    source: str  # the file it came from, or how it was made
    # The line (or Parquet row: `unit`) each row came from; a range or list.
    lines: Sequence[int] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    # What reading found worth saying (which files a glob pattern matched).
    notes: list[str] = field(default_factory=list)
    unit: str = "line"
    # The texts of the rows labelled data.out_of_scope_label, which are not in texts.
    out_of_scope: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.texts)

    def where(self, index: int) -> str:
        """Where row `index` came from, for a message: the file and line, or the source."""
        return f"{self.source}, {self.unit} {self.lines[index]}" if self.lines else self.source

    def head(self, rows: int) -> Split:
        return Split(
            self.name,
            self.texts[:rows],
            self.labels[:rows],
            self.source,
            pick_lines(self.lines, range(min(rows, len(self.lines)))),
            unit=self.unit,
        )

    def take(self, rows: list[int], name: str, source: str, problems: bool = True) -> Split:
        """The rows at these indices, as split `name` from `source` (problems: keep ours)."""
        return Split(
            name,
            [self.texts[i] for i in rows],
            [self.labels[i] for i in rows],
            source,
            pick_lines(self.lines, rows) if self.lines else [],
            list(self.problems) if problems else [],
            unit=self.unit,
        )


def parse_labels(raw: str, task: str, delimiter: str = "|") -> list[str]:
    """The labels in one label cell as `task` (a task name or the config's `auto`) reads
    them: one (multiclass, binary), delimiter-separated (multilabel) or whitespace-separated
    tags (tagging)."""
    return reading_task(task).parse_labels(raw, delimiter)


def label_counts(raw_labels: Iterable[str], task: str, delimiter: str = "|") -> Counter:
    """How often each label (or tag) occurs in these label cells."""
    return Counter(label for raw in raw_labels for label in parse_labels(raw, task, delimiter))


def checked_labels(counts: Iterable[str], source: Any) -> list[str]:
    """The label vocabulary of train (the labels `counts` holds), sorted so indices are
    stable; a DataError naming `source` when there are fewer than two."""
    labels = sorted(counts)
    if len(labels) < 2:
        raise DataError(
            f"{source}: found {len(labels)} distinct label(s) {labels}; "
            "a classifier needs at least two"
        )
    return labels


@dataclass(frozen=True)
class LabelledColumns:
    """Which cells of a row make its text and its label, and how they are read."""

    text: list[str]
    label: str
    task: str = "multiclass"
    delimiter: str = "|"
    separator: str = " "  # between the cells of several text columns
    # Resolved once, not per row: how the task reads a label cell, the text columns' name.
    kind: Task = field(init=False, repr=False, compare=False)
    shown: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", reading_task(self.task))
        object.__setattr__(self, "shown", "+".join(self.text))

    @classmethod
    def of(cls, data: Any, task: str) -> LabelledColumns:
        """The columns the `data` config section names."""
        text = column_list(data.text_column)
        return cls(text, data.label_column, task, data.label_delimiter, data.text_separator)

    def needed_names(self) -> list[str]:
        return [*self.text, self.label]

    def needed(self) -> list[tuple[str, str]]:
        """(column, config key) for each column a file must have."""
        return [(c, "data.text_column") for c in self.text] + [(self.label, "data.label_column")]

    def read(self, row: dict[str, Any], where: str) -> tuple[str, str] | Problem:
        """(text, label) of one row, or the Problem that makes it a bad row (see row_problem)."""
        cells = [cell_text(row, column) for column in self.text]
        label = cell_text(row, self.label)
        if label is None or None in cells:
            # A JSONL cell that is null, a float, a list or missing is a bad row like any other.
            return Problem(where, NOT_TEXT, first_cell_problem(row, [*self.text, self.label]))
        text, label = self.separator.join(cells), label.strip()
        problem = row_problem(text, label, self.kind, self.delimiter, self.shown, self.label)
        return Problem(where, *problem) if problem else (text, label)


def row_problem(
    text: str, label: str, kind: Task, delimiter: str, shown: str, label_column: str
) -> tuple[str, str] | None:
    """Why a labelled row cannot be used (reason, explanation), or None when it can."""
    parsed = kind.parse_labels(label, delimiter)
    if not parsed:
        return ("empty label", f"the label ('{label_column}') is empty; every row needs a label")
    if not text.strip():
        return ("empty text", f"the text ('{shown}') is empty; remove the row")
    return kind.row_problem(text, parsed, shown, label_column)


def labelled_split(
    name: str,
    table: Table,
    text_column: str | list[str],
    label_column: str,
    task: str = "multiclass",
    delimiter: str = "|",
    text_separator: str = " ",
) -> Split:
    """Texts and labels of a table. Bad rows (see LabelledColumns.read) are left out and
    recorded as problems that name their line, with the table's own reading problems."""
    columns = LabelledColumns(
        column_list(text_column), label_column, task, delimiter, text_separator
    )
    return _labelled_table(name, table, columns)


def _labelled_table(name: str, table: Table, columns: LabelledColumns) -> Split:
    from seqcls.data.parquet import check_column_types

    require_columns(table.columns, columns.needed(), table.path or "<stdin>")
    check_column_types(table, columns.text, columns.label)
    texts = table.column(columns.text[0]) if len(columns.text) == 1 else None
    raw_labels = table.column(columns.label)
    if texts is not None and columns.kind.one_label_per_cell:
        # The common case, checked a column at once: one text column, one label a cell.
        suspect, labels = one_label_cells(table, columns.text[0], columns.label)
        texts = list(texts) if suspect else texts  # the table's own list stays as read
    else:
        suspect, labels = list(range(len(table))), list(raw_labels)
        texts = [None] * len(table)
    problems, dropped = list(table.problems), set()
    for index in suspect:
        row = {column: table.column(column)[index] for column in columns.needed_names()}
        item = columns.read(row, table.where(index))
        if isinstance(item, Problem):
            problems.append(item)
            dropped.add(index)
        else:
            texts[index], labels[index] = item
    lines = table.lines
    if dropped:
        texts, labels = (
            [value for index, value in enumerate(values) if index not in dropped]
            for values in (texts, labels)
        )
        lines = pick_lines(lines, [index for index in range(len(table)) if index not in dropped])
    return Split(name, texts, labels, str(table.path), lines, problems, unit=table.unit)


def read_split(name: str, path: Path, data: Any, task: str = "multiclass") -> Split:
    """Read one labelled split as the `data` config section says (problems not yet enforced).
    A path that does not exist but is a glob pattern reads every matching file (shards),
    in sorted order; the split's notes say which."""
    shards = expand_paths(path, f"data.{name}")
    columns = LabelledColumns.of(data, task)
    wanted = columns.needed_names()
    note = match_note(f"data.{name}", path, shards)
    notes = [note] if note else []
    parts = []
    for shard in shards:
        table = read_table(shard, data.format, data.encoding, data.tsv_quoting, wanted, data.reader)
        if table.reader.startswith("exact: "):  # Arrow could not give the same table
            notes.append(f"{name}: {shard} read by the csv module ({table.reader[7:]})")
        parts.append(_labelled_table(name, table, columns))
    if len(parts) == 1:
        parts[0].notes = notes
        return parts[0]
    # Lines are per file, so the source of each row stays findable through its problems;
    # the merged split names the pattern.
    return Split(
        name,
        [text for part in parts for text in part.texts],
        [label for part in parts for label in part.labels],
        str(path),
        joined_lines([part.lines for part in parts]),
        [problem for part in parts for problem in part.problems],
        notes,
        parts[0].unit,
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
        how = "held out" if name == "valid" else "kept"
        return split.take(chosen, name, f"{split.source} ({how}, seed {seed})", problems=False)

    return subset("train", True), subset("valid", False)


def label_list(train: Split, task: str = "multiclass", delimiter: str = "|") -> list[str]:
    """The label vocabulary: train's labels (or tags), sorted, so indices are stable."""
    return sorted(label_counts(train.labels, task, delimiter))


def unknown_label_problems(
    split: Split, labels: list[str], task: str = "multiclass", delimiter: str = "|"
) -> tuple[Split, list[Problem]]:
    """Leave out rows whose labels train never saw; one problem per such row."""
    known = set(labels)
    keep, problems = [], []
    for index, raw in enumerate(split.labels):
        unseen = [label for label in parse_labels(raw, task, delimiter) if label not in known]
        if not unseen:
            keep.append(index)
            continue
        problems.append(
            Problem(
                split.where(index),
                "label not in train",
                f"label {unseen[0]!r} does not occur in the training data; a model cannot "
                "predict a label it never saw; fix the label or add training rows",
            )
        )
    return split.take(keep, split.name, split.source), problems


@dataclass
class Splits:
    # A streamed run's train split is a streaming.StreamedSplit: its row count only.
    train: Split
    valid: Split
    test: Split | None
    labels: list[str]
    notes: list[str] = field(default_factory=list)
    # Rows left out under data.on_bad_rows skip/warn: split -> reason -> count.
    bad_rows: dict[str, dict[str, int]] = field(default_factory=dict)


def read_enforced(name: str, path: Any, data: Any, task: str, bad_rows: BadRows) -> Split:
    """read_split, its notes reported and its reading problems under data.on_bad_rows."""
    split = read_split(name, path, data, task)
    bad_rows.notes.extend(split.notes)
    bad_rows.enforce(split.name, split.source, split.problems)
    label = getattr(data, "out_of_scope_label", None)
    outside = [i for i, value in enumerate(split.labels) if value == label]
    if outside:  # kept apart: never a class, used to fit and measure abstention
        left = set(outside)
        kept = split.take([i for i in range(len(split)) if i not in left], name, split.source)
        kept.out_of_scope = [split.texts[i] for i in outside]
        bad_rows.notes.append(
            f"{name}: {len(outside)} row(s) labelled {label!r} (data.out_of_scope_label) "
            + ("left out of training" if name == "train" else "kept apart as out of scope")
        )
        split = kept
    return split


def load_splits(
    data: Any, seed: int, smoke_rows: int | None = None, task: str = "multiclass"
) -> Splits:
    """Read train/valid/test as the `data` config section says and check their labels.

    Bad rows (wrong field count, empty text or label, tag count mismatch, a label
    train never saw) follow `data.on_bad_rows`: error stops with a list of them;
    skip and warn leave them out and count them per reason in `bad_rows`.

    With `smoke_rows`, each split keeps only its first rows, and valid/test rows
    whose label train lacks are left out whatever the policy (a smoke run checks
    the artifacts, not the data).
    """
    bad_rows = BadRows(data.on_bad_rows)
    train = read_enforced("train", data.train, data, task, bad_rows)
    if smoke_rows:
        train = train.head(smoke_rows)
    if data.valid is not None:
        valid = read_enforced("valid", data.valid, data, task, bad_rows)
    else:
        train, valid = stratified_split(train, data.valid_split, seed)
        bad_rows.notes.append(
            f"valid: {len(valid)} rows held out of train (valid_split {data.valid_split})"
        )
    test = None
    if data.test is not None:
        test = read_enforced("test", data.test, data, task, bad_rows)
    labels = checked_labels(label_counts(train.labels, task, data.label_delimiter), data.train)
    return with_known_labels(train, valid, test, labels, data, task, bad_rows, smoke_rows)


def with_known_labels(
    train: Any,
    valid: Split,
    test: Split | None,
    labels: list[str],
    data: Any,
    task: str,
    bad_rows: BadRows,
    smoke_rows: int | None = None,
) -> Splits:
    """The splits, valid and test without the rows whose labels train never saw (bad rows
    under data.on_bad_rows; a smoke run leaves them out whatever the policy)."""
    checked = []
    for split in (valid, test):
        if split is None:
            checked.append(None)
            continue
        if smoke_rows:
            split = split.head(smoke_rows)
        kept, problems = unknown_label_problems(split, labels, task, data.label_delimiter)
        kept.out_of_scope = split.out_of_scope
        if not smoke_rows:
            bad_rows.enforce(split.name, split.source, problems)
        checked.append(kept)
    valid, test = checked
    if len(valid) == 0 and smoke_rows:
        valid = train
        bad_rows.notes.append("smoke: no valid row has a train label; validating on train rows")
    if len(valid) == 0:
        raise DataError(
            f"{data.valid or data.train}: no validation rows left; provide data.valid with rows "
            "whose labels occur in train (with valid_split, every label may have a single row)"
        )
    return Splits(train, valid, test, labels, bad_rows.notes, bad_rows.counts)
