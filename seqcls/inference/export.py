"""`seqcls export`: a run's model as a TensorFlow SavedModel or ONNX, through Keras' own
`model.export`, checked against the run's model on export.

- saved_model: the whole inference model, raw strings in (tokenization included), the
  same outputs as model.keras (`probabilities`, `token_ids`, `attention_weights`).
  Serve it with TensorFlow Serving or `tf.saved_model.load(DIR).serve(strings)`.
- onnx: ONNX has no operators for TextVectorization's string ops (regex standardize,
  string split, vocabulary lookup; tf2onnx reports StaticRegexReplace and StringSplitV2
  as unsupported), so the ONNX file is the token-id model: int64 ids (batch, time),
  right-padded with 0, in; probabilities (and attention weights) out. `vocabulary.json`
  and `tokenization.json` beside it say how to turn text into ids (`seqcls predict
  --engine onnx` does it in Python, without TensorFlow).

Both formats also carry `labels.json` (the task, the labels, `columns`: the label of each
column of `probabilities` in order, so a binary run's single sigmoid column is named as
P(labels[1]), and a multilabel run's thresholds), a `README.md` of their inputs and
outputs and the run's `MODEL_CARD.md` (seqcls.reporting.model_card); `export.json` records the sha256 of the model.keras exported (`model_sha256`),
which `seqcls predict`'s ONNX engine (seqcls.inference.onnx_engine) checks, and the list
of files the export wrote (what `--force` may replace: seqcls.run.destinations).

The parity check runs the exported artifact and the run's model.keras on validation
texts (the run's own valid split when its data files are still there, else probe texts
made from the vocabulary) and fails unless every probability agrees within 1e-5; for ONNX
the ids fed in are the ONNX engine's own Python tokenizer's, checked equal to the ids
the run's TextVectorization gives. The export is written to a temporary folder next to
the destination and moved into place only after the check passes.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import random
import shutil
import tempfile
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from seqcls.errors import ConfigError, SeqclsError, UsageError
from seqcls.inference.onnx_engine import (
    FINGERPRINT_KEY,
    OOV_ID,
    PADDING_ID,
    TOKENIZATION_FILE,
    Tokenizer,
    export_command,
    model_fingerprint,
)
from seqcls.messages import note
from seqcls.modeling.outputs import ATTENTION_WEIGHTS, PROBABILITIES, TOKEN_IDS
from seqcls.run import artifacts, readers
from seqcls.run.destinations import EXPORT_FILE, ONNX_FILE, check_export_destination, export_files
from seqcls.tasks import get_task
from seqcls.text.punctuation import KERAS_PUNCTUATION

FORMATS = ("saved_model", "onnx")
TOLERANCE = 1e-5
MAX_CHECKED = 1000


class ParityError(SeqclsError):
    """The exported model does not reproduce the run's model."""

    exit_code = 1


# Always checked too: what becomes of punctuation (deleted, a space, a token of its own)
# shows in the ids even when the validation texts or the probes from the vocabulary
# hold none.
PUNCTUATION_PROBES = ["Mind--and it's (ok)!", "top-up: 3.5% fee?", "l'été, déjà-vu... #1"]


def parity_texts(run: Any, report: Any) -> tuple[list[str], str]:
    """Validation texts of the run (as training split them), or probe texts if its data
    files are gone; always with the punctuation probes, an empty text and one longer
    than max_length."""
    from seqcls.data.splits import load_splits
    from seqcls.errors import DataError

    try:
        splits = load_splits(run.config.data, run.config.seed, task=run.config.task)
        texts, source = (
            splits.valid.texts[:MAX_CHECKED],
            f"{run.config.data.valid or 'valid split'}",
        )
    except (DataError, OSError):
        tokens = readers.read_vocabulary(run.directory)["tokens"][2:]
        generator = random.Random(0)
        texts = [
            " ".join(generator.choice(tokens) for _ in range(generator.randint(1, 30)))
            for _ in range(200)
        ]
        source = "probe texts from the vocabulary (the run's data files are not readable)"
        report(note(source))
    longest = " ".join(texts[:50]) if texts else "text"
    return [*texts, *PUNCTUATION_PROBES, "", longest], source


@contextmanager
def _quiet_loggers(*names: str):
    """tf2onnx logs every TensorFlow op it maps; keep errors only while converting."""
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def _saved_model(run: Any, folder: Path, texts: list[str]) -> float:
    import tensorflow as tf

    run.model.export(str(folder), format="tf_saved_model", verbose=False)
    served = tf.saved_model.load(str(folder))
    worst = 0.0
    for start in range(0, len(texts), 256):
        batch = tf.constant(texts[start : start + 256], dtype=tf.string)
        expected = run.model.predict_on_batch(batch)
        got = served.serve(batch)
        for key, value in expected.items():
            if key == "token_ids":
                if not np.array_equal(np.asarray(got[key]), np.asarray(value)):
                    return float("inf")
                continue
            worst = max(worst, float(np.max(np.abs(np.asarray(got[key]) - np.asarray(value)))))
    return worst


def tokenization_record(run: Any) -> dict[str, Any]:
    """tokenization.json: how text becomes the ONNX model's ids (TextVectorization's
    standardize and split, then SequenceClip)."""
    preprocessing = run.config.preprocessing
    return {
        "lowercase": preprocessing.lowercase,
        "strip_punctuation": preprocessing.strip_punctuation,
        "split_punctuation": preprocessing.split_punctuation,
        "punctuation_regex": KERAS_PUNCTUATION,
        "split": "characters" if preprocessing.tokenizer == "char" else "whitespace",
        "padding_id": PADDING_ID,
        "oov_id": OOV_ID,
        # The inference model's cut (null: none, every token is kept).
        "max_length": get_task(run.task).inference_max_length(run.max_length),
        "empty_text": "a text with no tokens is given one token, the OOV id 1",
        "padding": "right",
        "width": "the batch's longest text (cut to max_length) plus one padding column",
        "lowercase_means": "ASCII A-Z only, as tf.strings.lower",
        "whitespace_means": "space, \\t, \\n, \\v, \\f, \\r only, as tf.strings.split",
        "punctuation_means": (
            "each punctuation_regex match is deleted (strip_punctuation), replaced by a "
            "space (split_punctuation and strip_punctuation) or by itself between spaces "
            "(split_punctuation only), before splitting"
        ),
    }


def check_token_ids(run: Any, texts: list[str], got: np.ndarray, expected: np.ndarray) -> None:
    """The ONNX engine's ids are the run's model's, or a ParityError naming a text."""
    if got.shape == expected.shape and np.array_equal(got, expected):
        return
    rows = range(min(len(got), len(expected)))
    first = next((i for i in rows if not np.array_equal(got[i], expected[i])), 0)
    raise ParityError(
        f"seqcls' Python tokenizer (the ONNX engine's) gives other token ids than "
        f"{run.directory / artifacts.MODEL_FILE} for the text {texts[first]!r} (ids "
        f"{got[first].tolist()} instead of {expected[first].tolist()}); nothing was written. "
        "Please report this with the text and the run's config"
    )


def _onnx(run: Any, folder: Path, texts: list[str]) -> float:
    import tensorflow as tf

    if (
        importlib.util.find_spec("tf2onnx") is None
        or importlib.util.find_spec("onnxruntime") is None
    ):
        raise ConfigError("--format onnx needs tf2onnx and onnxruntime: pip install 'seqcls[onnx]'")
    import onnxruntime

    core = run.model.get_layer("seqcls_core")
    folder.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory() as scratch,
        _quiet_loggers("tensorflow", "tf2onnx"),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore", FutureWarning)  # numpy's np.object, inside Keras
        staged = Path(scratch) / ONNX_FILE  # tf2onnx writes scratch files beside its output
        core.export(str(staged), format="onnx", verbose=False)
        shutil.move(staged, folder / ONNX_FILE)
    vocabulary = readers.read_vocabulary(run.directory)
    artifacts.write_json(folder / artifacts.VOCABULARY_FILE, {"tokens": vocabulary["tokens"]})
    tokenization = tokenization_record(run)
    artifacts.write_json(folder / TOKENIZATION_FILE, tokenization)
    # The ids come from the ONNX engine's own tokenizer (plain Python), checked here
    # against the ids the run's TextVectorization gives: the export vouches for both.
    tokenizer = Tokenizer(tokenization, vocabulary["tokens"], tokenization["max_length"])
    session = onnxruntime.InferenceSession(str(folder / ONNX_FILE))
    names = [output.name for output in session.get_outputs()]
    worst = 0.0
    for start in range(0, len(texts), 256):
        batch = tf.constant(texts[start : start + 256], dtype=tf.string)
        expected = run.model.predict_on_batch(batch)
        ids = tokenizer.ids(texts[start : start + 256])
        check_token_ids(run, texts[start : start + 256], ids, np.asarray(expected[TOKEN_IDS]))
        got = dict(zip(names, session.run(None, {session.get_inputs()[0].name: ids})))
        for key, value in expected.items():
            if key in got:
                worst = max(worst, float(np.max(np.abs(got[key] - np.asarray(value)))))
    return worst


def label_columns(run: Any) -> tuple[list[str], str]:
    """The label of each column of `probabilities`, in order, and what the values mean."""
    kind = get_task(run.task)
    labels, units = list(run.labels), kind.output_units(len(run.labels))
    axes = "(batch, time, labels): one row per token" if kind.per_token else "(batch, labels)"
    if units == 1 and len(labels) == 2:  # one sigmoid unit for two labels
        return [labels[1]], (
            f"(batch, 1): the single sigmoid column is P({labels[1]!r}), the probability of "
            f"labels[1]; P({labels[0]!r}) is 1 minus it; {labels[1]!r} when >= 0.5"
        )
    if kind.tuned_thresholds:
        return labels, (
            f"{axes}: one independent sigmoid per label; a label is predicted when its "
            "probability is at or above its threshold (`thresholds`, tuned on valid)"
        )
    return (
        labels,
        f"{axes}: a softmax over the labels (each row sums to 1); the label is the argmax",
    )


def write_labels(run: Any, folder: Path) -> None:
    """labels.json: the labels in the order of the probabilities' columns, the task, and
    (multilabel) the decision thresholds."""
    columns, meaning = label_columns(run)
    record = {"task": run.task, "labels": list(run.labels), "columns": columns}
    record[PROBABILITIES] = meaning
    if run.thresholds is not None:
        record["thresholds"] = [float(value) for value in run.thresholds]
    artifacts.write_json(folder / artifacts.LABELS_FILE, record)


def write_readme(run: Any, folder: Path, fmt: str) -> None:
    """README.md: what goes in and what comes out, for someone given only this folder."""
    columns, meaning = label_columns(run)
    attention = sorted(key for key in run.model.output if key.startswith(ATTENTION_WEIGHTS))
    if fmt == "saved_model":
        inputs = (
            "`text`: a string tensor of shape (batch,), raw text; tokenization is inside.\n\n"
            "    import tensorflow as tf\n"
            "    served = tf.saved_model.load(FOLDER)\n"
            '    outputs = served.serve(tf.constant(["some text"]))\n'
        )
        extra = f"- `{TOKEN_IDS}`: (batch, time) int64, the ids the text became.\n"
    else:
        inputs = (
            f"`{TOKEN_IDS}`: int64 token ids of shape (batch, time), right-padded with 0 and "
            f"one padding column more, as `{TOKENIZATION_FILE}` and `vocabulary.json` describe "
            "(id 1 is out of vocabulary; a text with no tokens is the single id 1). "
            f"`seqcls predict RUN --engine onnx` does this in Python; `{export_command('RUN')}` "
            "made this folder.\n"
        )
        extra = ""
    lines = [
        f"# seqcls {fmt} export of {run.directory.name}",
        "",
        f"Task: {run.task}, {len(run.labels)} labels (`labels.json`). Exported from "
        f"{run.directory} by `seqcls export`; `export.json` records the parity check.",
        "",
        "## Input",
        "",
        inputs,
        "## Outputs",
        "",
        f"- `{PROBABILITIES}`: float32 {meaning}. Columns: {', '.join(map(repr, columns))}.",
        *[
            f"- `{key}`: (batch, time) float32 attention weight of each token; padding gets 0."
            for key in attention
        ],
        extra,
    ]
    artifacts.write_text(folder / "README.md", "\n".join(lines).rstrip() + "\n")


def copy_model_card(run: Any, folder: Path) -> None:
    """The run's MODEL_CARD.md, as it is (edits kept); one written from the run's files
    for a run that has none (trained before model cards)."""
    from seqcls.reporting.model_card import MODEL_CARD_FILE, model_card

    card = run.directory / MODEL_CARD_FILE
    text = card.read_text(encoding="utf-8") if card.is_file() else model_card(run.directory)
    artifacts.write_text(folder / MODEL_CARD_FILE, text)


def export_run(
    run_dir: Path, fmt: str, output: Path | None, force: bool, report: Any = print
) -> dict[str, Any]:
    from seqcls.inference.predict import load_run

    if fmt not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    output = Path(output) if output else artifacts.require_run_dir(run_dir) / "export" / fmt
    # Before any work: --force replaces a previous export only, never the run or other files.
    check_export_destination(output, run_dir, force)
    run = load_run(run_dir)
    texts, source = parity_texts(run, report)
    output.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{output.name}.", dir=output.parent))
    try:
        folder = staging / "export"
        worst = (
            _saved_model(run, folder, texts) if fmt == "saved_model" else _onnx(run, folder, texts)
        )
        if not worst <= TOLERANCE:
            raise ParityError(
                f"the exported {fmt} model differs from {run.directory / artifacts.MODEL_FILE} by "
                f"up to {worst:.3g} (tolerance {TOLERANCE:g}) on {len(texts)} texts; nothing was "
                "written. Please report this with the run's config"
            )
        summary = {
            "format": fmt,
            "run": str(run.directory),
            "parity": {
                "texts": len(texts),
                "source": source,
                "max_abs_difference": worst,
                "tolerance": TOLERANCE,
            },
            "inputs": "raw strings, shape (batch,)"
            if fmt == "saved_model"
            else "int64 token ids (batch, time), right-padded with 0: see tokenization.json",
            # Which model.keras this export reproduces: predict's ONNX engine refuses a
            # stale export (the run resumed after exporting).
            FINGERPRINT_KEY: model_fingerprint(run.directory / artifacts.MODEL_FILE),
        }
        # What this export wrote: a later --force replaces exactly these files, and refuses
        # a folder where anything else has appeared.
        write_labels(run, folder)
        write_readme(run, folder, fmt)
        copy_model_card(run, folder)
        files = [str(path.relative_to(folder)) for path in export_files(folder)]
        record = {**summary, "files": sorted([*files, EXPORT_FILE])}
        (folder / EXPORT_FILE).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        if output.exists():
            # Checked above to be a previous export (or empty): set aside, then replaced.
            check_export_destination(output, run_dir, force)
            output.replace(staging / "previous")
        folder.replace(output)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    summary["output"] = str(output)
    return summary
