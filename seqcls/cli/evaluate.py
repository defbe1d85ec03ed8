"""`seqcls eval`: parse, evaluate_run (seqcls.session), print the metrics."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from seqcls.cli.app import OnBadRows, app, err, handle_errors
from seqcls.cli.tables import metrics_table, print_confidence, print_details, show_table


@app.command("eval", short_help="Score a trained run on a labelled file.")
@handle_errors
def eval_(
    run_dir: Annotated[Path, typer.Argument(metavar="RUN_DIR", help="A finished run directory.")],
    data_file: Annotated[
        Path, typer.Argument(metavar="DATA_FILE", help="Labelled CSV/TSV/JSONL/Parquet file.")
    ],
    output: Annotated[
        Optional[Path],  # noqa: UP045 -- typer needs Optional on older Pythons
        typer.Option(
            "--output",
            "-o",
            help="Where to write the metrics JSON (default: RUN_DIR/eval-<file>.json).",
        ),
    ] = None,
    text_column: Annotated[Optional[str], typer.Option(help="Default: the run's.")] = None,  # noqa: UP045
    label_column: Annotated[Optional[str], typer.Option(help="Default: the run's.")] = None,  # noqa: UP045
    on_bad_rows: OnBadRows = None,
) -> None:
    """Evaluate a trained run on a labelled file: print a table, write JSON."""
    from seqcls.session import evaluate_run

    def show(metrics: dict, run) -> None:
        split = {data_file.name: metrics}
        show_table(metrics_table(split, f"{run.directory.name} on {data_file}"))
        print_details(split, data_file.name)
        print_confidence(split)

    evaluate_run(
        run_dir,
        data_file,
        output=output,
        text_column=text_column,
        label_column=label_column,
        on_bad_rows=on_bad_rows.value if on_bad_rows else None,
        show=show,
        report=lambda message: err.print(message, soft_wrap=True),
    )
