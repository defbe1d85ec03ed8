"""Streamed training files read through Arrow a batch at a time (`labelled_batches`): CSV/TSV
blocks through pyarrow.csv.open_csv with every cell a string (arrow_reading's options),
Parquet row groups through pyarrow.parquet. Each batch becomes `Rows` (the usable texts,
still an Arrow array, and their labels) and the bad rows (`Problem`): the same rows and
bad rows, with the same file and line, as the exact row-by-row path
(streaming.labelled_rows), and never more than a batch of the file in memory.

A row is read as LabelledColumns.read reads it: the labels are read once per distinct
label cell, the rows that may be bad (a blank text, a label cell that gives no label, a
null) are found a column at once and go through LabelledColumns.read itself.

What Arrow cannot say is asked around, file by file:

- A row with the wrong field count: Arrow's invalid-row handler does not say its line.
  Arrow has called it before it hands out that row's batch, so the batches before are
  used, and from there the exact reader takes the file: it reads past the rows already
  used and reports every bad row (file and line) as it would have. The same when Arrow
  refuses a block (bad bytes, an unclosed quote): the exact reader reports it.
- The line of a bad row (an empty text or label) is found when the file has been read,
  for the first MAX_LISTED_PROBLEMS of the file (the rest are only counted, in
  `Rows.unlisted`): one line per row when the file's lines add up to its rows; else
  through the line ends inside the cells (a second Arrow pass); else (blank lines
  between rows, a bare carriage return) from the exact reader's pass up to the last of
  them. A file's listed bad rows therefore come after its rows.
- A header that is not a plain first row, duplicate column names, UTF-16/32: the exact
  reader reads the file. JSONL is always read by the exact reader, its rows gathered
  into Rows.

As for whole files (arrow_reading), text after a closing quote ("ab"c) is kept where the
csv module stops; data.reader: exact (streaming.labelled_rows) keeps that check.
"""

from __future__ import annotations

import codecs
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seqcls.data.arrow_reading import (
    BLANK_PATTERN,
    _batches,
    _csv_options,
    _editor_lines,
    _line_end_facts,
    _raw_header,
)
from seqcls.data.bad_rows import MAX_LISTED_PROBLEMS, Problem
from seqcls.data.parquet import _open_parquet, _plain, _type_name, _unreadable, check_column_types
from seqcls.data.reading import detect_format, stream_file
from seqcls.data.splits import LabelledColumns
from seqcls.data.table import Table, require_columns, text_value
from seqcls.errors import DataError
from seqcls.tasks import Task

# Bytes of CSV/TSV Arrow parses per batch (about 25,000 rows of 80 bytes). Arrow's reader
# reads up to about 32 blocks ahead of the one handed on: memory is bounded by that, not
# by the file (2 MB blocks: about 80 MB held at most).
BLOCK_BYTES = 1 << 21
# Parquet rows per batch, and exact-reader rows gathered into one Rows.
BATCH_ROWS = 65536
EXACT_BATCH_ROWS = 4096


@dataclass
class Rows:
    """The usable rows of one batch, in order: `texts` (an Arrow string array) and the
    label of text i, `labels[index[i]]` (each distinct label cell read once, stripped).
    `unlisted`: bad rows of the batch only counted (reason -> rows), past the ones a
    file lists."""

    texts: Any
    labels: list[Any]
    index: Any  # NumPy integers, one per text
    unlisted: Counter = field(default_factory=Counter)

    def __len__(self) -> int:
        return len(self.texts)

    def label_counts(self, kind: Task, delimiter: str) -> Counter:
        """How often each label (or tag) occurs, as splits.label_counts counts them."""
        import numpy as np

        counts: Counter = Counter()
        occurrences = np.bincount(self.index, minlength=len(self.labels)).tolist()
        for raw, rows in zip(self.labels, occurrences):
            if rows:
                for label in kind.parse_labels(raw, delimiter):
                    counts[label] += rows
        return counts


def labelled_batches(
    path: Path, data: Any, columns: LabelledColumns, problems: bool = True
) -> Iterator[Rows | Problem]:
    """The usable rows of one training file a batch at a time (Rows), and its bad rows
    (Problem, with file and line; with `problems` False, not reported)."""
    fmt = detect_format(path, data.format)
    if not path.is_file():
        raise DataError(f"data file not found: {path}")
    if fmt == "parquet":
        yield from _parquet(path, columns)
    elif fmt == "jsonl":
        yield from _exact(path, data, columns)
    else:
        delimiter, quoting = ("\t", data.tsv_quoting) if fmt == "tsv" else (",", True)
        yield from _delimited(path, data, columns, delimiter, quoting, problems)


def _arrow_rows(
    arrays: dict[str, Any], columns: LabelledColumns, where: Callable[[int], str]
) -> tuple[Rows, list[tuple[int, Problem]]]:
    """Rows of one batch's columns, and its bad rows (row in the batch, Problem)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    arrays = {name: _plain(array) for name, array in arrays.items()}
    parts = [arrays[name] for name in columns.text]
    parts = [part if part.type == pa.string() else part.cast(pa.string()) for part in parts]
    texts = parts[0] if len(parts) == 1 else pc.binary_join_element_wise(*parts, columns.separator)
    encoded = pc.dictionary_encode(arrays[columns.label])
    labels: list[Any] = []
    no_label = []
    for value in encoded.dictionary.to_pylist():
        cell = text_value(value)
        labels.append(None if cell is None else cell.strip())
        no_label.append(
            cell is None or not columns.kind.parse_labels(cell.strip(), columns.delimiter)
        )
    index = encoded.indices.fill_null(len(labels)).to_numpy()
    no_label.append(True)  # a null label cell
    suspect = np.array(no_label)[index]
    blank = pc.fill_null(pc.match_substring_regex(texts, BLANK_PATTERN), True)
    suspect |= blank.to_numpy(zero_copy_only=False)
    if type(columns.kind).row_problem is not Task.row_problem:
        suspect[:] = True  # the task has its own checks: every row through them
    found = []
    for row in np.flatnonzero(suspect).tolist():
        cells = {name: arrays[name][row].as_py() for name in columns.needed_names()}
        item = columns.read(cells, where(row))
        if isinstance(item, Problem):
            found.append((row, item))
    if found:
        keep = np.ones(len(texts), dtype=bool)
        keep[[row for row, _ in found]] = False
        texts, index = texts.filter(pa.array(keep)), index[keep]
    return Rows(texts, labels, index), found


def _parquet(path: Path, columns: LabelledColumns) -> Iterator[Rows | Problem]:
    """A Parquet file's Rows a batch at a time; a bad row's place is its row number."""
    import pyarrow as pa

    source = _open_parquet(path)
    names = list(source.schema_arrow.names)
    require_columns(names, columns.needed(), path)
    typed = Table(path, names, {}, [], unit="row")
    typed.types = {name: _type_name(source.schema_arrow.field(name).type) for name in names}
    check_column_types(typed, columns.text, columns.label)
    wanted = list(dict.fromkeys(columns.needed_names()))
    start = 0
    try:
        for batch in source.iter_batches(columns=wanted, batch_size=BATCH_ROWS):
            rows, found = _arrow_rows(
                dict(zip(wanted, batch.columns)),
                columns,
                lambda row, first=start + 1: f"{path}, row {first + row}",
            )
            yield rows
            yield from (problem for _, problem in found)
            start += batch.num_rows
    except (pa.ArrowException, OSError) as error:
        raise _unreadable(path, error) from None


def _delimited(
    path: Path, data: Any, columns: LabelledColumns, delimiter: str, quoting: bool, report: bool
) -> Iterator[Rows | Problem]:
    """A CSV/TSV file's Rows through Arrow, the exact reader taking over where Arrow cannot
    give its guarantees (see the module's notes)."""
    import pyarrow as pa

    plan = _arrow_plan(path, data.encoding, delimiter, quoting, columns)
    if plan is None:
        yield from _exact(path, data, columns)
        return
    header_lines, options, include, names = plan
    wrong_counts = 0

    def wrong_count(_row: Any) -> str:
        nonlocal wrong_counts
        wrong_counts += 1
        return "skip"

    done = 0  # rows handed on (usable or bad)
    held: list[tuple[int, Problem]] = []  # the file's first bad rows, lines not yet known
    read_through = False
    try:
        for batch in _batches(path, options, include, wrong_count):
            if wrong_counts:
                break
            arrays = {names[name]: array for name, array in zip(batch.schema.names, batch.columns)}
            rows, found = _arrow_rows(arrays, columns, lambda _row: str(path))
            for row, problem in found:
                if len(held) < MAX_LISTED_PROBLEMS:
                    held.append((done + row, problem))
                else:
                    rows.unlisted[problem.reason] += 1
            yield rows
            done += batch.num_rows
        read_through = not wrong_counts
    except (pa.ArrowException, UnicodeError):
        pass  # a block Arrow refuses: the exact reader reads on and says why
    if not read_through:
        yield from _exact(path, data, columns, done, held)
    elif report and held:
        yield from _located(path, data, columns, options, done, header_lines, held)


def _arrow_plan(
    path: Path, encoding: str, delimiter: str, quoting: bool, columns: LabelledColumns
) -> tuple[int, tuple, list[str], dict[str, str]] | None:
    """How Arrow reads the file: (header lines, options, raw columns to read, raw name ->
    name); None when the exact reader must (it says why, if anything is wrong)."""
    codec = codecs.lookup(encoding).name
    if codec.startswith(("utf-16", "utf-32")):
        return None
    header = _raw_header(path, encoding, delimiter, quoting)
    if header is None:
        return None
    raw, header_lines = header
    names = [name.strip() for name in raw]
    if len(set(names)) < len(names):
        return None
    require_columns(names, columns.needed(), path)
    to_raw = dict(zip(names, raw))
    read, parse, convert = _csv_options(raw, delimiter, quoting, codec)
    read.block_size = BLOCK_BYTES
    include = [to_raw[name] for name in dict.fromkeys(columns.needed_names())]
    return header_lines, (read, parse, convert), include, dict(zip(raw, names))


def _exact(
    path: Path,
    data: Any,
    columns: LabelledColumns,
    skip: int = 0,
    held: list[tuple[int, Problem]] | None = None,
    resume: bool = True,
) -> Iterator[Rows | Problem]:
    """The file through the exact reader (streaming.labelled_rows), its rows gathered into
    Rows: past the first `skip` rows (already handed on by Arrow; `held` bad rows among
    them get their file and line here), or, with `resume` False, only as far as the last
    held bad row."""
    import numpy as np
    import pyarrow as pa

    waiting = dict(held or [])
    last = max(waiting, default=-1)
    texts: list[str] = []
    labels: dict[str, int] = {}
    index: list[int] = []

    def gathered() -> Rows:
        rows = Rows(pa.array(texts, pa.string()), list(labels), np.array(index, dtype=np.int64))
        texts.clear(), labels.clear(), index.clear()
        return rows

    number = 0  # rows with the right field count, as Arrow counts them
    for item in stream_file(path, data, columns.needed()):
        if isinstance(item, Problem):
            yield item
            continue
        number += 1
        if number <= skip:
            problem = waiting.pop(number - 1, None)
            if problem is not None:
                problem.where = item[0]
                yield problem
            if number - 1 == last and not resume:
                break
            continue
        read = columns.read(item[1], item[0])
        if isinstance(read, Problem):
            yield read
            continue
        texts.append(read[0])
        index.append(labels.setdefault(read[1], len(labels)))
        if len(texts) >= EXACT_BATCH_ROWS:
            yield gathered()
    if texts:
        yield gathered()
    yield from waiting.values()  # not found again (never when the readers agree)


def _located(
    path: Path,
    data: Any,
    columns: LabelledColumns,
    options: tuple,
    rows: int,
    header_lines: int,
    held: list[tuple[int, Problem]],
) -> Iterator[Problem]:
    """The held bad rows with their file and line, the file's `rows` rows read through."""
    trailing, bare_returns = _line_end_facts(path)
    lines = _editor_lines(path) - trailing - header_lines
    if not bare_returns:
        inside = None
        if lines == rows:  # one line per row
            inside = dict.fromkeys((row for row, _ in held), 0)
        elif lines > rows and options[1]["newlines_in_values"]:
            wanted = [row for row, _ in held]
            inside = _line_ends_before(path, options, wanted, rows, lines - rows)
        if inside is not None:
            for row, problem in held:
                problem.where = f"{path}, line {header_lines + 1 + row + inside[row]}"
                yield problem
            return
    yield from _exact(path, data, columns, rows, held, resume=False)


def _line_ends_before(
    path: Path, options: tuple, wanted: list[int], rows: int, total: int
) -> dict[int, int] | None:
    """The line ends inside the cells (all columns) of the rows before each `wanted` row,
    a batch at a time; None unless the file has `rows` rows holding `total` line ends in
    all (else blank lines between rows are the rest)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    found: dict[int, int] = {}
    seen = start = 0
    try:
        for batch in _batches(path, options, list(options[2]["column_types"]), lambda _: "skip"):
            inside = np.zeros(batch.num_rows, dtype=np.int64)
            for column in batch.columns:
                inside += pc.count_substring(column, "\n").to_numpy(zero_copy_only=False)
            before = seen + np.cumsum(inside) - inside
            for row in wanted:
                if start <= row < start + batch.num_rows:
                    found[row] = int(before[row - start])
            seen += int(inside.sum())
            start += batch.num_rows
    except (pa.ArrowException, UnicodeError):
        return None
    return found if (start, seen) == (rows, total) and len(found) == len(wanted) else None
