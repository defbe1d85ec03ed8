"""The bounds on what a config may make seqcls do, and how a user's value is shown in an
error message (clipped, cheap however large the value)."""

from __future__ import annotations

import reprlib
from typing import Any

# What a hostile or mistaken config may make the loader and the validator do is bounded:
# the file's size, YAML nesting and alias expansion, every string, every integer (see
# AtMost), every float (finite), the model's size, and the length of error messages.
MAX_CONFIG_BYTES = 1_000_000  # a config is a few kilobytes
MAX_YAML_DEPTH = 50  # a config nests a few levels (section, sub-section, key, value)
MAX_YAML_VALUES = 100_000  # values after YAML aliases are expanded
MAX_STRING = 4096  # characters in any string (Linux's PATH_MAX for paths)
MAX_INT_CHARS = 40  # characters of an integer in YAML (2**64 has 20 digits)
MAX_SHOWN = 100  # characters of a user's value echoed in an error message
MAX_ERRORS_SHOWN = 20
MAX_PARAMETERS = 2_000_000_000


def clip(text: str, limit: int = MAX_SHOWN) -> str:
    """`text`, cut to `limit` characters with a note of the full length."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} characters)"


_repr = reprlib.Repr()
_repr.maxstring = _repr.maxother = MAX_SHOWN
_repr.maxlevel, _repr.maxlist, _repr.maxdict = 3, 6, 4


def show(value: Any) -> str:
    """A short repr of a user's value for an error message, cheap however large the value."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 100:
        return f"an integer of about {int(value.bit_length() * 0.30103) + 1:,} digits"
    try:
        return clip(_repr.repr(value))
    except ValueError:  # an integer too long to print, deep inside
        return f"a {type(value).__name__}"
