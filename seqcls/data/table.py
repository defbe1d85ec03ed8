"""One data file as read: its columns, its cells, where each row came from, and what
reading left out. Cells are held by column (a list per column), so a million-row file
costs a list per column rather than a dict per row; `rows` builds dicts on demand for
the few callers that want them (a small table, a row to show).

How a cell becomes text is here too (`text_value`): every CSV/TSV cell is already a
string; a JSONL or Parquet cell may be a whole number or a boolean (a label), or hold
no text at all (null, a float, a list, a key the row lacks), which makes a bad row.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from seqcls.data.bad_rows import Problem
from seqcls.errors import DataError

NOT_TEXT = "cell not text"


class _Missing:
    """The cell of a JSONL row that lacks the key (unlike a null, which the row has)."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


class LazyLines(Sequence[int]):
    """Line numbers worked out when first asked for (`compute`: all of them), since most
    reads never need one: a line is named only in a message about a row. `picked`: the
    rows of the full list this one holds, in order (a subset, or several sources joined
    with `joined`)."""

    def __init__(self, compute: Callable[[], Sequence[int]], length: int, picked: Any = None):
        self._compute = compute
        self._length = length
        self._picked = picked
        self._lines: Sequence[int] | None = None

    def _resolved(self) -> Sequence[int]:
        if self._lines is None:
            every = self._compute()
            if self._picked is not None:
                every = [every[i] for i in self._picked]
            self._lines = every
        return self._lines

    def __len__(self) -> int:
        return self._length if self._picked is None else len(self._picked)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return pick_lines(self, range(len(self))[index])
        return self._resolved()[index]

    def pick(self, rows: Sequence[int]) -> LazyLines:
        if self._lines is not None:
            return LazyLines(lambda: self._lines, len(self), rows)  # type: ignore[return-value]
        chosen = rows if self._picked is None else [self._picked[i] for i in rows]
        return LazyLines(self._compute, self._length, chosen)


def pick_lines(lines: Sequence[int], rows: Sequence[int]) -> Sequence[int]:
    """The lines of these rows (indices into `lines`), still unresolved when lazy."""
    if isinstance(lines, LazyLines):
        return lines.pick(rows)
    if isinstance(rows, range):
        return lines[rows.start : rows.stop : rows.step]
    return [lines[i] for i in rows]


def joined_lines(parts: list[Sequence[int]]) -> Sequence[int]:
    """The lines of several sources one after another, resolved when first asked for."""
    return LazyLines(lambda: [line for part in parts for line in part], sum(map(len, parts)))


class Table:
    """The rows of one file, in order: `data` maps each column to its cells, `lines` gives
    the line (CSV/TSV/JSONL) or row (Parquet: `unit` "row") each row starts on."""

    def __init__(
        self,
        path: Path | None,
        columns: list[str],
        data: dict[str, list[Any]],
        lines: Sequence[int],
        problems: list[Problem] | None = None,
        unit: str = "line",
    ):
        self.path = path
        self.columns = list(columns)
        self.data = data
        self.lines = lines
        # Rows left out while reading (wrong field count), for `apply_policy`.
        self.problems: list[Problem] = [] if problems is None else problems
        self.unit = unit
        # How the file was read ("arrow", "exact", "exact: <why>"), to report and test.
        self.reader = "exact"
        # A typed file's (Parquet) column types by name, for the check that a text column
        # holds text; empty for CSV/TSV/JSONL.
        self.types: dict[str, str] = {}
        # The rows whose cell is blank (empty or white space), by column, where the reader
        # found them at once (Arrow); None: not known, look at the cells.
        self.blank: dict[str, list[int]] | None = None

    @classmethod
    def from_rows(
        cls,
        path: Path | None,
        columns: list[str],
        rows: list[dict[str, Any]],
        lines: Sequence[int],
        problems: list[Problem] | None = None,
    ) -> Table:
        """A table of row dicts; a column a row lacks holds MISSING there."""
        data = {column: [row.get(column, MISSING) for row in rows] for column in columns}
        return cls(path, columns, data, lines, problems)

    def __len__(self) -> int:
        return len(self.lines)

    def column(self, name: str) -> list[Any]:
        return self.data[name]

    @property
    def rows(self) -> list[dict[str, Any]]:
        """Each row as a dict (a JSONL row without a key lacks it here too). Built on each
        call: prefer `column` for a large table."""
        columns = [(name, self.data[name]) for name in self.columns if name in self.data]
        return [
            {name: cells[i] for name, cells in columns if cells[i] is not MISSING}
            for i in range(len(self))
        ]

    def keep(self, indices: list[int]) -> None:
        """Keep only the rows at `indices` (in that order)."""
        self.data = {name: [cells[i] for i in indices] for name, cells in self.data.items()}
        self.lines = pick_lines(self.lines, indices)
        self.blank = None

    def where(self, index: int) -> str:
        return f"{self.path or '<stdin>'}, {self.unit} {self.lines[index]}"


def text_value(value: Any) -> str | None:
    """A cell as a string, or None when it holds no text. JSONL and Parquet whole numbers
    and booleans are labels, not numbers; a float (1.0 or 1?), null, list or object, or a
    key the row lacks, is not text."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return None


def cell_text(row: dict[str, Any], column: str) -> str | None:
    """One cell of a row dict as text (see text_value)."""
    return text_value(row.get(column, MISSING))


def value_problem(value: Any, column: str) -> str | None:
    """Why a cell holds no text (the explanation of a NOT_TEXT bad row), or None."""
    if text_value(value) is not None:
        return None
    if value is MISSING:
        what = "missing from this row"
    elif value is None:
        what = "null"
    else:
        kind = {list: "a JSON array", dict: "a JSON object"}.get(type(value), "a number")
        try:
            shown = json.dumps(value, ensure_ascii=False)
        except (TypeError, ValueError):
            shown, kind = repr(value), type(value).__name__
        what = f"{kind} ({shown[:40]})"
    return (
        f"column '{column}' is {what}; expected a string (or a whole number or true/false); "
        "fix the row or write the value as a string"
    )


def cell_problem(row: dict[str, Any], column: str) -> str | None:
    return value_problem(row.get(column, MISSING), column)


def first_cell_problem(row: dict[str, Any], columns: list[str]) -> str | None:
    return next(filter(None, (cell_problem(row, column) for column in columns)), None)


def require_column(table: Table, column: str, config_key: str) -> None:
    require_in(table.columns, column, config_key, table.path or "<stdin>")


def require_in(columns: list[str], column: str, config_key: str, source: Any) -> None:
    if column not in columns:
        raise DataError(
            f"{config_key.split('.')[-1].replace('_', ' ')} '{column}' not found in "
            f"{source}; columns are {columns}; set {config_key}"
        )


def require_columns(columns: list[str], needed: list[tuple[str, str]], source: Any) -> None:
    """`require_in` for each (column, config key) pair, in order."""
    for column, config_key in needed:
        require_in(columns, column, config_key, source)


def column_list(column: str | list[str]) -> list[str]:
    """`data.text_column` as a list: one column, or several."""
    return [column] if isinstance(column, str) else list(column)


def one_label_cells(table: Table, text: str, label: str) -> tuple[list[int], list[Any]]:
    """For a task with one label a cell (whose rows are good unless a cell is blank): the
    rows that may be bad (a blank text or label, a cell that is not a string), and the
    labels stripped."""
    texts, raw_labels = table.column(text), table.column(label)
    if table.blank is not None and text in table.blank and label in table.blank:
        # The reader found the blank (or null) cells; every other cell is a string.
        found = table.blank.get(text, []) + table.blank.get(label, [])
        suspect = sorted(set(found))
    else:
        suspect = [
            index
            for index, (text, label) in enumerate(zip(texts, raw_labels))
            if type(text) is not str
            or type(label) is not str
            or not label
            or label.isspace()
            or not text
            or text.isspace()
        ]
    # Labels repeat: strip each distinct one once, and copy the column only when one needs it.
    padded = {
        label: label.strip()
        for label in {label for label in raw_labels if type(label) is str}
        if label != label.strip()
    }
    if padded or suspect:
        labels = [padded.get(label, label) for label in raw_labels]
    else:
        labels = raw_labels
    return suspect, labels
