"""`seqcls export`: a run's model as a TensorFlow SavedModel or ONNX, through Keras' own
`model.export`, checked against the run's model on export.

- saved_model: the whole inference model, raw strings in (tokenization included), the
  same outputs as model.keras (`probabilities`, `token_ids`, `attention_weights`).
  Serve it with TensorFlow Serving or `tf.saved_model.load(DIR).serve(strings)`.
- onnx: ONNX has no operators for TextVectorization's string ops (regex standardize,
  string split, vocabulary lookup; tf2onnx reports StaticRegexReplace and StringSplitV2
  as unsupported), so the ONNX file is the token-id model: int64 ids (batch, time),
  right-padded with 0, in; probabilities (and attention weights) out. `vocabulary.json`
  and `tokenization.json` beside it say how to turn text into ids; the parity check
  feeds it the ids the run's own tokenizer produces.

The parity check runs the exported artifact and the run's model.keras on validation
texts (the run's own valid split when its data files are still there, else probe texts
made from the vocabulary) and fails unless every probability agrees within 1e-5. The
export is written to a temporary folder next to the destination and moved into place
only after the check passes.
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
from seqcls.messages import note
from seqcls.run import artifacts, readers
from seqcls.run.destinations import EXPORT_FILE, ONNX_FILE, check_export_destination, export_files

FORMATS = ("saved_model", "onnx")
TOLERANCE = 1e-5
MAX_CHECKED = 1000


class ParityError(SeqclsError):
    """The exported model does not reproduce the run's model."""

    exit_code = 1


def parity_texts(run: Any, report: Any) -> tuple[list[str], str]:
    """Validation texts of the run (as training split them), or probe texts if its data
    files are gone; always with an empty text and one longer than max_length."""
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
    return [*texts, "", longest], source


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
    preprocessing = run.config.preprocessing
    artifacts.write_json(
        folder / "tokenization.json",
        {
            "lowercase": preprocessing.lowercase,
            "strip_punctuation": preprocessing.strip_punctuation,
            "punctuation_regex": r'[!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~\']',
            "split": "characters" if preprocessing.tokenizer == "char" else "whitespace",
            "padding_id": 0,
            "oov_id": 1,
            "max_length": run.max_length,
            "empty_text": "a text with no tokens is given one token, the OOV id 1",
            "padding": "right",
        },
    )
    session = onnxruntime.InferenceSession(str(folder / ONNX_FILE))
    names = [output.name for output in session.get_outputs()]
    worst = 0.0
    for start in range(0, len(texts), 256):
        batch = tf.constant(texts[start : start + 256], dtype=tf.string)
        expected = run.model.predict_on_batch(batch)
        ids = np.asarray(expected["token_ids"], dtype=np.int64)
        got = dict(zip(names, session.run(None, {session.get_inputs()[0].name: ids})))
        for key, value in expected.items():
            if key in got:
                worst = max(worst, float(np.max(np.abs(got[key] - np.asarray(value)))))
    return worst


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
        }
        # What this export wrote: a later --force replaces exactly these files, and refuses
        # a folder where anything else has appeared.
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
