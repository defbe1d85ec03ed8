"""Strict reading of CSV/TSV/JSONL files: rows as they stream, whole tables, cells.

Every cell is read as a string: nothing is guessed to be a number or NA, so the
label "NA" or the text "null" survive as written. Problems are reported with
the file and line they come from (seqcls.data.bad_rows).

A whole file (`read_table`, `parse_table`) and a streamed one (`stream_file`) go
through the same row streams (`delimited_stream`, `jsonl_stream`). What the rows
mean (texts, labels, splits) is seqcls.data.splits's. No TensorFlow here.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from seqcls.data.bad_rows import Problem
from seqcls.data.table import (  # noqa: F401 (re-exported: where readers look for them)
    MISSING,
    NOT_TEXT,
    Table,
    cell_problem,
    cell_text,
    column_list,
    first_cell_problem,
    require_column,
    require_columns,
    require_in,
    text_value,
    value_problem,
)
from seqcls.errors import DataError

FORMATS = ("csv", "tsv", "jsonl", "parquet")
SUFFIX_FORMATS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
}


def detect_format(path: Path, declared: str = "auto") -> str:
    if declared != "auto":
        return declared
    # `data.csv.gz`-style double suffixes are not supported; the last suffix decides.
    fmt = SUFFIX_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise DataError(
            f"{path}: cannot tell the format from the suffix {path.suffix!r}; "
            f"use .csv, .tsv, .jsonl or .parquet, or set data.format to one of {', '.join(FORMATS)}"
        )
    return fmt


def codec_for(encoding: str) -> str:
    """The codec to read `data.encoding` with: a UTF-8 byte-order mark (Excel writes one)
    is accepted and dropped."""
    return "utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding


def encoding_name(encoding: str) -> str:
    """`data.encoding` as error messages name it."""
    return "UTF-8" if codec_for(encoding) == "utf-8-sig" else encoding


ENCODING_ADVICE = "re-save the file in that encoding or set data.encoding"


def _decode(path: Path, raw: bytes, encoding: str = "utf-8") -> str:
    return _decoded(raw, codec_for(encoding), str(path), encoding_name(encoding), ENCODING_ADVICE)


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


def delimited_stream(
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
    columns, stream = delimited_stream(
        path or "<stdin>", io.StringIO(text, newline=""), delimiter, quoting
    )
    cells: list[list[str]] = [[] for _ in columns]
    lines, problems = [], []
    for item in stream:
        if isinstance(item, Problem):
            problems.append(item)
            continue
        lines.append(item[0])
        for column, value in zip(cells, item[1].values()):
            column.append(value)
    return Table(path, columns, dict(zip(columns, cells)), lines, problems)


def jsonl_stream(name: Any, lines: Any) -> Iterator[tuple[int, dict[str, Any]] | Problem]:
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
    for item in jsonl_stream(path or "<stdin>", text_lines(text)):
        if isinstance(item, Problem):
            problems.append(item)
            continue
        columns.update(dict.fromkeys(item[1]))
        lines.append(item[0])
        rows.append(item[1])
    return Table.from_rows(path, list(columns), rows, lines, problems)


def _dialect(fmt: str, tsv_quoting: bool) -> tuple[str, bool]:
    """(delimiter, quoting) of a CSV or TSV file. TSV exports rarely quote: a literal '"'
    in a text must not swallow lines, so TSV quotes only with data.tsv_quoting."""
    return ("\t", tsv_quoting) if fmt == "tsv" else (",", True)


def parse_table(text: str, fmt: str, path: Path | None = None, tsv_quoting: bool = False) -> Table:
    if fmt == "jsonl":
        return _read_jsonl(path, text)
    return _read_delimited(path, text, *_dialect(fmt, tsv_quoting))


def read_table(
    path: str | Path,
    fmt: str = "auto",
    encoding: str = "utf-8",
    tsv_quoting: bool = False,
    columns: list[str] | None = None,
    reader: str = "auto",
) -> Table:
    """One file as a Table. CSV/TSV go through Arrow (seqcls.data.arrow_reading) unless
    `reader` is "exact" or Arrow cannot give the exact reader's guarantees for this file
    (table.reader says why); JSONL is read line by line, Parquet by Arrow. `columns`:
    read only these (the header still names them all), for a file with columns the
    caller does not need."""
    from seqcls.data import arrow_reading, parquet

    path = Path(path)
    if path.is_dir():
        raise DataError(
            f"{path} is a folder, not a data file; name a file, or the files in it with a "
            f"pattern such as {path / '*.csv'}"
        )
    if not path.is_file():
        raise DataError(f"data file not found: {path}")
    fmt = detect_format(path, fmt)
    table: Table | str | None = None
    if fmt == "parquet":
        table = parquet.read_parquet(path, columns)
    elif fmt != "jsonl" and reader == "auto":
        table = arrow_reading.read_delimited(
            path,
            *_dialect(fmt, tsv_quoting),
            encoding,
            columns,
            lambda: read_table(path, fmt, encoding, tsv_quoting, reader="exact").lines,
        )
    if not isinstance(table, Table):
        why = table
        table = parse_table(_decode(path, path.read_bytes(), encoding), fmt, path, tsv_quoting)
        table.reader = f"exact: {why}" if why else "exact"
    if not len(table) and not table.problems:
        what = "the file has no rows" if fmt == "parquet" else "only a header or blank lines"
        raise DataError(f"{path}: no data rows ({what})")
    if columns is not None:
        table.data = {name: cells for name, cells in table.data.items() if name in columns}
    return table


def stream_file(
    path: Path, data: Any, needed: list[tuple[str, str]]
) -> Iterator[tuple[str, dict[str, Any]] | Problem]:
    """The rows of one file, read as they stream (nothing is held but the current row) as
    the config's `data` section says (format, encoding, tsv_quoting): (where, row) for
    each row, a Problem for each row the format rejects (the field count, a line that is
    not a JSON object), as `read_table` reads them. `needed`: (column, config key) pairs
    the header must hold (JSONL has no header: some row must have the column)."""
    fmt = detect_format(path, data.format)
    if not path.is_file():
        raise DataError(f"data file not found: {path}")
    if fmt == "parquet":
        from seqcls.data.parquet import stream_parquet

        yield from stream_parquet(path, needed)
        return
    # CSV: the csv module finds the line ends (a quoted field may hold any); JSONL: a
    # line ends at "\n" only, so a "\r", \x85 or U+2028 inside a line stays in it.
    newline = "\n" if fmt == "jsonl" else ""
    with open(path, encoding=codec_for(data.encoding), newline=newline) as handle:
        line = 0
        # JSONL has no header: a column no row has is reported as the header would be.
        seen: dict[str, None] | None = {} if fmt == "jsonl" else None
        try:
            if fmt == "jsonl":
                stream = jsonl_stream(path, handle)
            else:
                columns, stream = delimited_stream(path, handle, *_dialect(fmt, data.tsv_quoting))
                require_columns(columns, needed, path)
            for item in stream:
                if isinstance(item, Problem):
                    yield item
                    continue
                line, row = item
                if seen is not None:
                    seen.update(dict.fromkeys(row))
                yield f"{path}, line {line}", row
        except UnicodeDecodeError as error:
            raise DataError(
                f"{path}, after line {line}: not valid {encoding_name(data.encoding)} "
                f"(byte {error.object[error.start]:#04x}); {ENCODING_ADVICE}"
            ) from None
        if seen:
            require_columns(list(seen), needed, path)


def texts_of(
    table: Table,
    column: str | list[str],
    config_key: str = "data.text_column",
    separator: str = " ",
) -> list[str]:
    """The text of every row; several columns are joined with `separator`."""
    columns = column_list(column)
    for name in columns:
        require_column(table, name, config_key)
    texts = []
    for index, values in enumerate(zip(*(table.column(name) for name in columns))):
        strings = [text_value(value) for value in values]
        if None in strings:
            at = strings.index(None)
            raise DataError(f"{table.where(index)}: {value_problem(values[at], columns[at])}")
        texts.append(separator.join(strings))
    return texts
