"""User-facing error types and the exit code each one maps to.

A user mistake raises one of these with a message that says what happened,
where (file, line, config key), what was expected and how to fix it; the CLI
prints the message without a traceback and exits with the class's code.
"""

from __future__ import annotations


class SeqclsError(Exception):
    """Base class for errors caused by the user's input, not by a bug."""

    exit_code = 1


class UsageError(SeqclsError):
    """Wrong command-line use: a missing file, an existing run directory."""

    exit_code = 2


class ConfigError(SeqclsError):
    """The YAML config or a --set override is invalid."""

    exit_code = 2


class DataError(SeqclsError):
    """A data file is missing, malformed, or does not match the config."""

    exit_code = 3


EXIT_FAILURE = 1


class DeviceError(SeqclsError):
    """The machine lacks what the config asks for: a GPU, a cluster, a device name."""

    exit_code = 5


class TrainingFailed(SeqclsError):
    """Training ran but produced no usable model, or a smoke check failed."""

    exit_code = 1


class TrainingDiverged(TrainingFailed):
    """The loss became NaN or infinite: exit code 4, distinct from other failures."""

    exit_code = 4


class TrainingInterrupted(SeqclsError):
    """SIGINT or SIGTERM: the last completed epoch is saved and can be resumed."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code
