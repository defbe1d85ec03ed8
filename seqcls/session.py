"""What a command does between parsing its arguments and printing its results, as one
library call per command: `start_training` (train), `evaluate_run` (eval) and
`predict_run` (predict).

Each takes the user's inputs as given (paths, overrides, options), checks them before
anything slow or written happens, starts TensorFlow quietly and calls the library.
Messages go to `report` (library convention: seqcls.messages); results are returned, so
a front end decides how to show them. Nothing here is imported at module level but the
standard library and seqcls.tensorflow_logs (standard library only): `seqcls --help`
stays fast.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seqcls.tensorflow_logs import import_tensorflow_quietly, import_tensorflow_without_gpus

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from seqcls.config import Config
    from seqcls.inference.predict import Run
    from seqcls.training.finish import TrainResult

Report = Callable[[str], None]

__all__ = [
    "Training",
    "evaluate_run",
    "import_tensorflow_quietly",
    "predict_run",
    "start_training",
    "training_config",
]


# ------------------------------------------------------------------------------ train


@dataclass
class Training:
    """A finished `start_training`: the config's name, train()'s result, and whether this
    process is the chief. Only the chief writes a run directory; on another worker of a
    multi_worker run, `run_dir` is None (the chief's machine has the run)."""

    name: str
    result: TrainResult
    chief: bool
    # runs/<name>-latest, pointing at this run (a new run in the default place only).
    latest: Path | None = None

    @property
    def run_dir(self) -> Path | None:
        return self.result.run_dir if self.chief else None


def training_config(
    config_path: Path | None,
    overrides: Sequence[str] = (),
    *,
    resume: Path | None = None,
    smoke: bool = False,
    output_dir: Path | None = None,
) -> Config:
    """The config a training runs with: CONFIG with --set overrides, or a resumed run's
    own (see resume.resume_config); a smoke run's is cut down (train.smoke_config).
    No TensorFlow."""
    from seqcls.config import load_config
    from seqcls.errors import UsageError

    if resume is not None:
        if output_dir is not None or smoke:
            raise UsageError("--resume continues RUN_DIR in place; drop --output-dir/--smoke")
        from seqcls.training.resume import resume_config

        return resume_config(resume, config_path, list(overrides))
    if config_path is None:
        raise UsageError("missing CONFIG: seqcls train CONFIG, or seqcls train --resume RUN_DIR")
    config = load_config(config_path, list(overrides))
    if smoke:
        from seqcls.training.train import smoke_config

        config = smoke_config(config)  # CPU only, one short epoch
    return config


def start_training(
    config_path: Path | None,
    overrides: Sequence[str] = (),
    *,
    output_dir: Path | None = None,
    force: bool = False,
    smoke: bool = False,
    resume: Path | None = None,
    report: Report = print,
    display: Any = None,
    note: Report | None = None,
    command: list[str] | None = None,
) -> Training:
    """`seqcls train`: load the config (training_config), check the machine, decide
    chief or worker once, hold the run directory, and train (or smoke-test).

    The chief creates and locks the run directory: `output_dir`, a temporary one for a
    smoke run, or runs/<name>-<timestamp>; with `resume`, that run directory. Another
    worker of a multi_worker run creates nothing (train() trains it in a scratch
    directory). `note` gets what is shown even when `report` filters (the run directory,
    the worker's role, files kept in --output-dir); default: `report`. A smoke run starts
    TensorFlow with the GPUs hidden. The input files are checked before TensorFlow starts
    or a run directory is named. A new run that finishes in the default place becomes
    runs/<name>-latest (run.directory.link_latest).
    """
    from seqcls.data.preflight import check_input_files
    from seqcls.messages import note as a_note
    from seqcls.training.train import check_run

    note = note or report
    config = training_config(
        config_path, overrides, resume=resume, smoke=smoke, output_dir=output_dir
    )
    if config.tune is not None:
        report(a_note("the tune: section is for `seqcls tune`; `seqcls train` ignores it"))
    check_input_files(config)  # a missing or unreadable file: before anything slow or written
    if smoke:
        import_tensorflow_without_gpus()
    else:
        import_tensorflow_quietly()
    # Packages, a GPU if required, what a strategy refuses: before anything is written;
    # and, once, whether this process writes the run directory.
    chief = check_run(config, resume is not None)
    if not chief:
        note(
            "this worker is not the chief: it trains, and the chief writes the run directory "
            "(this worker writes none)"
        )
    holding = _run_directory(config, config_path, chief, output_dir, force, smoke, resume, note)
    with holding as run_dir:
        if chief:
            note(f"run directory: {run_dir}")
        if smoke:
            from seqcls.training.train import smoke_test

            result = smoke_test(config, run_dir, report=report, chief=chief)
        else:
            from seqcls.training.train import train

            resumed = resume is not None
            options = dict(command=command, report=report, resume=resumed, display=display)
            result = train(config, run_dir, chief=chief, **options)
    latest = None
    if chief and output_dir is None and not smoke and resume is None:
        from seqcls.run.directory import link_latest

        latest = link_latest(result.run_dir, config.name)
    return Training(config.name, result, chief, latest)


def _run_directory(
    config: Config,
    config_path: Path | None,
    chief: bool,
    output_dir: Path | None,
    force: bool,
    smoke: bool,
    resume: Path | None,
    note: Report,
) -> AbstractContextManager[Path]:
    """The run directory, held for the training (see start_training)."""
    from contextlib import nullcontext

    from seqcls.run import directory as run_directory

    if not chief:
        # train() gives a worker's result this path, as where the chief writes the run;
        # nothing is created here.
        return nullcontext(output_dir or Path("runs") / f"{config.name}-worker")
    if resume is not None:
        return run_directory.locked(resume)
    temporary = smoke and output_dir is None
    if temporary:
        import tempfile

        output_dir = Path(tempfile.mkdtemp(prefix=f"seqcls-smoke-{config.name}-"))
    if output_dir is None:
        from seqcls.run.artifacts import default_run_dir

        output_dir = default_run_dir(config.name)
    inputs = run_directory.run_inputs(config_path, config)
    # A failed smoke run leaves no empty temporary folder behind either.
    return run_directory.new_run(output_dir, force, inputs, note=note, made_for_it=temporary)


# ------------------------------------------------------------------------------- eval


def evaluate_run(
    run_dir: Path,
    data_file: Path,
    *,
    output: Path | None = None,
    text_column: str | None = None,
    label_column: str | None = None,
    on_bad_rows: str | None = None,
    show: Callable[[dict, Run], None] | None = None,
    report: Report = print,
) -> Path:
    """`seqcls eval`: evaluate a finished run on a labelled file and write the metrics
    JSON (default: RUN_DIR/eval-<file>.json) and, where the run plots, the confusion
    matrix next to it. The columns and `on_bad_rows` default to the run's config.
    `show(metrics, run)` is called before anything is written, so a write that fails
    loses nothing shown. Returns where the metrics were written."""
    from seqcls.inference.evaluation import evaluate_file
    from seqcls.inference.predict import load_run
    from seqcls.run.artifacts import require_run_dir, write_json
    from seqcls.run.destinations import check_destination

    # Where the results go is checked first: never over the data, the run's own files or
    # a directory, and before minutes of evaluation.
    destination = output or require_run_dir(run_dir) / f"eval-{data_file.stem}.json"
    image = destination.with_suffix(".confusion_matrix.png")
    for option, path in (("--output", destination), ("--output (its plot)", image)):
        check_destination(path, option, [("data file", data_file)], run_dir)
    import_tensorflow_quietly()
    run = load_run(run_dir)
    metrics = evaluate_file(
        run, data_file, text_column, label_column, report=report, on_bad_rows=on_bad_rows
    )
    if show is not None:
        show(metrics, run)
    write_json(destination, metrics)
    report(f"metrics written to {destination}")
    from seqcls.reporting import plots

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
        report(f"confusion matrix plotted in {image}")
    return destination


# ---------------------------------------------------------------------------- predict

# explain(rows, text column, attention columns, the run's config): show the rows'
# attention weights (and, where the rows have the config's data.label_column, whether
# each prediction is right).
Explain = Callable[[list[dict[str, Any]], str, list[str], Any], None]


def predict_run(
    run_dir: Path,
    source: str,
    *,
    output: str = "-",
    output_format: str | None = None,
    top_k: int = 0,
    with_attention: bool = False,
    threshold: float | None = None,
    text_column: str | None = None,
    on_bad_rows: str | None = None,
    explain: Explain | None = None,
    html_file: Path | None = None,
    report: Report = print,
    engine: str = "auto",
    calibrated: bool = True,
    abstain: str | None = None,
) -> int | None:
    """`seqcls predict`: predict `source` (a file, or - for one text per line on stdin)
    with a finished run and write the rows to `output` (a file, or - for stdout). Blank
    stdin lines are skipped; a file's bad rows follow `on_bad_rows` (default: the run's).

    With `explain`, it is called with the rows and their attention weights before
    anything is written, and the rows go to `output` only when it is a file. With
    `html_file`, the same explanation is written as a page (seqcls.reporting.explain). The
    attention columns stay in the rows written only with `with_attention`. Returns how
    many rows were written, or None when none were (explained on stdout instead).
    `engine`: auto, keras or onnx (seqcls.inference.classifier.load). Probabilities are
    calibrated (the run's calibration.json) unless `calibrated` is false. `abstain`: auto
    or a threshold (seqcls.inference.predict.resolve_abstain)."""
    from seqcls.inference.classifier import load
    from seqcls.inference.inputs import read_input
    from seqcls.inference.predict import attention_column_names
    from seqcls.inference.rows import output_format as pick_format
    from seqcls.inference.rows import write_rows
    from seqcls.run.artifacts import require_run_dir
    from seqcls.run.destinations import check_destination, check_distinct

    fmt = pick_format(output, output_format)
    # Never over the input, the run's own files or its training data; checked first.
    require_run_dir(run_dir)
    check_distinct(("--output", output), ("--html", html_file))
    for option, path in (("--output", output), ("--html", html_file)):
        if path is not None and path != "-":
            check_destination(path, option, [("input file", source)], run_dir)
    # The Python API's Classifier (the same numbers as seqcls.load), on Keras or ONNX Runtime.
    classifier = load(run_dir, engine, report)
    run = classifier.run
    column = text_column or run.config.data.text_column
    column_name = column if isinstance(column, str) else column[0]
    if source == "-":
        column = column_name  # stdin: one text per line, whatever the training columns were
    table = read_input(source, column, run.config.data, report=report, on_bad_rows=on_bad_rows)
    explaining = explain is not None or html_file is not None
    columns, rows = classifier.predict_table(
        table, column, top_k, with_attention or explaining, threshold, calibrated, abstain
    )
    attention = attention_column_names(columns[len(table.columns) :])
    if explaining:
        from seqcls.reporting.explain import write_page

        if explain is not None:
            explain(rows, column_name, attention, run.config)
        if html_file is not None:
            write_page(html_file, rows, column_name, attention, run_dir, run.config)
            report(f"explanations written to {html_file}")
        if not with_attention:  # the weights were added for the explanation only
            columns = [name for name in columns if name not in attention]
            rows = [{k: v for k, v in row.items() if k not in attention} for row in rows]
    if explain is not None and output == "-":
        return None
    write_rows(columns, rows, output, fmt, attention if with_attention else ())
    return len(rows)
