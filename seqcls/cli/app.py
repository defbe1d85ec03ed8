"""The Typer app the commands register on, its consoles, and the error handling every
command shares.

No TensorFlow at import time: `seqcls --help`, `seqcls validate` and config errors
answer instantly. Messages go to `err` (stderr); results (tables, predictions to `-`)
go to `out` (stdout).
"""

from __future__ import annotations

import errno
import functools
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable
from enum import Enum
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape

from seqcls.errors import EXIT_FAILURE, SeqclsError
from seqcls.tensorflow_logs import import_tensorflow_quietly, quiet_tensorflow_logs
from seqcls.version import __version__

__all__ = ["app", "environment_error", "err", "handle_errors", "import_tensorflow_quietly", "out"]

app = typer.Typer(
    add_completion=True,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="Train, evaluate and use Bi-LSTM text classifiers described by one YAML file.",
)
# Markup off by default: messages and tables hold the user's text (paths, labels such as
# "[UNK]"); a styled line asks for markup=True and escapes what it interpolates.
err = Console(stderr=True, highlight=False, markup=False)
out = Console(highlight=False, markup=False)


# What to do about an error of the machine (not of seqcls or the user's input).
_ENVIRONMENT_ADVICE = {
    errno.ENOSPC: "free space on that disk, or write somewhere else",
    errno.EDQUOT: "free space in your quota, or write somewhere else",
    errno.EFBIG: "the file is larger than this system allows (a file-size limit: ulimit -f); "
    "raise the limit or write somewhere else",
    errno.EROFS: "that file system is read-only; write somewhere else",
    errno.EACCES: "you may not write there; choose another path or change its permissions",
    errno.EPERM: "you may not write there; choose another path or change its permissions",
    errno.ENOTDIR: "a part of that path is a file, not a folder; choose another path",
    errno.EISDIR: "that path is a folder; give a file name",
    errno.ENAMETOOLONG: "the name is too long for this file system; choose a shorter path",
    errno.EMFILE: "too many open files; raise the limit (ulimit -n)",
}


def environment_error(error: BaseException) -> str | None:
    """A one-line explanation of an OS error anywhere in `error`'s chain (a full disk, a
    read-only target), or None when the failure is not one of those."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, OSError) and error.errno in _ENVIRONMENT_ADVICE:
            where = f"{error.filename}: " if error.filename else ""
            reason = error.strerror or os.strerror(error.errno)
            return f"{where}{reason}; {_ENVIRONMENT_ADVICE[error.errno]}"
        if type(error).__name__ == "ResourceExhaustedError":  # TensorFlow's, no import here
            return (
                "out of memory building or running the model; make it smaller "
                "(model.encoder.units, model.embedding.dim, preprocessing.max_tokens) or "
                "lower training.batch_size"
            )
        error = error.__cause__ or error.__context__
    return None


class Terminated(BaseException):
    """SIGTERM outside training: unwinds like Ctrl-C, so no half-written file is left."""


def _terminate(signum, frame):
    raise Terminated()


def _fail(message: str, exit_code: int) -> typer.Exit:
    # The message is the user's text (file names, keys, pip extras in brackets): never markup.
    err.print(f"[bold red]error:[/] {escape(message)}", markup=True, soft_wrap=True)
    return typer.Exit(exit_code)


def handle_errors(command):
    """Turn user mistakes into a one-paragraph message and their exit code, never a traceback."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        # Before anything imports TensorFlow: its C++ log lines are noise to a user
        # (SEQCLS_TF_LOGS=1 shows them).
        quiet_tensorflow_logs()
        # SIGTERM's default kills Python on the spot, leaving temporary files behind;
        # as an exception it runs every clean-up. (Training routes it itself.)
        previous = None
        if threading.current_thread() is threading.main_thread():
            previous = signal.signal(signal.SIGTERM, _terminate)
        try:
            return command(*args, **kwargs)
        except Terminated:
            err.print("terminated (SIGTERM)")
            raise typer.Exit(143) from None
        except SeqclsError as error:
            raise _fail(str(error), error.exit_code) from None
        except KeyboardInterrupt:
            err.print("interrupted")
            raise typer.Exit(130) from None
        except typer.Exit:
            raise
        except Exception as error:
            explained = environment_error(error)
            if explained is not None:  # the machine's limits, not a bug: no traceback
                raise _fail(explained, EXIT_FAILURE) from None
            # A bug, not a user mistake: keep the traceback.
            traceback.print_exc()
            err.print(
                f"[bold red]unexpected failure:[/] {type(error).__name__}: {escape(str(error))}",
                markup=True,
                soft_wrap=True,
            )
            raise typer.Exit(EXIT_FAILURE) from None
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)

    return wrapper


def _version(value: bool) -> None:
    if value:
        print(f"seqcls {__version__}")
        raise typer.Exit(0)


@app.callback()
def main_options(
    version: Annotated[
        Optional[bool],  # noqa: UP045 -- typer needs Optional on older Pythons
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = None,
) -> None:
    """Train, evaluate and use Bi-LSTM text classifiers described by one YAML file."""


def main() -> None:
    app()


class ProgressMode(str, Enum):
    auto = "auto"
    rich = "rich"
    plain = "plain"


# --quiet, the same on every command that shows progress.
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="Only warnings and the final results.")]


class BadRowsPolicy(str, Enum):
    error = "error"
    skip = "skip"
    warn = "warn"


# --on-bad-rows, the same on eval and predict (data.on_bad_rows for a file given to a run).
OnBadRows = Annotated[
    Optional[BadRowsPolicy],  # noqa: UP045 -- typer needs Optional on older Pythons
    typer.Option(
        help="Rows that cannot be used (wrong field count, no text; for eval also no label or "
        "a label the run never saw): error (stop and list them), skip (leave them out, "
        "counted) or warn (leave them out and list them). Default: the run's data.on_bad_rows.",
    ),
]


def printers(
    progress: ProgressMode, quiet: bool
) -> tuple[str, Callable[[str], None], Callable[[str], None]]:
    """(mode, report, note) for a command with --progress and --quiet: the display mode
    (quiet, or rich/plain as chosen for stderr); report prints every message except
    information under --quiet; note prints always (where the run is, a worker's role).
    Both print the user's text as written (no markup)."""
    from seqcls.messages import severity
    from seqcls.reporting.display import choose_mode

    mode = "quiet" if quiet else choose_mode(progress.value, sys.stderr)

    def note(message: str) -> None:
        err.print(message, soft_wrap=True, markup=False)

    def report(message: str) -> None:
        if mode != "quiet" or severity(message) != "info":
            note(message)

    return mode, report, note
