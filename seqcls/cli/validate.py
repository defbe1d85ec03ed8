"""`seqcls validate`: parse, check the config (and its data), print the report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from seqcls.cli.app import app, err, handle_errors, import_tensorflow_quietly, out
from seqcls.cli.tables import print_data_report


@app.command(short_help="Check a config and its data without training.")
@handle_errors
def validate(
    config: Annotated[Path, typer.Argument(metavar="CONFIG", help="The YAML config file.")],
    set_: Annotated[
        list[str], typer.Option("--set", metavar="KEY=VALUE", help="Override a config value.")
    ] = [],  # noqa: B006
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    config_only: Annotated[
        bool,
        typer.Option(help="Check the config alone (no data, no TensorFlow); print it resolved."),
    ] = False,
) -> None:
    """Check a config and its data without training; report what training will see.

    Exit 0 when training can proceed (warnings included), 2 for a config error, 3 for a
    data error.
    """
    import json

    from seqcls.config import config_to_yaml, load_config
    from seqcls.training.runtime import cudnn_line

    loaded = load_config(config, set_)
    if config_only:
        out.print(config_to_yaml(loaded), end="", markup=False, emoji=False, soft_wrap=True)
        err.print(cudnn_line(loaded, gpu_visible=False), soft_wrap=True, markup=False)
        err.print(f"{config}: config valid")
        return
    import_tensorflow_quietly()
    from seqcls.data.checks import data_report

    report = data_report(loaded)
    if as_json:
        print(json.dumps(report, indent=2))
        return
    print_data_report(report)
    out.print(cudnn_line(loaded, gpu_visible=False), soft_wrap=True, markup=False)
    verdict = "[green]ready to train[/]" + (
        f" with {len(report['warnings'])} warning(s)" if report["warnings"] else ""
    )
    err.print(f"{escape(str(config))}: {verdict}", markup=True, soft_wrap=True)
