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
import sys
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seqcls.errors import DataError

FORMATS = ("csv", "tsv", "jsonl")
MAX_LISTED_PROBLEMS = 20
SUFFIX_FORMATS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}


@dataclass
class Problem:
    """One bad row: where it is, a short reason (counted), and the full explanation."""

    where: str
    reason: str
    detail: str

    def __str__(self) -> str:
        return f"{self.where}: {self.detail}"


def apply_policy(
    problems: list[Problem],
    policy: str,
    name: str,
    report=None,
    counts: dict[str, int] | None = None,
) -> dict[str, int]:
    """Enforce `data.on_bad_rows` on the problems of one file; return the count per reason.

    error: raise one DataError listing the first problems and the total.
    skip: the rows are already left out; report the counts.
    warn: as skip, and list the first problems.
    `counts` gives the totals when `problems` holds only the first few (a streamed file).
    """
    if counts is None:
        counts = dict(Counter(problem.reason for problem in problems))
    total = sum(counts.values())
    if not total:
        return counts
    listed = "\n  ".join(str(problem) for problem in problems[:MAX_LISTED_PROBLEMS])
    more = total - min(len(problems), MAX_LISTED_PROBLEMS)
    summary = ", ".join(f"{reason}: {count}" for reason, count in sorted(counts.items()))
    if policy == "error":
        raise DataError(
            f"{total} bad row(s) in {name} ({summary}):\n  {listed}"
            + (f"\n  ... and {more} more" if more > 0 else "")
            + "\nfix the rows, or set data.on_bad_rows: skip (leave them out, counted) or warn "
            "(leave them out and list them)"
        )
    if report is not None:
        report(f"{name}: left out {total} bad row(s) ({summary})")
        if policy == "warn":
            report("  " + listed + (f"\n  ... and {more} more" if more > 0 else ""))
    return counts


@dataclass
class Table:
    """Rows of one file, in order, with the line each row starts on."""

    path: Path | None
    columns: list[str]
    rows: list[dict[str, Any]]
    lines: list[int]
    # Rows left out while reading (wrong field count), for `apply_policy`.
    problems: list[Problem] = field(default_factory=list)

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
    problems: list[Problem] = field(default_factory=list)
    # What reading found worth saying (which files a glob pattern matched).
    notes: list[str] = field(default_factory=list)

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


def codec_for(encoding: str) -> str:
    """The codec to read `data.encoding` with: a UTF-8 byte-order mark (Excel writes one)
    is accepted and dropped."""
    return "utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding


def _decode(path: Path, raw: bytes, encoding: str = "utf-8") -> str:
    codec = codec_for(encoding)
    return _decoded(
        raw,
        codec,
        str(path),
        "UTF-8" if codec == "utf-8-sig" else encoding,
        "re-save the file in that encoding or set data.encoding",
    )


def _decoded(raw: bytes, codec: str, where: str, name: str, advice: str) -> str:
    """`raw` decoded, or a DataError with the line and byte offset of the first bad byte."""
    try:
        return raw.decode(codec)
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise DataError(
            f"{where}, line {line}: not valid {name} (byte {raw[error.start]:#04x} at byte "
            f"offset {error.start}); {advice}"
        ) from None


def decode_stdin(raw: bytes) -> str:
    """Text piped to stdin, which is read as UTF-8 (a byte-order mark is dropped)."""
    return _decoded(
        raw,
        "utf-8-sig",
        "<stdin>",
        "UTF-8",
        "stdin is read as UTF-8: convert the text first (for example `iconv -f latin1 -t "
        "utf-8`), or pass a CSV/TSV/JSONL file instead of `-` (files are read with the run's "
        "data.encoding)",
    )


def text_lines(text: str) -> list[str]:
    """The lines of `text`, split on "\n" only (a "\r" before it is dropped), unlike
    str.splitlines, which also splits on \f, \v, \x1c-\x1e, \x85, U+2028 and U+2029: those are
    characters of a text or of a JSON string, not line ends. A final line end ends the
    last line rather than starting an empty one."""
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def _allow_long_fields() -> None:
    """Lift the csv module's 131,072-character field limit: a long text is valid CSV (and
    reads from JSONL already). The largest limit the platform's C long holds."""
    limit = sys.maxsize
    while limit > csv.field_size_limit():
        try:
            csv.field_size_limit(limit)
            return
        except OverflowError:
            limit //= 2


def _delimited_stream(
    name: Any, lines: Any, delimiter: str, quoting: bool = True
) -> tuple[list[str], Iterator[tuple[int, dict[str, str]] | Problem]]:
    """The header of a CSV/TSV stream and an iterator over its rows: (line, row) for a
    good row, a Problem for a row with the wrong field count. `lines` is any iterable of
    lines (a file opened with newline="", or io.StringIO); nothing is read ahead."""
    _allow_long_fields()
    reader = csv.reader(
        lines,
        delimiter=delimiter,
        strict=True,
        quoting=csv.QUOTE_MINIMAL if quoting else csv.QUOTE_NONE,
    )

    def malformed(error: Exception, line: int) -> DataError:
        return DataError(
            f"{name}, line {line}: malformed row ({error}); a quote that is never closed "
            "swallows the rest of the file: check the quotes from this line on"
        )

    try:
        header = next(reader, None)
    except csv.Error as error:
        raise malformed(error, 1) from None
    if header is None:
        raise DataError(f"{name}: the file is empty; expected a header row and data rows")
    columns = [column.strip() for column in header]
    duplicates = sorted(c for c, n in Counter(columns).items() if n > 1)
    if duplicates:
        raise DataError(f"{name}, line 1: duplicate column names {duplicates} in the header")

    def rows() -> Iterator[tuple[int, dict[str, str]] | Problem]:
        start = reader.line_num + 1
        try:
            for record in reader:
                if not record:
                    start = reader.line_num + 1
                    continue  # a blank line
                if len(record) != len(columns):
                    hint = "quote fields that contain the delimiter"
                    if delimiter == ",":
                        hint += " (is this a TSV file? set data.format: tsv)"
                    yield Problem(
                        f"{name}, line {start}",
                        "wrong field count",
                        f"expected {len(columns)} fields ({', '.join(columns)}) but found "
                        f"{len(record)}; {hint}",
                    )
                else:
                    yield start, dict(zip(columns, record))
                start = reader.line_num + 1
        except csv.Error as error:
            raise malformed(error, start) from None

    return columns, rows()


def _read_delimited(path: Path | None, text: str, delimiter: str, quoting: bool = True) -> Table:
    columns, stream = _delimited_stream(
        path or "<stdin>", io.StringIO(text, newline=""), delimiter, quoting
    )
    rows, lines, problems = [], [], []
    for item in stream:
        if isinstance(item, Problem):
            problems.append(item)
        else:
            lines.append(item[0])
            rows.append(item[1])
    return Table(path, columns, rows, lines, problems)


def _jsonl_stream(name: Any, lines: Any) -> Iterator[tuple[int, dict[str, Any]] | Problem]:
    """(line, object) for each JSON object line, a Problem for any other non-blank line."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            yield Problem(f"{name}, line {number}", "invalid JSON", f"not valid JSON: {error.msg}")
            continue
        if not isinstance(row, dict):
            yield Problem(
                f"{name}, line {number}",
                "not a JSON object",
                f"expected a JSON object per line, got {type(row).__name__}",
            )
            continue
        yield number, row


def _read_jsonl(path: Path | None, text: str) -> Table:
    rows, lines, columns, problems = [], [], {}, []
    for item in _jsonl_stream(path or "<stdin>", text_lines(text)):
        if isinstance(item, Problem):
            problems.append(item)
            continue
        columns.update(dict.fromkeys(item[1]))
        lines.append(item[0])
        rows.append(item[1])
    return Table(path, list(columns), rows, lines, problems)


def parse_table(text: str, fmt: str, path: Path | None = None, tsv_quoting: bool = False) -> Table:
    if fmt == "jsonl":
        return _read_jsonl(path, text)
    if fmt == "tsv":
        # TSV exports rarely quote; a literal '"' in a text must not swallow lines.
        return _read_delimited(path, text, "\t", quoting=tsv_quoting)
    return _read_delimited(path, text, ",")


def read_table(
    path: str | Path, fmt: str = "auto", encoding: str = "utf-8", tsv_quoting: bool = False
) -> Table:
    path = Path(path)
    if path.is_dir():
        raise DataError(
            f"{path} is a folder, not a data file; name a file, or the files in it with a "
            f"pattern such as {path / '*.csv'}"
        )
    if not path.is_file():
        raise DataError(f"data file not found: {path}")
    fmt = detect_format(path, fmt)
    table = parse_table(_decode(path, path.read_bytes(), encoding), fmt, path, tsv_quoting)
    if not table.rows and not table.problems:
        raise DataError(f"{path}: no data rows (only a header or blank lines)")
    return table


NOT_TEXT = "cell not text"


def cell_text(row: dict[str, Any], column: str) -> str | None:
    """One cell as a string, or None when it holds no text. JSONL integer or boolean labels
    are labels, not numbers; a float (1.0 or 1?), null, list or object, or a key the row
    lacks, is not text."""
    value = row.get(column)
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return None


def cell_problem(row: dict[str, Any], column: str) -> str | None:
    """Why a cell holds no text (the explanation of a NOT_TEXT bad row), or None."""
    if cell_text(row, column) is not None:
        return None
    if column not in row:
        what = "missing from this row"
    elif row[column] is None:
        what = "null"
    else:
        value = row[column]
        kind = {list: "a JSON array", dict: "a JSON object"}.get(type(value), "a number")
        what = f"{kind} ({json.dumps(value, ensure_ascii=False)[:40]})"
    return (
        f"column '{column}' is {what}; expected a string (or a whole number or true/false); "
        "fix the row or write the value as a JSON string"
    )


def first_cell_problem(row: dict[str, Any], columns: list[str]) -> str | None:
    return next(filter(None, (cell_problem(row, column) for column in columns)), None)


def cell_string(row: dict[str, Any], column: str, where: str) -> str:
    """One cell as a string (see cell_text); a DataError naming `where` when it is not text."""
    text = cell_text(row, column)
    if text is None:
        raise DataError(f"{where}: {cell_problem(row, column)}")
    return text


def _cell_as_string(table: Table, index: int, column: str) -> str:
    return cell_string(table.rows[index], column, table.where(index))


def require_column(table: Table, column: str, config_key: str) -> None:
    require_in(table.columns, column, config_key, table.path or "<stdin>")


def require_in(columns: list[str], column: str, config_key: str, source: Any) -> None:
    if column not in columns:
        raise DataError(
            f"{config_key.split('.')[-1].replace('_', ' ')} '{column}' not found in "
            f"{source}; columns are {columns}; set {config_key}"
        )


def texts_of(
    table: Table,
    column: str | list[str],
    config_key: str = "data.text_column",
    separator: str = " ",
) -> list[str]:
    """The text of every row; several columns are joined with `separator`."""
    columns = [column] if isinstance(column, str) else list(column)
    for name in columns:
        require_column(table, name, config_key)
    return [
        separator.join(_cell_as_string(table, i, name) for name in columns)
        for i in range(len(table.rows))
    ]


def parse_labels(raw: str, task: str, delimiter: str = "|") -> list[str]:
    """The labels in one label cell: one (multiclass, binary), delimiter-separated
    (multilabel) or whitespace-separated tags (tagging)."""
    if task == "multilabel":
        return [label.strip() for label in raw.split(delimiter) if label.strip()]
    if task == "tagging":
        return raw.split()
    return [raw.strip()] if raw.strip() else []


def row_problem(
    text: str, label: str, task: str, delimiter: str, shown: str, label_column: str
) -> tuple[str, str] | None:
    """Why a labelled row cannot be used (reason, explanation), or None when it can."""
    parsed = parse_labels(label, task, delimiter)
    if not parsed:
        return ("empty label", f"the label ('{label_column}') is empty; every row needs a label")
    if not text.strip():
        return ("empty text", f"the text ('{shown}') is empty; remove the row")
    if task == "tagging" and len(parsed) != len(text.split()):
        return (
            "tag count mismatch",
            f"{len(text.split())} tokens in '{shown}' but {len(parsed)} tags in "
            f"'{label_column}'; tagging needs exactly one tag per whitespace-separated token",
        )
    return None


def labelled_split(
    name: str,
    table: Table,
    text_column: str | list[str],
    label_column: str,
    task: str = "multiclass",
    delimiter: str = "|",
    text_separator: str = " ",
) -> Split:
    """Texts and labels of a table. Rows with an empty label or text, a cell that holds
    no text (JSONL null, float, list, or a missing key), or (tagging) a tag count that
    differs from the token count, are left out and recorded as problems that name their
    line, with the table's own reading problems."""
    columns = [text_column] if isinstance(text_column, str) else list(text_column)
    for column in columns:
        require_column(table, column, "data.text_column")
    require_column(table, label_column, "data.label_column")
    shown = "+".join(columns)
    kept_texts, labels, lines, problems = [], [], [], list(table.problems)
    for index, row in enumerate(table.rows):
        # A JSONL cell that is null, a float, a list or missing is a bad row like any other.
        unreadable = first_cell_problem(row, [*columns, label_column])
        if unreadable:
            problems.append(Problem(table.where(index), NOT_TEXT, unreadable))
            continue
        text = text_separator.join(cell_text(row, column) for column in columns)
        label = cell_text(row, label_column).strip()
        problem = row_problem(text, label, task, delimiter, shown, label_column)
        if problem:
            problems.append(Problem(table.where(index), *problem))
            continue
        kept_texts.append(text)
        labels.append(label)
        lines.append(table.lines[index])
    return Split(name, kept_texts, labels, str(table.path), lines, problems)


GLOB_CHARACTERS = set("*?[")
LISTED_MATCHES = 10


def expand_paths(path: str | Path, config_key: str | None = None) -> list[Path]:
    """The files a data path names: a path that exists is always that file, whatever its
    characters (`data[1].csv` is not a pattern when it exists). Only a path that does not
    exist and holds *, ? or [ is a glob pattern (`data/part-*.csv`): the sorted files it
    matches. Folders of the pattern that exist as written are literal too, so
    `runs[1]/part-*.csv` globs inside the folder `runs[1]`. A pattern that matches no
    file is a DataError naming `config_key` (data.train, data.valid, data.test)."""
    path = Path(path)
    if path.exists() or not GLOB_CHARACTERS & set(str(path)):
        return [path]
    anchor, rest = _literal_prefix(path)
    if not rest or not GLOB_CHARACTERS & set("".join(rest)):
        return [path]  # a missing file whose folder exists as written: "not found" later
    matches = sorted(p for p in anchor.glob(str(Path(*rest))) if p.is_file())
    if not matches:
        raise DataError(
            f"{config_key + ': ' if config_key else ''}no file matches the pattern {path} "
            "(and no file has that exact name); check the folder and the name (in a pattern, "
            "* ? and [ are wildcards: write [[] for a literal [, [*] for *, [?] for ?)"
        )
    return matches


def _literal_prefix(path: Path) -> tuple[Path, tuple[str, ...]]:
    """The longest leading part of `path` that exists as written, and the parts after it."""
    parts = path.parts
    for cut in range(len(parts), 0, -1):
        prefix = Path(*parts[:cut])
        if prefix.exists():
            return prefix, parts[cut:]
    return Path(), parts


def match_note(config_key: str, path: str | Path, paths: list[Path]) -> str | None:
    """What a glob pattern matched, to report (None for a plain file)."""
    if paths == [Path(path)]:
        return None
    anchor, _ = _literal_prefix(Path(path))
    names = [str(p.relative_to(anchor)) if p.is_relative_to(anchor) else str(p) for p in paths]
    shown = ", ".join(names[:LISTED_MATCHES])
    if len(names) > LISTED_MATCHES:
        shown += f", ... and {len(names) - LISTED_MATCHES} more"
    where = "" if str(anchor) == "." else f" in {anchor}"
    return (
        f"{config_key}: pattern {path} matched {len(paths)} file{'s' if len(paths) > 1 else ''}"
        f"{where}: {shown}"
    )


def read_split(name: str, path: Path, data: Any, task: str = "multiclass") -> Split:
    """Read one labelled split as the `data` config section says (problems not yet enforced).
    A path that does not exist but is a glob pattern reads every matching file (shards),
    in sorted order; the split's notes say which."""
    shards = expand_paths(path, f"data.{name}")
    parts = [
        labelled_split(
            name,
            read_table(shard, data.format, data.encoding, data.tsv_quoting),
            data.text_column,
            data.label_column,
            task,
            data.label_delimiter,
            data.text_separator,
        )
        for shard in shards
    ]
    note = match_note(f"data.{name}", path, shards)
    notes = [note] if note else []
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
        [line for part in parts for line in part.lines],
        [problem for part in parts for problem in part.problems],
        notes,
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
        where = f"{split.source}, line {split.lines[index]}" if split.lines else split.source
        problems.append(
            Problem(
                where,
                "label not in train",
                f"label {unseen[0]!r} does not occur in the training data; a model cannot "
                "predict a label it never saw; fix the label or add training rows",
            )
        )
    return _subset(split, keep), problems


def _subset(split: Split, keep: list[int]) -> Split:
    return Split(
        split.name,
        [split.texts[i] for i in keep],
        [split.labels[i] for i in keep],
        split.source,
        [split.lines[i] for i in keep] if split.lines else [],
        list(split.problems),
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
    # Rows left out under data.on_bad_rows skip/warn: split -> reason -> count.
    bad_rows: dict[str, dict[str, int]] = field(default_factory=dict)


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
    notes: list[str] = []
    bad_rows: dict[str, dict[str, int]] = {}
    delimiter = data.label_delimiter

    def enforce(split: Split, problems: list[Problem]) -> None:
        counts = apply_policy(problems, data.on_bad_rows, split.source, notes.append)
        if counts:
            merged = bad_rows.setdefault(split.name, {})
            for reason, count in counts.items():
                merged[reason] = merged.get(reason, 0) + count

    train = read_split("train", data.train, data, task)
    notes.extend(train.notes)
    enforce(train, train.problems)
    if smoke_rows:
        train = train.head(smoke_rows)
    if data.valid is not None:
        valid = read_split("valid", data.valid, data, task)
        notes.extend(valid.notes)
        enforce(valid, valid.problems)
    else:
        train, valid = stratified_split(train, data.valid_split, seed)
        notes.append(f"valid: {len(valid)} rows held out of train (valid_split {data.valid_split})")
    test = None
    if data.test is not None:
        test = read_split("test", data.test, data, task)
        notes.extend(test.notes)
        enforce(test, test.problems)
    labels = label_list(train, task, delimiter)
    if len(labels) < 2:
        raise DataError(
            f"{data.train}: found {len(labels)} distinct label(s) {labels}; "
            "a classifier needs at least two"
        )
    checked = []
    for split in (valid, test):
        if split is None:
            checked.append(None)
            continue
        if smoke_rows:
            split = split.head(smoke_rows)
        kept, problems = unknown_label_problems(split, labels, task, delimiter)
        if not smoke_rows:
            enforce(split, problems)
        checked.append(kept)
    valid, test = checked
    if len(valid) == 0 and smoke_rows:
        valid = train
        notes.append("smoke: no valid row has a train label; validating on train rows")
    if len(valid) == 0:
        raise DataError(
            f"{data.valid or data.train}: no validation rows left; provide data.valid with rows "
            "whose labels occur in train (with valid_split, every label may have a single row)"
        )
    return Splits(train, valid, test, labels, notes, bad_rows)
