"""`seqcls predict`: parse, predict_run (seqcls.session), say where the rows went."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from seqcls.cli.app import OnBadRows, app, err, handle_errors, out


class Engine(str, Enum):
    """What runs the model (seqcls.inference.onnx_engine.ENGINES)."""

    auto = "auto"
    keras = "keras"
    onnx = "onnx"


Output = Annotated[
    str,
    typer.Option("--output", "-o", help="Output file (.csv/.tsv/.jsonl/.parquet) or - for stdout."),
]
OutputFormat = Annotated[
    Optional[str],  # noqa: UP045 -- typer needs Optional on older Pythons
    typer.Option(
        "--format",
        metavar="csv|tsv|jsonl|parquet",
        help="csv, tsv, jsonl or parquet (parquet: a file, not stdout). Default: from "
        "--output's suffix; csv for -.",
    ),
]


Threshold = Annotated[
    Optional[float],  # noqa: UP045
    typer.Option(
        min=0.0,
        max=1.0,
        help="Multilabel: one decision threshold for every label instead of the tuned ones.",
    ),
]
Abstain = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option(
        metavar="auto|P",
        help="Below this top probability, predict the config's abstention.unknown_label "
        "(auto: the threshold fitted on valid for abstention.target_precision).",
    ),
]
EngineOption = Annotated[
    Engine,
    typer.Option(
        "--engine",
        help="auto: ONNX Runtime (no TensorFlow start-up) when the run has a current ONNX "
        "export (seqcls export RUN --format onnx), else Keras; keras; or onnx. "
        "SEQCLS_DEBUG=1 says which one ran.",
    ),
]


@app.command(short_help="Predict labels for a file or stdin with a trained run.")
@handle_errors
def predict(
    run_dir: Annotated[Path, typer.Argument(metavar="RUN_DIR", help="A finished run directory.")],
    input_: Annotated[
        str,
        typer.Argument(
            metavar="INPUT", help="CSV/TSV/JSONL/Parquet file, or - for one text per line on stdin."
        ),
    ],
    output: Output = "-",
    output_format: OutputFormat = None,
    top_k: Annotated[int, typer.Option(help="Also write the K most probable labels.")] = 0,
    with_attention: Annotated[
        bool,
        typer.Option(help="Add each token's attention weight: a JSON list of [token, weight]."),
    ] = False,
    threshold: Threshold = None,
    uncalibrated: Annotated[
        bool, typer.Option(help="The model's own probabilities, not the calibrated ones.")
    ] = False,
    abstain: Abstain = None,
    text_column: Annotated[Optional[str], typer.Option(help="Default: the run's.")] = None,  # noqa: UP045
    on_bad_rows: OnBadRows = None,
    explain: Annotated[
        bool,
        typer.Option(
            help="Show each text with its tokens shaded by attention weight and the prediction "
            "(instead of CSV on stdout; with --output FILE, both)."
        ),
    ] = False,
    html_file: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("--html", help="Write the same explanation as a self-contained HTML page."),
    ] = None,
    engine: EngineOption = Engine.auto,
) -> None:
    """Predict labels for a file or stdin with a trained run."""
    from seqcls.session import predict_run

    def show(rows: list, text_column: str, attention: list[str], config: Any) -> None:
        from seqcls.reporting.explain import render_terminal

        data = config.data
        render_terminal(out, rows, text_column, attention, data.label_column, data.label_delimiter)

    written = predict_run(
        run_dir,
        input_,
        output=output,
        output_format=output_format,
        top_k=top_k,
        with_attention=with_attention,
        threshold=threshold,
        text_column=text_column,
        on_bad_rows=on_bad_rows.value if on_bad_rows else None,
        explain=show if explain else None,
        html_file=html_file,
        report=lambda message: err.print(message, soft_wrap=True),
        engine=engine.value,
        calibrated=not uncalibrated,
        abstain=abstain,
    )
    if written is not None and output != "-":
        err.print(f"{written} predictions written to {output}")
