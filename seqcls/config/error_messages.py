"""Pydantic's validation errors, turned into short config error messages that name the
key (with a suggestion for a misspelt one)."""

from __future__ import annotations

import difflib
import re
from typing import Any, get_args

from pydantic import BaseModel, ValidationError

from seqcls.config.limits import MAX_ERRORS_SHOWN, clip, show
from seqcls.config.schema import Config


def _section_at(path: tuple[Any, ...]) -> type[BaseModel] | None:
    """The pydantic model class found at a key path of Config, if the path names one."""
    model: type[BaseModel] = Config
    for part in path:
        field = model.model_fields.get(part) if isinstance(part, str) else None
        annotation = field.annotation if field else None
        # `Section | None` fields: look inside the union.
        candidates = [annotation, *get_args(annotation)]
        sections = [c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)]
        if not sections:
            return None
        model = sections[0]
    return model


_PYDANTIC_LOC = re.compile(r"[a-z][a-z-]*\[.*\]$|(constrained-)?(str|int|float|bool|bytes)$")


def _config_loc(item: Any) -> tuple[Any, ...]:
    """An error's key path, without pydantic's names of union members and validators
    ('str', 'list[constrained-str]', 'function-after[...]'), which are not config keys."""
    return tuple(part for part in item["loc"] if not _PYDANTIC_LOC.match(str(part)))


def _is_mismatch(item: Any) -> bool:
    return item["type"] == "literal_error" or item["type"].endswith("_type")


def _mismatches_elsewhere(item: Any, items: list[Any]) -> bool:
    """A union member's "wrong type" error, when another member of the union took the
    value and found something more specific (class_weight: {a: .inf} is not 'none' or
    'balanced', but the useful error is that a's weight is not finite)."""
    if not _is_mismatch(item):
        return False
    loc = _config_loc(item)
    for other in items:
        other_loc = _config_loc(other)
        if other is item or other_loc[: len(loc)] != loc:
            continue
        if len(other_loc) > len(loc) or not _is_mismatch(other):
            return True
    return False


def format_validation_error(error: ValidationError, overridden: set[str]) -> str:
    lines = []
    items = error.errors()
    items = [item for item in items if not _mismatches_elsewhere(item, items)]
    for item in items[:MAX_ERRORS_SHOWN]:
        loc = _config_loc(item)
        key = ".".join(clip(str(part)) for part in loc) or "(top level)"
        origin = " (from --set)" if key in overridden else ""
        kind = item["type"]
        message = clip(item["msg"].removeprefix("Value error, "), 600)
        if kind == "extra_forbidden":
            section = _section_at(loc[:-1])
            allowed = sorted(section.model_fields) if section else []
            hint = difflib.get_close_matches(clip(str(loc[-1])), allowed, n=1)
            suggestion = f"; did you mean '{hint[0]}'?" if hint else ""
            lines.append(
                f"unknown key '{key}'{origin}{suggestion}; allowed keys here: {', '.join(allowed)}"
            )
        elif kind == "missing":
            lines.append(f"missing required key '{key}'")
        elif kind == "value_error" and not loc:
            lines.append(message)  # a rule across sections; the message names the keys
        elif kind == "value_error":
            lines.append(f"{key}{origin}: {message}")
        else:
            lines.append(f"{key}{origin}: got {show(item.get('input'))}; {message}")
    lines = list(dict.fromkeys(lines))  # union members can repeat a line
    if len(items) > MAX_ERRORS_SHOWN:
        lines.append(f"... and {len(items) - MAX_ERRORS_SHOWN:,} more errors")
    return "invalid config:\n  " + "\n  ".join(lines)
