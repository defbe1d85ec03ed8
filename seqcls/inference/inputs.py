"""What `eval` and `predict` read: a file given to a finished run, or stdin.

Their mistakes are the user's command line, not the run's config: a missing column is
fixed with --text-column or --label-column, bad rows with --on-bad-rows, so those are
what the messages name (not data.text_column, which the run's own config.yaml holds).
"""

from __future__ import annotations

import sys
from typing import Any

from seqcls.data.bad_rows import Problem, apply_policy
from seqcls.data.reading import Table, column_list, read_table
from seqcls.messages import note

# How a user changes each setting for eval and predict, for the messages.
TEXT_OPTION = "--text-column"
LABEL_OPTION = "--label-column"
BAD_ROWS_FIX = "pass --on-bad-rows"


def require_input_columns(table: Table, needed: list[tuple[str, str]]) -> None:
    """Every (column, option) of `needed` is in the table, else a DataError naming the
    file, its columns and the option that picks another column."""
    from seqcls.errors import DataError

    for column, option in needed:
        if column not in table.columns:
            what = option.lstrip("-").replace("-", " ")
            unlabelled = (
                " (a file without labels: seqcls predict)" if option == LABEL_OPTION else ""
            )
            raise DataError(
                f"{what} '{column}' not found in {table.path or '<stdin>'}; columns are "
                f"{table.columns}; pass {option} with the column that holds it{unlabelled}"
            )


def read_input(
    source: str,
    text_column: str | list[str],
    data: Any = None,
    report: Any = None,
    on_bad_rows: str | None = None,
) -> Table:
    """A CSV/TSV/JSONL file, or `-`: one text per line on stdin (blank lines are skipped,
    with a note; they hold no text to classify).

    Stdin is UTF-8 and splits at "\n" (or "\r\n") only: a form feed, \x1c-\x1e, \x85,
    U+2028 or U+2029 inside a line is part of its text, so N lines give N rows.
    A file must have the text column(s); its rows whose text cell holds no text (JSONL
    null, float, or a missing key) follow `on_bad_rows` (default: the run's
    data.on_bad_rows), as rows with the wrong field count do."""
    columns = column_list(text_column)
    if source == "-":
        return _read_stdin(columns[0], report)
    table = read_table(
        source,
        encoding=data.encoding if data else "utf-8",
        tsv_quoting=data.tsv_quoting if data else False,
    )
    require_input_columns(table, [(column, TEXT_OPTION) for column in columns])
    from seqcls.data.parquet import check_column_types

    check_column_types(table, columns, None)
    _leave_out_rows_without_text(table, columns)
    # Rows with the wrong number of fields, or no text, cannot be predicted; the policy
    # decides.
    policy = on_bad_rows or (data.on_bad_rows if data else "error")
    apply_policy(table.problems, policy, source, report, fix=BAD_ROWS_FIX)
    return table


def _read_stdin(column: str, report: Any) -> Table:
    from seqcls.data.reading import decode_stdin, text_lines

    buffer = getattr(sys.stdin, "buffer", None)
    if buffer is not None:
        text = decode_stdin(buffer.read())
    else:  # a text stream without bytes underneath (already decoded)
        text = sys.stdin.read()
    numbered = [(number, line) for number, line in enumerate(text_lines(text), 1)]
    kept = [(number, line) for number, line in numbered if line.strip()]
    blank = len(numbered) - len(kept)
    if blank and report is not None:
        report(note(f"stdin: skipped {blank} blank line(s); they get no prediction"))
    return Table(
        None, [column], {column: [line for _, line in kept]}, [number for number, _ in kept]
    )


def _leave_out_rows_without_text(table: Table, columns: list[str]) -> None:
    from seqcls.data.reading import NOT_TEXT
    from seqcls.data.table import value_problem

    keep = []
    cells = [(column, table.column(column)) for column in columns]
    for index in range(len(table)):
        unreadable = next(
            (why for name, values in cells if (why := value_problem(values[index], name))), None
        )
        if unreadable:
            table.problems.append(Problem(table.where(index), NOT_TEXT, unreadable))
        else:
            keep.append(index)
    if len(keep) < len(table):
        table.keep(keep)
