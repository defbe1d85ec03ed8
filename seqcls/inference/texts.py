"""What the Python API (seqcls.inference.classifier) takes as texts: any sequence of str,
or a pandas DataFrame's text column(s); and the DataFrame it gives back, predict's
columns added."""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Mapping
from typing import Any

from seqcls.errors import UsageError


def text_list(texts: Any, where: Callable[[int], str] = "texts[{}]".format) -> list[str]:
    """Any sequence of str as a list; a lone str, a None/NaN or a non-str is a
    UsageError naming the position (`where` of it: texts[3])."""
    if isinstance(texts, (str, bytes)):
        raise UsageError(
            f"texts must be a sequence of strings, got one {type(texts).__name__}; "
            "wrap a single text in a list: predict([text])"
        )
    if isinstance(texts, (Mapping, set, frozenset)):
        raise UsageError(
            f"texts must be an ordered sequence of strings (a list, tuple, NumPy array or "
            f"pandas Series), got a {type(texts).__name__}: its order would not be yours"
        )
    if hasattr(texts, "tolist"):
        texts = texts.tolist()  # NumPy arrays, pandas Series and Index: plain Python values
    try:
        items = list(texts)
    except TypeError:
        raise UsageError(
            f"texts must be a sequence of strings (a list, tuple, NumPy array or pandas "
            f"Series), got {type(texts).__name__}"
        ) from None
    for position, text in enumerate(items):
        if not isinstance(text, str):
            missing = text is None or (isinstance(text, float) and math.isnan(text))
            missing = missing or type(text).__name__ in ("NAType", "NaTType")  # pandas
            what = "a missing value" if missing else f"a value of type {type(text).__name__}"
            fix = "fill or drop missing texts first" if missing else "convert it with str()"
            raise UsageError(
                f"{where(position)} is {what}, not a string; every text must be a str ({fix})"
            )
    return items


def is_frame(value: Any) -> bool:
    """Whether `value` is a pandas DataFrame (pandas is not imported to find out: a
    program that has not imported it has none)."""
    pandas = sys.modules.get("pandas")
    return pandas is not None and isinstance(value, pandas.DataFrame)


def text_columns(frame: Any, text_column: Any, default: str | list[str]) -> list[Any]:
    """The frame's text column(s): `text_column` (a name, or a list of names), else the
    run's data.text_column; a UsageError names one the frame lacks and the columns it has."""
    chosen = default if text_column is None else text_column
    names = list(chosen) if isinstance(chosen, (list, tuple)) else [chosen]
    if not names:
        raise UsageError("text_column is an empty list; name at least one column")
    have = list(frame.columns)
    for name in names:
        count = have.count(name)
        if count == 0:
            said = "text_column" if text_column is not None else "the run's data.text_column"
            raise UsageError(
                f"text column {name!r} ({said}) not found in the DataFrame; its columns are "
                f"{have}; pass text_column= with the column that holds the texts"
            )
        if count > 1:
            raise UsageError(
                f"the DataFrame has {count} columns named {name!r}; rename them so the text "
                "column is one column"
            )
    return names


def frame_texts(frame: Any, names: list[Any], separator: str) -> list[str]:
    """Each row's text: its text column's value, or several columns' joined by the run's
    data.text_separator as training joined them. A missing value (None, NaN, pd.NA) or
    a non-string is a UsageError naming the column, the row and its index label."""
    columns = []
    for name in names:

        def where(row: int, name: Any = name) -> str:
            label = frame.index[row]
            label = label.item() if hasattr(label, "item") else label  # np.int64(3): 3
            return f"text column {name!r}, row {row} (index {label!r})"

        columns.append(text_list(frame[name], where=where))
    if len(columns) == 1:
        return columns[0]
    return [separator.join(parts) for parts in zip(*columns)]


def with_predictions(
    frame: Any, added: list[str], predicted: list[dict[str, Any]], token_weights: list[str]
) -> Any:
    """The frame (not changed) with `added` columns after its own, same index, as a
    Parquet file from `seqcls predict` reads back: `token_weights` columns (attention)
    hold lists of {"token", "weight"} dicts. A column the frame already has is a
    UsageError, as `seqcls predict` refuses to overwrite one."""
    from seqcls.inference.rows import token_weight_records

    clashes = [name for name in added if name in frame.columns]
    if clashes:
        raise UsageError(
            f"the DataFrame already has column(s) {clashes}, which predict_frame would "
            "overwrite; rename or drop them"
        )
    result = frame.copy(deep=False)
    for name in added:
        values = [row.get(name) for row in predicted]
        if name in token_weights:
            values = [token_weight_records(pairs) for pairs in values]
        result[name] = values
    return result
