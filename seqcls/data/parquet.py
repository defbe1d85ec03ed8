"""Parquet files through pyarrow: read a batch at a time (`read_parquet`) or streamed row by
row (`stream_parquet`), text-typed columns as str, and the check that a text column holds
text (`check_column_types`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from seqcls.data.arrow_reading import BLANK_PATTERN, append_python, python_cells
from seqcls.data.table import Table, require_columns
from seqcls.errors import DataError

# Parquet/Arrow types read as text; whole numbers and booleans become labels as in JSONL.
TEXT_TYPES = ("string", "large_string", "string_view")
# Rows per batch when a Parquet file is read.
BATCH_ROWS = 65536


def read_parquet(path: Path, columns: list[str] | None = None) -> Table:
    """The table of a Parquet file: its columns (only `columns`, when given), each row
    numbered from 1 (Parquet has rows, not lines), read a batch at a time. Text-typed
    columns are strings, a null is None (a bad row when it is a text or label cell);
    other types keep their Python values (`types` names them, for the check that text
    columns are text)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    source = _open_parquet(path)
    names = list(source.schema_arrow.names)
    types = {name: _type_name(source.schema_arrow.field(name).type) for name in names}
    wanted = names if columns is None else [n for n in names if n in columns]
    cells: dict[str, list[Any]] = {name: [] for name in wanted}
    # Blank or null cells of the text-typed columns, found at once.
    blank: dict[str, list[int]] = {name: [] for name in wanted if is_text_type(types[name])}
    shared: dict[Any, Any] = {}
    rows = 0
    try:
        for batch in source.iter_batches(columns=wanted, batch_size=BATCH_ROWS):
            for name, column in zip(batch.schema.names, batch.columns):
                column = _plain(column)
                if name in blank:
                    empty = pc.fill_null(pc.match_substring_regex(column, BLANK_PATTERN), True)
                    if pc.any(empty).as_py():
                        found = np.flatnonzero(empty.to_numpy(zero_copy_only=False))
                        blank[name].extend((found + rows).tolist())
                append_python(cells[name], column, shared)
            rows += batch.num_rows
    except (pa.ArrowException, OSError) as error:
        raise _unreadable(path, error) from None
    result = Table(path, names, cells, range(1, rows + 1), unit="row")
    result.reader = "arrow"
    result.types = types
    result.blank = blank
    return result


def _open_parquet(path: Path) -> Any:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(path, buffer_size=1 << 20, pre_buffer=False)
    except (pa.ArrowException, OSError) as error:
        raise _unreadable(path, error) from None


def _unreadable(path: Path, error: Exception) -> DataError:
    return DataError(
        f"{path}: not a readable Parquet file ({str(error).splitlines()[0][:120]}); "
        "check the file, or name a CSV/TSV/JSONL file"
    )


def _plain(array: Any) -> Any:
    """A dictionary-encoded column as its values (Parquet writers encode repeated text)."""
    import pyarrow as pa

    if pa.types.is_dictionary(array.type):
        return array.cast(array.type.value_type)
    return array


def _type_name(arrow_type: Any) -> str:
    import pyarrow as pa

    if pa.types.is_dictionary(arrow_type):
        return _type_name(arrow_type.value_type)
    return str(arrow_type)


def is_text_type(name: str) -> bool:
    return name in TEXT_TYPES


def is_label_type(name: str) -> bool:
    """Text, whole numbers and booleans make labels (as JSONL's do); floats do not."""
    return is_text_type(name) or name == "bool" or name.startswith(("int", "uint"))


def check_column_types(table: Table, text_columns: list[str], label_column: str | None) -> None:
    """A DataError naming the column and its type when a typed file's (Parquet) text
    column is not text, or its label column holds neither text, whole numbers nor
    booleans."""
    types = table.types
    if not types:
        return
    for name in text_columns:
        if name in types and not is_text_type(types[name]):
            raise DataError(
                f"{table.path}: text column '{name}' has type {types[name]}; expected a "
                f"string column; cast it to string before writing the file (pandas: "
                f"df['{name}'] = df['{name}'].astype('string'))"
            )
    if label_column in types and not is_label_type(types[label_column]):
        raise DataError(
            f"{table.path}: label column '{label_column}' has type {types[label_column]}; "
            "expected strings, whole numbers or booleans; cast it (pandas: "
            f"df['{label_column}'] = df['{label_column}'].astype('string'))"
        )


def stream_parquet(
    path: Path, needed: list[tuple[str, str]]
) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, row) for each row of a Parquet file, read a batch at a time (only the
    `needed` columns, which the schema must have, and whose types must be text)."""
    import pyarrow as pa

    source = _open_parquet(path)
    names = list(source.schema_arrow.names)
    require_columns(names, needed, path)
    wanted = list(dict.fromkeys(column for column, _ in needed))
    types = {name: _type_name(source.schema_arrow.field(name).type) for name in names}
    text = [column for column, key in needed if key == "data.text_column"]
    label = next((column for column, key in needed if key == "data.label_column"), None)
    typed = Table(path, names, {}, [], unit="row")
    typed.types = types
    check_column_types(typed, text, label)
    number = 0
    for batch in source.iter_batches(columns=wanted, batch_size=BATCH_ROWS):
        columns = [python_cells(pa.chunked_array([_plain(column)])) for column in batch.columns]
        for values in zip(*columns):
            number += 1
            yield f"{path}, row {number}", dict(zip(wanted, values))
