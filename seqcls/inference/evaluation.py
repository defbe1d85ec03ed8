"""`seqcls eval`: a finished run's metrics on a labelled file, with the calibration and
abstention measures of its probabilities."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from seqcls.data.bad_rows import apply_policy
from seqcls.data.reading import column_list, read_table
from seqcls.data.splits import labelled_split, unknown_label_problems
from seqcls.errors import DataError, UsageError
from seqcls.inference.inputs import BAD_ROWS_FIX, LABEL_OPTION, TEXT_OPTION, require_input_columns
from seqcls.inference.predict import Run
from seqcls.tasks import get_task


def evaluate_file(
    run: Run,
    data_file: Path,
    text_column: str | None = None,
    label_column: str | None = None,
    report: Any = None,
    on_bad_rows: str | None = None,
) -> dict[str, Any]:
    """Metrics of the run's model on a labelled CSV/TSV/JSONL file. The columns and the
    bad-row policy default to the run's; a missing column or a bad row is an error that
    names the option of `seqcls eval` to change (see seqcls.inference.inputs)."""
    data = run.config.data
    text_column, label_column = text_column or data.text_column, label_column or data.label_column
    texts = column_list(text_column)
    if label_column in texts:
        raise UsageError(
            f"the label column {label_column!r} is also a text column: the model would read "
            "the answer; give --text-column and --label-column different columns"
        )
    table = read_table(data_file, encoding=data.encoding, tsv_quoting=data.tsv_quoting)
    needed = [(column, TEXT_OPTION) for column in texts] + [(label_column, LABEL_OPTION)]
    require_input_columns(table, needed)
    split = labelled_split(
        "eval",
        table,
        text_column,
        label_column,
        run.task,
        run.delimiter,
        data.text_separator,
    )
    # Rows labelled the run's data.out_of_scope_label are measured apart (abstention).
    outside_label = data.out_of_scope_label
    outside_texts = [t for t, label in zip(split.texts, split.labels) if label == outside_label]
    if outside_texts:
        inside = [i for i, label in enumerate(split.labels) if label != outside_label]
        split = split.take(inside, split.name, split.source)
    split, unseen = unknown_label_problems(split, run.labels, run.task, run.delimiter)
    # The run's data.on_bad_rows applies to files evaluated with it too, unless overridden.
    policy = on_bad_rows or data.on_bad_rows
    problems = split.problems + unseen
    bad_rows = apply_policy(problems, policy, str(data_file), report, fix=BAD_ROWS_FIX)
    if not len(split):
        raise DataError(f"{data_file}: no usable rows left to evaluate")
    from seqcls.tasks.calibration import calibration_report

    raw = run.outputs(split.texts, calibrated=False)
    task = get_task(run.task)
    outputs = task.calibrated(raw, run.calibration)
    metrics = task.evaluate(outputs, split, run.labels, run.delimiter, run.thresholds)
    result = {"file": str(data_file), "task": run.task, **metrics}
    calibration = calibration_report(
        task, raw, outputs, split, run.labels, run.delimiter, run.calibration
    )
    if calibration is not None:
        result["calibration"] = calibration
    from seqcls.tasks.abstention import abstention_report

    trade = abstention_report(task, outputs, split, run.labels, run.delimiter, run.abstention)
    if trade is not None:
        result["abstention"] = trade
    if outside_texts:
        from seqcls.tasks.abstention import out_of_scope_report

        result["out_of_scope"] = out_of_scope_report(
            task,
            outputs,
            split,
            run.outputs(outside_texts),
            run.labels,
            run.delimiter,
            run.abstention,
        )
    if bad_rows:
        result["bad_rows"] = bad_rows
    return result
