"""`seqcls summary`: parse, summarize (seqcls.modeling.summary), print the model's tables."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.table import Table as RichTable

from seqcls.cli.app import app, err, handle_errors, import_tensorflow_quietly
from seqcls.cli.tables import say, show_table
from seqcls.errors import UsageError


@app.command(short_help="Show the model a config builds or a run trained.")
@handle_errors
def summary(
    config: Annotated[
        Path,
        typer.Argument(
            metavar="CONFIG|RUN_DIR", help="The YAML config file, or a finished run directory."
        ),
    ],
    set_: Annotated[
        list[str], typer.Option("--set", metavar="KEY=VALUE", help="Override a config value.")
    ] = [],  # noqa: B006
    vocab_size: Annotated[
        Optional[int],  # noqa: UP045 -- typer needs Optional on older Pythons
        typer.Option(min=3, help="Vocabulary size to build with (default: from the data)."),
    ] = None,
    num_classes: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option(min=2, help="Number of labels to build for (default: from the data)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Show the model CONFIG builds (sizes from its data) or RUN_DIR trained: layers, shapes,
    parameters, weight shapes and merge modes."""
    import json

    if config.is_dir():
        if set_ or vocab_size or num_classes:
            raise UsageError(
                "a run directory's model is fixed: drop --set/--vocab-size/--num-classes"
            )
        import_tensorflow_quietly()
        from seqcls.inference.predict import load_run
        from seqcls.modeling.summary import summarize_run

        result = summarize_run(load_run(config))
        result["sizes"] = "the trained model"
    else:
        from seqcls.config import load_config

        loaded = load_config(config, set_)
        import_tensorflow_quietly()
        from seqcls.modeling.summary import summarize

        vocab, classes, sizes = _sizes(loaded, vocab_size, num_classes)
        result = summarize(loaded, vocab, classes)
        result["sizes"] = sizes
    if as_json:
        print(json.dumps(result, indent=2))
        return
    _print_summary(result, config)
    err.print(f"sizes: {result['sizes']}", soft_wrap=True)


def _sizes(config: Any, vocab_size: int | None, num_classes: int | None) -> tuple[int, int, str]:
    """The vocabulary size and label count to build with, and where they came from: the
    options, else the config's data (read as training reads it), else assumptions."""
    if vocab_size and num_classes:
        return vocab_size, num_classes, "as given by --vocab-size and --num-classes"
    from seqcls.data.loading import read_data
    from seqcls.errors import SeqclsError

    try:
        data = read_data(config)
    except SeqclsError as error:
        vocab = vocab_size or config.preprocessing.max_tokens
        classes = num_classes or 2
        return (
            vocab,
            classes,
            (
                f"assumed, since the data could not be read ({error}): {vocab:,} tokens "
                f"(preprocessing.max_tokens; --vocab-size N) and {classes} labels "
                "(--num-classes N); `seqcls summary RUN_DIR` shows a trained run's model"
            ),
        )
    vocab = vocab_size or len(data.vocabulary.tokens)
    classes = num_classes or len(data.labels)
    return (
        vocab,
        classes,
        (
            f"from the data: {len(data.vocabulary.tokens):,} tokens in {config.data.train}'s "
            f"vocabulary, {len(data.labels)} labels, task {data.task}"
            + ("; overridden by --vocab-size/--num-classes" if vocab_size or num_classes else "")
        ),
    )


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
    show_table(layers)
    linear = result.get("linear")
    if linear:
        say(
            f"blended with a linear SVM on TF-IDF n-grams of 1 to {linear['ngrams']} tokens "
            f"({linear['features_seen']:,} features seen in train): probabilities "
            f"{linear['network_weight']:g} x network + {1 - linear['network_weight']:g} x linear"
        )
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
        show_table(weights)
    for merge in result["bidirectional_layers"]:
        say(f"{merge['layer']}: {merge['effect']}")
