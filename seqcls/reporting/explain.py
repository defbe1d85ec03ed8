"""Attention you can read: each text with its tokens shaded by attention weight and the
prediction with its probability, in the terminal (`predict --explain`) or as one
self-contained HTML page (`predict --html FILE`, seqcls.reporting.explain_page).

With predict --top-k the k most probable labels are shown under the prediction. The
shading is one scale for every text (a token's weight against an even spread, see
explain_page); the weights themselves are printed for the top tokens, with how widely
the weight is spread. When the input has the run's label column, each row's true label
is shown beside the prediction and the mistakes are marked (and counted at the end).
`write_page` writes the page for a run (with a note on what multi-head weights mean).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from seqcls.reporting.explain_page import (
    SHADE_FROM,
    direction,
    heat,
    html_page,
    most_attended,
    prediction,
    shade_levels,
    spread_text,
    top_labels,
    verdicts,
    visible,
    wrong_count,
)

# The wrong rows' numbers listed at the end of the terminal output, at most.
LIST_WRONG = 20


def _token_line(pairs: list[list[Any]], column: str, directions: int) -> Any:
    from rich.text import Text

    line = Text("  ")
    for (token, _), level in zip(pairs, shade_levels(pairs)):
        line.append(" ")  # before each token: no space left at the end of the line
        shown = visible(token)
        if level >= SHADE_FROM:
            red, green, blue = heat(level)
            line.append(shown, style=f"black on rgb({red},{green},{blue})")
        else:
            line.append(shown, style="dim" if shown != str(token) else "")
    if directions > 1:
        line.append(" " + direction(column).strip(), style="dim")
    return line


def _verdict_text(verdict: tuple[str, bool] | None) -> str:
    if verdict is None:
        return ""
    truth, wrong = verdict
    return f"  ✗ true: {truth}" if wrong else "  ✓"


def render_terminal(
    console: Any,
    rows: list[dict[str, Any]],
    text_column: str,
    attention: list[str],
    label_column: str | None = None,
    delimiter: str = "|",
) -> None:
    from rich.text import Text

    found = verdicts(rows, text_column, label_column, delimiter)
    for number, (row, verdict) in enumerate(zip(rows, found), 1):
        head = Text(f"{number}. {prediction(row)}", style="bold")
        if verdict is not None:
            head.append(_verdict_text(verdict), style="bold red" if verdict[1] else "green")
        console.print(head)
        if top_labels(row):
            console.print(Text(f"   {top_labels(row)}"), soft_wrap=True)
        for column in attention:
            pairs = row[column]
            if not pairs:
                break
            console.print(_token_line(pairs, column, len(attention)), soft_wrap=True)
            console.print(
                Text(
                    f"   most attended{direction(column)}: {most_attended(pairs)}"
                    f" · {spread_text(pairs)}",
                    style="dim",
                ),
                soft_wrap=True,
            )
        if not pairs:
            console.print(Text(f"   (empty text) {row.get(text_column, '')!r}", style="dim"))
    wrong, known = wrong_count(found)
    if known:
        numbers = [str(n) for n, v in enumerate(found, 1) if v is not None and v[1]]
        listed = ", ".join(f"#{n}" for n in numbers[:LIST_WRONG])
        listed += ", ..." if len(numbers) > LIST_WRONG else ""
        console.print(
            Text(
                f"{wrong} of {known} predictions wrong (true labels from column "
                f"{label_column!r})" + (f": {listed}" if numbers else ""),
                style="bold",
            ),
            soft_wrap=True,
        )


MULTIHEAD_NOTE = (
    "Multi-head attention: the attention each token receives, averaged over heads "
    "and over the text's tokens."
)


def write_page(
    path: Path,
    rows: list[dict[str, Any]],
    text_column: str,
    attention: list[str],
    run_dir: str | Path,
    config: Any,
) -> None:
    """Write html_page for predictions of the run in `run_dir` (trained with `config`):
    true labels from its data.label_column when the rows have it."""
    from seqcls.run.artifacts import write_text

    note = MULTIHEAD_NOTE if config.model.attention.type == "multihead" else ""
    page = html_page(
        rows,
        text_column,
        attention,
        str(run_dir),
        note,
        label_column=config.data.label_column,
        delimiter=config.data.label_delimiter,
    )
    write_text(path, page)
