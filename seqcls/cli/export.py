"""`seqcls export`: parse, export_run (seqcls.inference.export), print the parity check."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from seqcls.cli.app import app, err, handle_errors, import_tensorflow_quietly, out


@app.command(short_help="Export a run as a SavedModel or ONNX, checked against it.")
@handle_errors
def export(
    run_dir: Annotated[Path, typer.Argument(metavar="RUN_DIR", help="A finished run directory.")],
    format_: Annotated[
        str,
        typer.Option(
            "--format",
            metavar="saved_model|onnx",
            help="saved_model (raw strings in) or onnx (token ids in).",
        ),
    ] = "saved_model",
    output: Annotated[
        Optional[Path],  # noqa: UP045 -- typer needs Optional on older Pythons
        typer.Option(
            "--output", "-o", help="Destination folder (default: RUN_DIR/export/<format>)."
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option(help="Replace a previous export at --output (nothing else).")
    ] = False,
) -> None:
    """Export a run's model (Keras model.export) and check it reproduces the run's model."""
    import_tensorflow_quietly()
    from seqcls.inference.export import export_run

    summary = export_run(
        run_dir, format_, output, force, report=lambda m: err.print(m, soft_wrap=True)
    )
    parity = summary["parity"]
    err.print(
        f"parity: {parity['texts']} texts ({parity['source']}), max |difference| "
        f"{parity['max_abs_difference']:.2g} <= {parity['tolerance']:g}",
        soft_wrap=True,
        markup=False,
    )
    out.print(f"{summary['format']} written to {summary['output']}", markup=False)
