"""CSV/TSV read through Apache Arrow's C++ parser, every cell a string as written
(Parquet: seqcls.data.parquet).

The exact reader (seqcls.data.reading) parses with Python's csv module; this one must
give the same table or none. Arrow is told the guarantees outright: every column is a
string column (no type inference), nothing is NA or null, TSV has no quote processing
unless data.tsv_quoting. What Arrow cannot say, it is asked around:

- The line each row starts on: Arrow skips blank lines and does not count lines. The
  line ends in the file are counted here, and the line ends inside quoted cells; when
  they add up (no blank line between rows) each row's line follows. When they do not,
  the file is read by the exact reader.
- Rows with the wrong field count: Arrow's invalid-row handler does not know the row's
  line when it parses blocks in parallel, so one such row sends the file to the exact
  reader, which names every bad row's line.
- Bad bytes, an unclosed quote, a header that is not one: the exact reader reads the
  file and reports them (file, line, byte).

`read_delimited` returns the table, or the reason the exact reader must read the file.
Not given by Arrow: text after a closing quote (`"ab"c`) is kept (`abc`) where the csv
module stops with "malformed row"; data.reader: exact restores that check.
"""

from __future__ import annotations

import codecs
import csv
from array import array
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from seqcls.data.table import LazyLines, Table

# Rows sampled to decide whether a column repeats its values (labels) and is worth
# holding once per distinct value.
REPEAT_SAMPLE = 1000
# A cell that is empty or white space only, as str.isspace has it (RE2 syntax).
BLANK_PATTERN = (
    "^[\\t\\n\\x{b}\\x{c}\\r\\x{1c}-\\x{1f} \\x{85}\\x{a0}\\x{1680}\\x{2000}-\\x{200a}"
    "\\x{2028}\\x{2029}\\x{202f}\\x{205f}\\x{3000}]*$"
)


def read_delimited(
    path: Path,
    delimiter: str,
    quoting: bool,
    encoding: str,
    columns: list[str] | None = None,
    exact_lines: Callable[[], Sequence[int]] = list,
) -> Table | str:
    """The table of a CSV/TSV file (only `columns` of it, when given, that the header has),
    or why the exact reader must read it. Its lines are counted when first asked for; when
    they do not add up (blank lines between rows, a bare carriage return), `exact_lines`
    gives them (the exact reader's): the rows are the same either way."""
    import pyarrow as pa

    codec = codecs.lookup(encoding).name
    if codec.startswith(("utf-16", "utf-32")):
        return f"{encoding} is not read by byte-counted lines"
    header = _raw_header(path, encoding, delimiter, quoting)
    if header is None:
        return "the header is not a plain first row"
    raw, header_lines = header
    names = [name.strip() for name in raw]
    if len(set(names)) < len(names):
        return "duplicate column names"
    wanted = names if columns is None else [n for n in names if n in columns]
    to_raw = dict(zip(names, raw))
    options = _csv_options(raw, delimiter, quoting, codec)
    try:
        parsed = _parse_batches(path, options, [to_raw[name] for name in wanted])
        if isinstance(parsed, str):
            return parsed
        cells, blank = parsed
    except (pa.ArrowException, UnicodeError, LookupError) as error:
        return f"Arrow could not parse it ({str(error).splitlines()[0][:80]})"
    rows = len(next(iter(cells.values()))) if cells else 0

    def row_lines() -> Sequence[int]:
        counted = _row_lines(path, options, rows, header_lines, quoting)
        return exact_lines() if isinstance(counted, str) else counted

    lines = LazyLines(row_lines, rows)
    names_of = dict(zip(raw, names))
    result = Table(path, names, {names_of[k]: v for k, v in cells.items()}, lines)
    result.blank = {names_of[k]: v for k, v in blank.items()}
    result.reader = "arrow"
    return result


def _csv_options(raw: list[str], delimiter: str, quoting: bool, codec: str) -> tuple:
    """Arrow's read, parse and convert options for the exact reader's rules: every column
    a string, nothing NA, quotes only where the dialect has them."""
    import pyarrow as pa
    import pyarrow.csv as arrow_csv

    return (
        arrow_csv.ReadOptions(encoding="utf8" if codec == "utf-8" else codec, block_size=1 << 20),
        dict(
            delimiter=delimiter,
            quote_char='"' if quoting else False,
            double_quote=True,
            newlines_in_values=quoting,
            ignore_empty_lines=True,
        ),
        dict(
            column_types={name: pa.string() for name in raw},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
            null_values=[],
            check_utf8=True,
        ),
    )


def _batches(path: Path, options: tuple, include: list[str], bad: Any) -> Any:
    """Arrow's batches of the `include` columns; `bad` is called for each row with the
    wrong field count (and says "skip")."""
    import pyarrow.csv as arrow_csv

    read, parse, convert = options
    return arrow_csv.open_csv(
        path,
        read_options=read,
        parse_options=arrow_csv.ParseOptions(**parse, invalid_row_handler=bad),
        convert_options=arrow_csv.ConvertOptions(**convert, include_columns=include),
    )


def _parse_batches(
    path: Path, options: tuple, include: list[str]
) -> tuple[dict[str, list[Any]], dict[str, list[int]]] | str:
    """The cells of each `include` column, converted a batch at a time (Arrow never holds
    the whole file), and the rows where each column's cell is blank (empty or white
    space, as str.isspace has it); or why the exact reader must read the file."""
    import numpy as np
    import pyarrow.compute as pc

    bad_rows = 0

    def count_bad(_row: Any) -> str:
        nonlocal bad_rows
        bad_rows += 1
        return "skip"

    cells: dict[str, list[Any]] = {name: [] for name in include}
    blank: dict[str, list[int]] = {name: [] for name in include}
    shared: dict[str, str] = {}
    rows = 0
    for batch in _batches(path, options, include, count_bad):
        for name, column in zip(batch.schema.names, batch.columns):
            empty = pc.match_substring_regex(column, BLANK_PATTERN)
            if pc.any(empty).as_py():
                found = np.flatnonzero(empty.to_numpy(zero_copy_only=False)) + rows
                blank[name].extend(found.tolist())
            append_python(cells[name], column, shared)
        rows += batch.num_rows
    if bad_rows:
        return f"{bad_rows} row(s) with the wrong field count"
    return cells, blank


def _cell_line_ends(path: Path, options: tuple, names: list[str]) -> Any:
    """The line ends inside each row's cells, all columns together (a NumPy array)."""
    import numpy as np
    import pyarrow.compute as pc

    counts = []
    for batch in _batches(path, options, names, lambda _row: "skip"):
        inside = np.zeros(batch.num_rows, dtype=np.int64)
        for column in batch.columns:
            inside += pc.count_substring(column, "\n").to_numpy(zero_copy_only=False)
        counts.append(inside)
    return np.concatenate(counts) if counts else np.zeros(0, dtype=np.int64)


def _raw_header(
    path: Path, encoding: str, delimiter: str, quoting: bool
) -> tuple[list[str], int] | None:
    """The header row as written and the lines it spans, or None when it does not parse
    (the exact reader says why)."""
    # A UTF-8 byte-order mark is dropped, as the exact reader drops it.
    codec = "utf-8-sig" if codecs.lookup(encoding).name == "utf-8" else encoding
    try:
        with open(path, encoding=codec, newline="") as handle:
            reader = csv.reader(
                handle,
                delimiter=delimiter,
                strict=True,
                quoting=csv.QUOTE_MINIMAL if quoting else csv.QUOTE_NONE,
            )
            header = next(reader, None)
            return (header, reader.line_num) if header else None
    except (csv.Error, UnicodeError):
        return None


def _row_lines(
    path: Path, options: tuple, rows: int, header_lines: int, quoting: bool
) -> Sequence[int] | str:
    """The line each of `rows` rows starts on: after the header, one line per row plus the
    line ends inside its cells. That holds when the file's lines add up to it (no blank
    line between rows, which Arrow skips without a trace) and no carriage return ends a
    line alone; else why not."""
    import numpy as np

    trailing, bare_returns = _line_end_facts(path)
    if bare_returns:
        return "a line ends in a bare carriage return"
    lines = _editor_lines(path) - trailing - header_lines
    if lines == rows:  # no cell spans lines, no blank line between rows
        return range(header_lines + 1, header_lines + 1 + rows)
    if not quoting or lines < rows:
        return "blank lines between rows"
    extra = _cell_line_ends(path, options, list(options[2]["column_types"]))
    if len(extra) != rows or lines != rows + int(extra.sum()):
        return "blank lines between rows"
    starts = header_lines + 1 + np.arange(rows, dtype=np.int64) + (np.cumsum(extra) - extra)
    numbers = array("q")
    numbers.frombytes(starts.tobytes())
    return numbers


def _line_end_facts(path: Path) -> tuple[int, bool]:
    """How many blank lines end the file, and whether a carriage return stands alone
    anywhere (not before a line feed): a search for "\r" and a count only when found."""
    returns = pairs = 0
    previous = tail = b""
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 24), b""):
            if b"\r" in block or previous == b"\r":
                returns += block.count(b"\r")
                pairs += block.count(b"\r\n") + (previous == b"\r" and block[:1] == b"\n")
            previous = block[-1:]
            tail = block[-4096:] if len(block) >= 4096 else (tail + block)[-4096:]
    body = tail.rstrip(b"\r\n")
    # "a\n" ends in no blank line, "a\n\n\n" in two.
    return max(tail[len(body) :].count(b"\n") - 1, 0), returns != pairs


def _editor_lines(path: Path) -> int:
    """The lines of the file as an editor numbers them ("a\nb" and "a\nb\n": two)."""
    ends, last = 0, b""
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 24), b""):
            ends += block.count(b"\n")
            last = block[-1:]
    return ends + (1 if last and last != b"\n" else 0)


def python_cells(array: Any) -> list[Any]:
    """An Arrow column (chunked or not) as a list of Python values (see append_python)."""
    cells: list[Any] = []
    shared: dict[Any, Any] = {}
    for chunk in getattr(array, "chunks", [array]):
        append_python(cells, chunk, shared)
    return cells


def append_python(cells: list[Any], chunk: Any, shared: dict[Any, Any]) -> None:
    """Append an Arrow array's values to `cells`. A column that repeats its values (labels)
    holds one str object per distinct value (`shared` keeps them across chunks), not one
    per row."""
    sample = chunk.slice(0, REPEAT_SAMPLE)
    repeats = len(chunk) > REPEAT_SAMPLE and len(sample.unique()) * 2 <= len(sample)
    if repeats and not chunk.null_count:
        encoded = chunk.dictionary_encode()
        values = [shared.setdefault(value, value) for value in encoded.dictionary.to_pylist()]
        cells.extend([values[i] for i in encoded.indices.to_numpy().tolist()])
    else:
        cells.extend(chunk.to_pylist())
