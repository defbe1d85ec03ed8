"""What library functions tell the user, with its severity as data.

Library code never prints: it takes a `report` callable and passes it messages. A plain
`str` is information (progress, what was found); `note(...)` and `warning(...)` return a
`Message`, a `str` whose text carries the usual prefix ("note: ...") and whose
`severity` says what it is, so a front end filters on the severity (the CLI's --quiet
keeps notes and warnings) rather than on the text.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

Severity = Literal["info", "note", "warning"]
Report = Callable[[str], None]


class Message(str):
    """A message with a severity; its text starts with the severity's name."""

    severity: Severity

    def __new__(cls, text: str, severity: Severity) -> Message:
        message = super().__new__(cls, f"{severity}: {text}")
        message.severity = severity
        return message


def note(text: str) -> Message:
    """Something the user should know even with --quiet (a setting ignored, a choice made)."""
    return Message(text, "note")


def warning(text: str) -> Message:
    """Something that may be wrong (weights lost, data left out)."""
    return Message(text, "warning")


def severity(message: str) -> Severity:
    """A message's severity: a plain str is information."""
    return getattr(message, "severity", "info")
