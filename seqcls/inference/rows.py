"""Writing predict's rows: the output format from a name or --format, CSV/TSV/JSONL text
or a Parquet file, and the destination (a file, written atomically, or stdout)."""

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

# What predict writes: any format it reads, chosen by the same suffixes. Parquet is a
# file, never stdout.
OUTPUT_FORMATS = FORMATS
OUTPUT_SUFFIXES = SUFFIX_FORMATS
# An attention column's [token, weight] pairs, in a Parquet file or a DataFrame.
TOKEN, WEIGHT = "token", "weight"


def output_format(destination: str, declared: str | None) -> str:
    if declared:
        if declared not in OUTPUT_FORMATS:
            raise UsageError(
                f"--format must be one of {', '.join(OUTPUT_FORMATS)}, got {declared!r}"
            )
        if declared == "parquet" and destination == "-":
            raise UsageError(
                "--format parquet writes a file, not stdout (Parquet is a binary format "
                "read from a file's end); pass --output FILE.parquet, or --format "
                "csv, tsv or jsonl for stdout"
            )
        return declared
    if destination == "-":
        return "csv"
    fmt = OUTPUT_SUFFIXES.get(Path(destination).suffix.lower())
    if fmt is None:
        raise UsageError(
            f"cannot tell the output format from {destination!r}; use a .csv, .tsv, .jsonl "
            "or .parquet name or pass --format"
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


def write_rows(
    columns: list[str],
    rows: list[dict[str, Any]],
    destination: str,
    fmt: str,
    token_weights: list[str] | tuple[str, ...] = (),
) -> None:
    """The rows to `destination` (a file, replaced atomically, or - for stdout) in `fmt`.
    `token_weights`: the columns of [token, weight] pairs (attention), which Parquet
    holds as lists of {token, weight} structs."""
    if fmt == "parquet":
        import pyarrow.parquet as pq

        table = arrow_table(columns, rows, token_weights)
        with artifacts.atomic_path(destination) as temporary:
            pq.write_table(table, temporary)
        return
    text = format_rows(columns, rows, fmt)
    if destination == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        artifacts.write_text(destination, text)


def token_weight_records(pairs: list | None) -> list[dict[str, Any]] | None:
    """[[token, weight], ...] as [{"token": token, "weight": weight}, ...]."""
    if pairs is None:
        return None
    return [{TOKEN: token, WEIGHT: weight} for token, weight in pairs]


def arrow_table(columns: list[str], rows: list[dict[str, Any]], token_weights: Any = ()) -> Any:
    """The rows as a pyarrow Table, the columns in order, each typed from its values:
    strings, numbers, lists and structs as Arrow types; a cell a row lacks is null. A
    column Arrow cannot type (JSONL values of mixed types in one column) holds the text
    the CSV output would; a column with no value at all is a string column."""
    import pyarrow as pa

    arrays = []
    for name in columns:
        values = [row.get(name) for row in rows]
        if name in token_weights:
            pair = pa.struct([(TOKEN, pa.string()), (WEIGHT, pa.float64())])
            arrays.append(pa.array(map(token_weight_records, values), pa.list_(pair)))
        else:
            arrays.append(_arrow_column(values))
    return pa.Table.from_arrays(arrays, names=list(columns))


def _arrow_column(values: list[Any]) -> Any:
    import pyarrow as pa

    try:
        array = pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        array = None
    if array is None or not _writable(array.type):
        texts = [None if value is None else str(_cell(value)) for value in values]
        return pa.array(texts, pa.string())
    return array.cast(pa.string()) if pa.types.is_null(array.type) else array


def _writable(kind: Any) -> bool:
    """Whether Parquet can hold the type: no struct without fields (a JSONL `{}`)."""
    import pyarrow as pa

    if pa.types.is_struct(kind):
        return kind.num_fields > 0 and all(_writable(field.type) for field in kind)
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        return _writable(kind.value_type)
    return True
