"""Command-line interface: parse, validate, call one library function, report.

No TensorFlow at import time: `seqcls --help`, `seqcls validate` and config
errors answer instantly. Messages go to stderr; results (tables, predictions
to `-`) go to stdout.
"""

from __future__ import annotations

import errno
import functools
import os
import signal
import sys
import threading
import traceback
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table as RichTable

from seqcls import __version__
from seqcls.errors import EXIT_FAILURE, SeqclsError

app = typer.Typer(
    add_completion=True,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="Train, evaluate and use Bi-LSTM text classifiers described by one YAML file.",
)
err = Console(stderr=True, highlight=False)
out = Console(highlight=False)


def _quiet_tensorflow() -> None:
    # TensorFlow's C++ start-up chatter (CUDA probing, CPU flags) is noise to a user.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def import_tensorflow_quietly() -> None:
    """Import TensorFlow and probe for GPUs with the C++ stderr silenced.

    Recent TensorFlow writes start-up lines (oneDNN, CUDA probing) from C++ before
    its log level applies; they say nothing actionable. Python exceptions still
    propagate. Set SEQCLS_TF_LOGS=1 to see them.
    """
    if os.environ.get("SEQCLS_TF_LOGS") or "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import tensorflow as tf

        # Probes CUDA (which logs now) without starting the runtime, so that
        # runtime.device can still hide or configure GPUs afterwards.
        tf.config.list_physical_devices("GPU")
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


# What to do about an error of the machine (not of seqcls or the user's input).
_ENVIRONMENT_ADVICE = {
    errno.ENOSPC: "free space on that disk, or write somewhere else",
    errno.EDQUOT: "free space in your quota, or write somewhere else",
    errno.EFBIG: "the file is larger than this system allows (a file-size limit: ulimit -f); "
    "raise the limit or write somewhere else",
    errno.EROFS: "that file system is read-only; write somewhere else",
    errno.EACCES: "you may not write there; choose another path or change its permissions",
    errno.EPERM: "you may not write there; choose another path or change its permissions",
    errno.ENOTDIR: "a part of that path is a file, not a folder; choose another path",
    errno.EISDIR: "that path is a folder; give a file name",
    errno.ENAMETOOLONG: "the name is too long for this file system; choose a shorter path",
    errno.EMFILE: "too many open files; raise the limit (ulimit -n)",
}


def environment_error(error: BaseException) -> str | None:
    """A one-line explanation of an OS error anywhere in `error`'s chain (a full disk, a
    read-only target), or None when the failure is not one of those."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, OSError) and error.errno in _ENVIRONMENT_ADVICE:
            where = f"{error.filename}: " if error.filename else ""
            reason = error.strerror or os.strerror(error.errno)
            return f"{where}{reason}; {_ENVIRONMENT_ADVICE[error.errno]}"
        if type(error).__name__ == "ResourceExhaustedError":  # TensorFlow's, no import here
            return (
                "out of memory building or running the model; make it smaller "
                "(model.encoder.units, model.embedding.dim, preprocessing.max_tokens) or "
                "lower training.batch_size"
            )
        error = error.__cause__ or error.__context__
    return None


class Terminated(BaseException):
    """SIGTERM outside training: unwinds like Ctrl-C, so no half-written file is left."""


def _terminate(signum, frame):
    raise Terminated()


def handle_errors(command):
    """Turn user mistakes into a one-paragraph message and their exit code, never a traceback."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        _quiet_tensorflow()
        # SIGTERM's default kills Python on the spot, leaving temporary files behind;
        # as an exception it runs every clean-up. (Training routes it itself.)
        previous = None
        if threading.current_thread() is threading.main_thread():
            previous = signal.signal(signal.SIGTERM, _terminate)
        try:
            return command(*args, **kwargs)
        except Terminated:
            err.print("terminated (SIGTERM)")
            raise typer.Exit(143) from None
        except SeqclsError as error:
            # The message is the user's text (file names, keys, pip extras in brackets):
            # never markup.
            err.print(f"[bold red]error:[/] {escape(str(error))}", markup=True, soft_wrap=True)
            raise typer.Exit(error.exit_code) from None
        except KeyboardInterrupt:
            err.print("interrupted")
            raise typer.Exit(130) from None
        except typer.Exit:
            raise
        except Exception as error:
            explained = environment_error(error)
            if explained is not None:  # the machine's limits, not a bug: no traceback
                err.print(f"[bold red]error:[/] {escape(explained)}", markup=True, soft_wrap=True)
                raise typer.Exit(EXIT_FAILURE) from None
            # A bug, not a user mistake: keep the traceback.
            traceback.print_exc()
            err.print(
                f"[bold red]unexpected failure:[/] {type(error).__name__}: {escape(str(error))}",
                markup=True,
                soft_wrap=True,
            )
            raise typer.Exit(EXIT_FAILURE) from None
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)

    return wrapper


def _version(value: bool) -> None:
    if value:
        print(f"seqcls {__version__}")
        raise typer.Exit(0)


@app.callback()
def main_options(
    version: Annotated[
        Optional[bool],  # noqa: UP045 -- typer needs Optional on older Pythons
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = None,
) -> None:
    """Train, evaluate and use Bi-LSTM text classifiers described by one YAML file."""


def _metrics_table(metrics: dict, title: str) -> RichTable:
    from seqcls.evaluate import HEADLINE

    splits = {
        name: values
        for name, values in metrics.items()
        if isinstance(values, dict) and "accuracy" in values
    }
    # Tagging adds span scores (BIO tags); show whatever the metrics carry.
    columns = [*HEADLINE, *(n for n in ("span_f1",) if any(n in v for v in splits.values()))]
    table = RichTable(title=title, title_justify="left")
    table.add_column("split")
    table.add_column("rows", justify="right")
    for name in columns:
        table.add_column(name, justify="right")
    for split, values in splits.items():
        cells = (f"{values[name]:.4f}" if name in values else "-" for name in columns)
        table.add_row(split, str(values["rows"]), *cells)
    return table


def _print_details(metrics: dict, split: str, worst: int = 10) -> None:
    """The worst classes of one split and its most confused label pairs."""
    from seqcls.reports import confused_pairs, per_class_rows

    values = metrics.get(split)
    if not isinstance(values, dict) or "per_class" not in values:
        return
    rows = per_class_rows(values)
    table = RichTable(
        title=f"{split}: {min(worst, len(rows))} worst of {len(rows)} labels by F1",
        title_justify="left",
    )
    for column in ("label", "precision", "recall", "f1", "support"):
        table.add_column(column, justify="left" if column == "label" else "right")
    for row in rows[:worst]:
        table.add_row(
            row["label"],
            f"{row['precision']:.3f}",
            f"{row['recall']:.3f}",
            f"{row['f1']:.3f}",
            str(row["support"]),
        )
    out.print(table)
    pairs = confused_pairs(values)
    if pairs:
        out.print(
            "most confused (true -> predicted): "
            + "; ".join(f"{true} -> {predicted} ({count})" for true, predicted, count in pairs),
            soft_wrap=True,
        )


class ProgressMode(str, Enum):
    auto = "auto"
    rich = "rich"
    plain = "plain"


@app.command()
@handle_errors
def train(
    config: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Argument(help="The YAML config file (optional with --resume)."),
    ] = None,
    set_: Annotated[
        list[str],
        typer.Option("--set", help="Override a config value: --set model.encoder.units=64."),
    ] = [],  # noqa: B006 -- typer reads the default, never mutates it
    output_dir: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(help="Run directory (default: runs/<name>-<timestamp>)."),
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
            help="Continue this run directory from its last completed epoch (with its own "
            "config, or CONFIG if given; only training.epochs and patience may change)."
        ),
    ] = None,
    progress: Annotated[
        ProgressMode,
        typer.Option(
            help="Per-epoch display: rich (live bar and table), plain (a line per epoch), or "
            "auto (rich on a terminal, plain otherwise).",
        ),
    ] = ProgressMode.auto,
    quiet: Annotated[
        bool,
        typer.Option("--quiet", "-q", help="Only warnings and the final results."),
    ] = False,
) -> None:
    """Train a model as CONFIG describes and write a self-contained run directory."""
    import tempfile

    from seqcls.artifacts import default_run_dir
    from seqcls.config import load_config
    from seqcls.errors import UsageError
    from seqcls.runtime import check_environment

    if resume is not None:
        if output_dir is not None or smoke:
            raise UsageError("--resume continues RUN_DIR in place; drop --output-dir/--smoke")
        from seqcls.train import resume_config

        loaded = resume_config(resume, config, set_)
    else:
        if config is None:
            raise UsageError(
                "missing CONFIG: seqcls train CONFIG, or seqcls train --resume RUN_DIR"
            )
        loaded = load_config(config, set_)
    if smoke:
        os.environ["CUDA_VISIBLE_DEVICES"] = "-1"  # before TensorFlow starts: CPU only
    import_tensorflow_quietly()
    check_environment(loaded, smoke=smoke)  # packages, a GPU if required: before writing
    from seqcls.distribute import is_chief

    chief = smoke or is_chief(loaded.runtime)
    from contextlib import nullcontext

    from seqcls import run_directory

    if resume is not None:
        # Another worker of a multi-worker run only reads the chief's files.
        holding = run_directory.locked(resume) if chief else nullcontext(resume)
    elif not chief:
        # Another worker of a multi-worker run: the chief writes the run directory.
        holding = nullcontext(output_dir or Path("runs") / f"{loaded.name}-worker")
        err.print("this worker is not the chief: it trains, and the chief writes the run")
    else:
        if smoke and output_dir is None:
            output_dir = Path(tempfile.mkdtemp(prefix=f"seqcls-smoke-{loaded.name}-"))
        holding = run_directory.new_run(
            output_dir or default_run_dir(loaded.name),
            force,
            run_directory.run_inputs(config, loaded),
            note=lambda message: err.print(message, soft_wrap=True, markup=False),
        )

    from seqcls import train as train_lib
    from seqcls.display import choose_mode, make_display

    mode = "quiet" if quiet else choose_mode(progress.value, sys.stderr)

    def report(message: str) -> None:
        if mode != "quiet" or message.startswith(("warning", "note")):
            err.print(message, soft_wrap=True, markup=False)

    with holding as run_dir:
        err.print(f"run directory: {run_dir}")
        if smoke:
            result = train_lib.smoke_test(loaded, run_dir, report=report)
        else:
            result = train_lib.train(
                loaded,
                run_dir,
                command=sys.argv,
                report=report,
                resume=resume is not None,
                display=make_display(mode, report, err),
            )
    out.print(
        _metrics_table(
            result.metrics,
            f"{loaded.name}: {result.epochs_run} epoch(s), {result.wall_seconds:.0f}s",
        )
    )
    _print_details(result.metrics, "test" if "test" in result.metrics else "valid")
    out.print(f"run directory: {result.run_dir}")


@app.command("eval")
@handle_errors
def eval_(
    run_dir: Annotated[Path, typer.Argument(help="A finished run directory.")],
    data_file: Annotated[Path, typer.Argument(help="Labelled CSV/TSV/JSONL file.")],
    output: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(
            "--output",
            "-o",
            help="Where to write the metrics JSON (default: RUN_DIR/eval-<file>.json).",
        ),
    ] = None,
    text_column: Annotated[Optional[str], typer.Option(help="Default: the run's.")] = None,  # noqa: UP045
    label_column: Annotated[Optional[str], typer.Option(help="Default: the run's.")] = None,  # noqa: UP045
) -> None:
    """Evaluate a trained run on a labelled file: print a table, write JSON."""
    from seqcls.artifacts import require_run_dir, write_json
    from seqcls.outputs import check_destination
    from seqcls.predict import evaluate_file, load_run

    # Where the results go is checked first: never over the data, the run's own files or
    # a directory, and before minutes of evaluation.
    destination = output or require_run_dir(run_dir) / f"eval-{data_file.stem}.json"
    image = destination.with_suffix(".confusion_matrix.png")
    for option, path in (("--output", destination), ("--output (its plot)", image)):
        check_destination(path, option, [("data file", data_file)], run_dir)
    import_tensorflow_quietly()
    run = load_run(run_dir)
    metrics = evaluate_file(
        run, data_file, text_column, label_column, report=lambda m: err.print(m, soft_wrap=True)
    )
    # The figures are shown before they are written: a write that fails loses nothing.
    out.print(_metrics_table({data_file.name: metrics}, f"{run.directory.name} on {data_file}"))
    _print_details({data_file.name: metrics}, data_file.name)
    write_json(destination, metrics)
    err.print(f"metrics written to {destination}")
    from seqcls import plots

    if (
        metrics.get("confusion_matrix")
        and run.config.output.plots is not False
        and plots.available()
    ):
        plots.confusion_matrix_png(
            image,
            metrics["labels"],
            metrics["confusion_matrix"],
            f"{run.directory.name} on {data_file.name} (row-normalised)",
        )
        err.print(f"confusion matrix plotted in {image}")


@app.command()
@handle_errors
def predict(
    run_dir: Annotated[Path, typer.Argument(help="A finished run directory.")],
    input_: Annotated[
        str,
        typer.Argument(
            metavar="INPUT", help="CSV/TSV/JSONL file, or - for one text per line on stdin."
        ),
    ],
    output: Annotated[
        str, typer.Option("--output", "-o", help="Output file (.csv/.tsv/.jsonl) or - for stdout.")
    ] = "-",
    output_format: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            "--format", help="csv, tsv or jsonl (default: from --output's suffix; csv for -)."
        ),
    ] = None,
    top_k: Annotated[int, typer.Option(help="Also write the K most probable labels.")] = 0,
    with_attention: Annotated[
        bool,
        typer.Option(help="Add each token's attention weight: a JSON list of [token, weight]."),
    ] = False,
    threshold: Annotated[
        Optional[float],  # noqa: UP045
        typer.Option(
            min=0.0,
            max=1.0,
            help="Multilabel: one decision threshold for every label instead of the tuned ones.",
        ),
    ] = None,
    text_column: Annotated[Optional[str], typer.Option(help="Default: the run's.")] = None,  # noqa: UP045
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
) -> None:
    """Predict labels for a file or stdin with a trained run."""
    from seqcls.artifacts import require_run_dir
    from seqcls.outputs import check_destination, check_distinct
    from seqcls.predict import load_run, predict_table, read_input, write_rows
    from seqcls.predict import output_format as pick_format

    fmt = pick_format(output, output_format)
    # Never over the input, the run's own files or its training data; checked first.
    require_run_dir(run_dir)
    check_distinct(("--output", output), ("--html", html_file))
    for option, path in (("--output", output), ("--html", html_file)):
        if path is not None and path != "-":
            check_destination(path, option, [("input file", input_)], run_dir)
    import_tensorflow_quietly()
    run = load_run(run_dir)
    column = text_column or run.config.data.text_column
    column_name = column if isinstance(column, str) else column[0]
    if input_ == "-":
        column = column_name  # stdin: one text per line, whatever the training columns were
    table = read_input(
        input_, column_name, run.config.data, report=lambda m: err.print(m, soft_wrap=True)
    )
    explaining = explain or html_file is not None
    columns, rows = predict_table(
        run, table, column, top_k, with_attention or explaining, threshold
    )
    if explaining:
        from seqcls.artifacts import write_text
        from seqcls.explain import html_page, render_terminal
        from seqcls.predict import attention_column_names

        attention = attention_column_names(columns[len(table.columns) :])
        if explain:
            render_terminal(out, rows, column_name, attention)
        if html_file is not None:
            note = (
                "Multi-head attention: the attention each token receives, averaged over heads "
                "and over the text's tokens."
                if run.config.model.attention.type == "multihead"
                else ""
            )
            write_text(html_file, html_page(rows, column_name, attention, str(run_dir), note))
            err.print(f"explanations written to {html_file}")
        if not with_attention:  # the weights were added for the explanation only
            columns = [name for name in columns if name not in attention]
            rows = [{k: v for k, v in row.items() if k not in attention} for row in rows]
    if explain and output == "-":
        return
    write_rows(columns, rows, output, fmt)
    if output != "-":
        err.print(f"{len(rows)} predictions written to {output}")


@app.command()
@handle_errors
def validate(
    config: Annotated[Path, typer.Argument(help="The YAML config file.")],
    set_: Annotated[list[str], typer.Option("--set", help="Override a config value.")] = [],  # noqa: B006
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
    from seqcls.runtime import cudnn_line

    loaded = load_config(config, set_)
    if config_only:
        out.print(config_to_yaml(loaded), end="", markup=False)
        err.print(cudnn_line(loaded, gpu_visible=False), soft_wrap=True, markup=False)
        err.print(f"{config}: config valid")
        return
    import_tensorflow_quietly()
    from seqcls.validation import data_report

    report = data_report(loaded)
    if as_json:
        print(json.dumps(report, indent=2))
        return
    _print_data_report(report)
    out.print(cudnn_line(loaded, gpu_visible=False), soft_wrap=True, markup=False)
    verdict = "[green]ready to train[/]" + (
        f" with {len(report['warnings'])} warning(s)" if report["warnings"] else ""
    )
    err.print(f"{config}: {verdict}", markup=True, soft_wrap=True)


def _print_data_report(report: dict) -> None:
    splits = RichTable(title=f"data ({report['task']})", title_justify="left")
    for column in ("split", "rows", "bad rows left out", "tokens p50/p95/max", "truncated", "OOV"):
        splits.add_column(column, justify="left" if column == "split" else "right")
    for name, rows in report["rows"].items():
        lengths = report["length_percentiles"][name]
        bad = sum(report["bad_rows"].get(name, {}).values())
        splits.add_row(
            name,
            f"{rows:,}",
            f"{bad:,}",
            f"{lengths['p50']}/{lengths['p95']}/{lengths['p100']}",
            f"{report['truncated_share'][name]:.1%}",
            f"{report['oov_rate'][name]:.1%}",
        )
    out.print(splits)
    out.print(
        f"max_length {report['max_length']} ({report['max_length_source']}); vocabulary "
        f"{report['vocabulary_size']:,} entries"
        + (
            f"; pretrained vectors cover {report['pretrained_coverage']:.1%}"
            if report["pretrained_coverage"] is not None
            else ""
        )
    )
    labels = RichTable(
        title=f"{len(report['labels'])} labels in train; most/least frequent: "
        f"{report['imbalance_ratio']:.1f}x",
        title_justify="left",
    )
    labels.add_column("label")
    labels.add_column("train rows", justify="right")
    if report["class_weight"]:
        labels.add_column("class weight", justify="right")
    items = list(report["labels"].items())
    shown = items if len(items) <= 12 else items[:6] + [("...", None)] + items[-6:]
    for label, count in shown:
        cells = [label, "" if count is None else f"{count:,}"]
        if report["class_weight"]:
            weight = report["class_weight"].get(label)
            cells.append("" if weight is None else f"{weight:.3g}")
        labels.add_row(*cells)
    out.print(labels)
    repeated = report["duplicates"]
    out.print(
        f"duplicates in train: {repeated['repeated_texts']} text(s) repeated "
        f"({repeated['with_conflicting_labels']} with conflicting labels); shared with train: "
        + ", ".join(f"{name} {count}" for name, count in report["shared_with_train"].items())
    )
    for warning in report["warnings"]:
        err.print(f"[yellow]warning:[/] {warning}", markup=True, soft_wrap=True)


@app.command()
@handle_errors
def init(
    output: Annotated[
        Path, typer.Option("-o", "--output", help="Where to write the config.")
    ] = Path("config.yaml"),
    data: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(help="A training file to fit the config to (columns, task, max_length)."),
    ] = None,
    task: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(help="auto, multiclass, binary, multilabel or tagging (default: guessed)."),
    ] = None,
    force: Annotated[bool, typer.Option(help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented starter config; with --data, fitted to that file."""
    from seqcls.artifacts import write_text
    from seqcls.config import load_config
    from seqcls.errors import UsageError
    from seqcls.starter import starter_config

    tasks = ("auto", "multiclass", "binary", "multilabel", "tagging")
    if task is not None and task not in tasks:
        raise UsageError(f"--task must be one of {', '.join(tasks)}, got {task!r}")
    if output.exists() and not force:
        raise UsageError(f"{output} exists; choose another --output or pass --force")
    from seqcls.outputs import check_destination

    check_destination(output, "--output", [("data file", data)] if data else [])
    write_text(output, starter_config(data, output, task))
    if data is not None:
        load_config(output)  # what init writes must validate
    err.print(f"wrote {output}; check it with: seqcls validate {output}")


def _format_shape(shape: list) -> str:
    if shape and isinstance(shape[0], list):
        return " and ".join(_format_shape(part) for part in shape)
    return str(tuple(shape))


@app.command()
@handle_errors
def summary(
    config: Annotated[Path, typer.Argument(help="The YAML config file.")],
    set_: Annotated[list[str], typer.Option("--set", help="Override a config value.")] = [],  # noqa: B006
    vocab_size: Annotated[
        Optional[int],  # noqa: UP045
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
    from seqcls.summary import summarize

    result = summarize(loaded, vocab_size or loaded.preprocessing.max_tokens, num_classes)
    if as_json:
        print(json.dumps(result, indent=2))
        return
    layers = RichTable(
        title=f"{config}: {result['parameters']:,} parameters ({result['task']})",
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


@app.command()
@handle_errors
def export(
    run_dir: Annotated[Path, typer.Argument(help="A finished run directory.")],
    format_: Annotated[
        str, typer.Option("--format", help="saved_model (raw strings in) or onnx (token ids in).")
    ] = "saved_model",
    output: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(help="Destination folder (default: RUN_DIR/export/<format>)."),
    ] = None,
    force: Annotated[
        bool, typer.Option(help="Replace a previous export at --output (nothing else).")
    ] = False,
) -> None:
    """Export a run's model (Keras model.export) and check it reproduces the run's model."""
    import_tensorflow_quietly()
    from seqcls.export import export_run

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


@app.command()
@handle_errors
def doctor(
    as_json: Annotated[bool, typer.Option("--json", help="Print the facts as JSON.")] = False,
) -> None:
    """Versions, visible devices, CUDA/cuDNN as TensorFlow reports them, and advice."""
    import json

    import_tensorflow_quietly()
    from seqcls.runtime import doctor_report

    facts = doctor_report()
    if as_json:
        print(json.dumps(facts, indent=2))
        return
    table = RichTable(title="seqcls doctor", title_justify="left", show_header=False)
    table.add_column("what")
    table.add_column("value", overflow="fold")
    for name, version in facts["versions"].items():
        table.add_row(name, version or "not installed")
    table.add_row("platform", facts["platform"])
    table.add_row("CPU cores", str(facts["cpu_count"]))
    table.add_row("Keras backend", facts["keras_backend"])
    table.add_row(
        "TensorFlow CUDA build",
        "yes" if facts["built_with_cuda"] else "no (pip install 'seqcls[gpu]' for GPUs)",
    )
    table.add_row("CUDA / cuDNN (built for)", f"{facts['cuda_version']} / {facts['cudnn_version']}")
    if facts["cuda_visible_devices"] is not None:
        table.add_row("CUDA_VISIBLE_DEVICES", facts["cuda_visible_devices"])
    gpus = facts["gpus"] or []
    table.add_row(
        "GPUs",
        "; ".join(
            f"{gpu['name']}: {gpu['device_name'] or '?'} (compute {gpu['compute_capability'] or '?'})"
            for gpu in gpus
        )
        or "none visible: training runs on the CPU",
    )
    table.add_row("mixed precision", facts["mixed_precision"])
    if facts["tf_config"]:
        table.add_row("TF_CONFIG", facts["tf_config"])
    out.print(table)


def main() -> None:
    app()
