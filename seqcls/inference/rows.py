"""Writing predict's rows: the output format from a name or --format, CSV/TSV/JSONL text,
and the destination (a file, written atomically, or stdout)."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path
from typing import Any

from seqcls.data.reading import FORMATS, SUFFIX_FORMATS
from seqcls.errors import UsageError
from seqcls.run import artifacts


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
    cells = [{key: _cell(value) for key, value in row.items()} for row in rows]
    # The csv module quotes a field only for the delimiter, the quote or a character of
    # the line terminator; with "\n" a lone "\r" inside a text would go out unquoted
    # and read back as a line break. Quote everything when any cell holds one.
    has_return = any(isinstance(v, str) and "\r" in v for row in cells for v in row.values())
    writer = csv.DictWriter(
        buffer,
        fieldnames=columns,
        delimiter="\t" if fmt == "tsv" else ",",
        lineterminator="\n",
        quoting=csv.QUOTE_ALL if has_return else csv.QUOTE_MINIMAL,
    )
    writer.writeheader()
    writer.writerows(cells)
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
