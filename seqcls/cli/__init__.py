"""Command-line interface: each command parses its arguments, calls one library
function and prints the results (`seqcls.session` holds what train, eval and predict
do in between).

`app` (the Typer app, seqcls.cli.app) is the entry point (`seqcls = "seqcls.cli:app"`);
the command modules register on it when imported, in the order `--help` lists them.
No TensorFlow at import time: `seqcls --help` answers instantly.
"""

from __future__ import annotations

from seqcls.cli.app import app, environment_error, handle_errors, main

# Imported to register the commands, in the order --help lists them.
# isort: off
from seqcls.cli import train, tune, evaluate, predict, serve, validate  # noqa: F401
from seqcls.cli import init, summary, export, doctor  # noqa: F401
# isort: on

__all__ = ["app", "environment_error", "handle_errors", "main"]
