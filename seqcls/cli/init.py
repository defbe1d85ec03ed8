"""`seqcls init`: parse, write_starter_config (seqcls.config.starter), say what was written
and which tokenizer was chosen."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from seqcls.cli.app import app, err, handle_errors


@app.command(short_help="Write a commented starter config (fitted to --data).")
@handle_errors
def init(
    output: Annotated[
        Path, typer.Option("-o", "--output", help="Where to write the config.")
    ] = Path("config.yaml"),
    data: Annotated[
        Optional[Path],  # noqa: UP045 -- typer needs Optional on older Pythons
        typer.Option(help="A training file to fit the config to (columns, task, tokenizer)."),
    ] = None,
    task: Annotated[
        Optional[str],  # noqa: UP045
        # The choices are seqcls.tasks' (AUTO and TASK_NAMES), checked by write_starter_config;
        # listed here so that --help needs no import.
        typer.Option(help="auto, multiclass, binary, multilabel or tagging (default: guessed)."),
    ] = None,
    force: Annotated[bool, typer.Option(help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented starter config; with --data, fitted to that file."""
    from seqcls.config.starter import write_starter_config

    found = write_starter_config(output, data, task, force)
    if found is not None:
        choice = found["tokenizer"]
        err.print(
            f"tokenizer: {choice.tokenizer}, as {choice.reason}", markup=False, soft_wrap=True
        )
    err.print(
        f"wrote {output}; check it with: seqcls validate {output}", markup=False, soft_wrap=True
    )
