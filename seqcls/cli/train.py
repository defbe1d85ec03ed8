"""`seqcls train`: parse, start_training (seqcls.session), print the results."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from seqcls.cli.app import ProgressMode, Quiet, app, err, handle_errors, printers
from seqcls.cli.tables import (
    metrics_table,
    print_confidence,
    print_details,
    say,
    show_table,
)

Overrides = Annotated[
    list[str],
    typer.Option(
        "--set", metavar="KEY=VALUE", help="Override a config value: --set model.encoder.units=64."
    ),
]


@app.command(short_help="Train the model a YAML config describes.")
@handle_errors
def train(
    config: Annotated[
        Optional[Path],  # noqa: UP045 -- typer needs Optional on older Pythons
        typer.Argument(metavar="CONFIG", help="The YAML config file (optional with --resume)."),
    ] = None,
    set_: Overrides = [],  # noqa: B006 -- typer reads the default, never mutates it
    output_dir: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(
            "--output-dir",
            "-o",
            help="Run directory (default: runs/<name>-<timestamp>, then linked as "
            "runs/<name>-latest).",
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            help="Replace the previous run in --output-dir (its files only; others are kept)."
        ),
    ] = False,
    smoke: Annotated[
        bool,
        typer.Option(
            help="CI check: a few dozen rows, one epoch, CPU; then reload, evaluate and predict."
        ),
    ] = False,
    resume: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(
            help="Continue this run directory from its last completed epoch (its own config, or "
            "CONFIG; only epochs, patience, runtime placement and output.* may change)."
        ),
    ] = None,
    progress: Annotated[
        ProgressMode,
        typer.Option(
            help="Per-epoch display: rich (live bar and table), plain (a line per epoch), or "
            "auto (rich on a terminal, plain otherwise).",
        ),
    ] = ProgressMode.auto,
    quiet: Quiet = False,
) -> None:
    """Train a model as CONFIG describes and write a self-contained run directory."""
    from seqcls.reporting.display import make_display
    from seqcls.session import start_training

    mode, report, note = printers(progress, quiet)

    training = start_training(
        config,
        set_,
        output_dir=output_dir,
        force=force,
        smoke=smoke,
        resume=resume,
        report=report,
        display=make_display(mode, report, err),
        note=note,
        command=sys.argv,
    )
    result = training.result
    show_table(
        metrics_table(
            result.metrics,
            f"{training.name}: {result.epochs_run} epoch(s), {result.wall_seconds:.0f}s",
        )
    )
    print_details(result.metrics, "test" if "test" in result.metrics else "valid")
    print_confidence(result.metrics)
    if training.run_dir is not None:  # not on another worker: the chief wrote the run
        say(f"run directory: {training.run_dir}")
    if training.latest is not None:
        say(f"latest run: {training.latest} (points to {training.run_dir.name})")
