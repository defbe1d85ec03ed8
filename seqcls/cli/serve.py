"""`seqcls serve`: parse, serve (seqcls.serving.server) until SIGINT/SIGTERM."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from seqcls.cli.app import app, err, handle_errors


@app.command(short_help="Serve a trained run over HTTP (POST /predict and more).")
@handle_errors
def serve(
    run_dir: Annotated[Path, typer.Argument(metavar="RUN_DIR", help="A finished run directory.")],
    host: Annotated[
        str,
        typer.Option(
            help="Address to listen on. The default answers this machine only; put a reverse "
            "proxy with TLS in front before exposing it (README: Serve over HTTP)."
        ),
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (0 picks a free one and prints it).")] = 8000,
    workers: Annotated[
        int, typer.Option(help="Processes, each with its own copy of the model.")
    ] = 1,
    max_batch: Annotated[
        int,
        typer.Option(
            help="Most texts merged into one batch (concurrent requests merge); a batch runs "
            "sorted by length, 128 texts per model call."
        ),
    ] = 512,
    max_wait_ms: Annotated[
        float, typer.Option(help="How long a request waits for others to batch with.")
    ] = 2.0,
    max_texts: Annotated[int, typer.Option(help="Most texts one request may hold (413).")] = 256,
    max_body: Annotated[int, typer.Option(help="Largest request body in bytes (413).")] = 1_048_576,
    max_text_chars: Annotated[int, typer.Option(help="Longest text in characters (413).")] = 10_000,
    max_queue: Annotated[
        int, typer.Option(help="Most texts waiting or being predicted (beyond: 503).")
    ] = 4096,
    access_log: Annotated[bool, typer.Option(help="Log every request.")] = False,
) -> None:
    """Serve a trained run over HTTP: POST /predict, /healthz, /readyz, /metadata, /metrics,
    /docs. Needs pip install 'seqcls[serve]'."""
    from seqcls.serving.server import serve as run_server
    from seqcls.serving.settings import ServeSettings

    settings = ServeSettings(
        run_dir=run_dir,
        host=host,
        port=port,
        workers=workers,
        max_batch=max_batch,
        max_wait_ms=max_wait_ms,
        max_texts=max_texts,
        max_body=max_body,
        max_text_chars=max_text_chars,
        max_queue=max_queue,
        access_log=access_log,
    )
    run_server(settings, report=lambda message: err.print(message, soft_wrap=True))
