"""`seqcls tune`: parse, run_search (seqcls.tuning), print the trials and the best one."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from seqcls.cli.app import ProgressMode, Quiet, app, err, handle_errors, out, printers


@app.command(short_help="Search hyperparameters (the config's tune: section).")
@handle_errors
def tune(
    config: Annotated[
        Optional[Path],  # noqa: UP045 -- typer needs Optional on older Pythons
        typer.Argument(
            metavar="CONFIG",
            help="The YAML config, with a tune: section (optional with --resume).",
        ),
    ] = None,
    trials: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option(
            min=1,
            help="Finished (complete or pruned) trials wanted in all (default: 20, or the "
            "study's own number with --resume).",
        ),
    ] = None,
    timeout: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(help="Start no new trial after this long: 90s, 30m, 2h, 1h30m."),
    ] = None,
    output_dir: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(help="Tune directory, new or empty (default: runs/tune-<name>-<timestamp>)."),
    ] = None,
    resume: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(help="Continue the search in this tune directory (after Ctrl-C or a kill)."),
    ] = None,
    jobs: Annotated[
        int,
        typer.Option(
            min=1,
            help="Trials at a time, in parallel processes on the same study (helps only with "
            "cores or GPUs to spare; see README).",
        ),
    ] = 1,
    progress: Annotated[
        ProgressMode,
        typer.Option(
            help="Per-trial display: rich (lines and a live line for the running trial), "
            "plain (a line per trial), or auto (rich on a terminal, plain otherwise)."
        ),
    ] = ProgressMode.auto,
    quiet: Quiet = False,
) -> None:
    """Search hyperparameters: train trials as CONFIG's tune: section says, keep the best."""
    from seqcls.tuning import parse_duration, run_search

    mode, report, note = printers(progress, quiet)

    result = run_search(
        config,
        trials=trials,
        timeout=parse_duration(timeout) if timeout is not None else None,
        output_dir=output_dir,
        resume=resume,
        jobs=jobs,
        progress=mode,
        console=err,
        report=report,
        note=note,
        command=sys.argv,
    )
    _print_result(result)


def _print_result(result) -> None:
    from rich.table import Table

    from seqcls.cli.tables import metrics_table
    from seqcls.tuning.progress import format_value

    table = Table(
        title=f"{result.finished} of {result.wanted} trials finished; objective "
        f"{result.metric} on valid ({result.direction})",
        title_justify="left",
    )
    columns = ["trial", "state", *(result.names[key] for key in result.keys)]
    for name in [*columns, result.metric, "epochs", "time", "note"]:
        # Only the note wraps: numbers and values stay whole on a narrow terminal.
        justify = "left" if name in ("state", "note") else "right"
        table.add_column(name, justify=justify, no_wrap=name != "note")
    best = result.best["number"] if result.best else None
    for row in result.rows:
        objective = row["objective"]
        table.add_row(
            str(row["number"]) + (" *" if row["number"] == best else ""),
            row["state"],
            *(format_value(row[key]) if row[key] is not None else "-" for key in result.keys),
            f"{objective:.4f}" if objective is not None else "-",
            str(row["epochs"]) if row["epochs"] is not None else "-",
            f"{row['seconds']:.0f}s" if row["seconds"] is not None else "-",
            row["note"] if row["state"] != "complete" else "",
            style="bold" if row["number"] == best else None,
        )
    if out.is_terminal:
        out.print(table)
    else:
        # Piped or in a file, the table keeps its natural width rather than the 80
        # columns rich assumes for a non-terminal (each searched key is a column).
        from rich.console import Console

        Console(file=out.file, width=max(out.width, 240), highlight=False).print(table)
    if result.best is not None:
        out.print(
            f"best: trial {best}, {result.metric} {result.best['objective']:.4f}; "
            f"its run: {result.tune_dir / result.best['run_dir']}"
        )
    if result.test_metrics is not None:
        out.print(metrics_table({"test": result.test_metrics}, f"trial {best} on the test split"))
    for path in result.files:
        out.print(f"wrote {path}")
