"""`seqcls summary`: parse, summarize (seqcls.modeling.summary), print the model's tables."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table as RichTable

from seqcls.cli.app import app, handle_errors, import_tensorflow_quietly, out


@app.command()
@handle_errors
def summary(
    config: Annotated[Path, typer.Argument(help="The YAML config file.")],
    set_: Annotated[list[str], typer.Option("--set", help="Override a config value.")] = [],  # noqa: B006
    vocab_size: Annotated[
        Optional[int],  # noqa: UP045 -- typer needs Optional on older Pythons
        typer.Option(
            min=3, help="Vocabulary size to build with (default: preprocessing.max_tokens)."
        ),
    ] = None,
    num_classes: Annotated[int, typer.Option(min=2, help="Number of labels to build for.")] = 2,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Show the model CONFIG builds: layers, shapes, parameters, weight shapes and merge modes."""
    import json

    from seqcls.config import load_config

    loaded = load_config(config, set_)
    import_tensorflow_quietly()
    from seqcls.modeling.summary import summarize

    result = summarize(loaded, vocab_size or loaded.preprocessing.max_tokens, num_classes)
    if as_json:
        print(json.dumps(result, indent=2))
        return
    _print_summary(result, config)


def _print_summary(result: dict, config: Path) -> None:
    layers = RichTable(
        title=f"{config}: {result['parameters']:,} parameters ({result['task']})"
        + (
            f"; {result['ensemble_members']} ensemble members, the layers of one shown"
            if result["ensemble_members"] > 1
            else ""
        ),
        title_justify="left",
    )
    for column in ("layer", "type", "output shape", "parameters"):
        layers.add_column(column, justify="right" if column == "parameters" else "left")
    for layer in result["layers"]:
        layers.add_row(
            layer["name"], layer["type"], str(layer["output_shape"]), f"{layer['parameters']:,}"
        )
    out.print(layers)
    for item in result["recurrent_layers"]:
        weights = RichTable(
            title=f"{item['layer']} ({item['direction']}): {item['type']}, units={item['units']}",
            title_justify="left",
            caption=item["note"],
            caption_justify="left",
        )
        for column in ("weight", "shape", "meaning"):
            weights.add_column(column)
        for weight in item["weights"]:
            weights.add_row(weight["name"], str(tuple(weight["shape"])), weight["meaning"])
        out.print(weights)
    for merge in result["bidirectional_layers"]:
        out.print(f"{merge['layer']}: {merge['effect']}", soft_wrap=True)
