"""Predictions without TensorFlow: a run's ONNX export (`seqcls export RUN --format onnx`)
run by ONNX Runtime, with the text turned into token ids here, in plain Python.

The ONNX file is the token-id model (int64 ids (batch, time), right-padded with 0, in;
probabilities and attention weights out). What the run's inference model does before it,
Keras' TextVectorization and seqcls' SequenceClip, is reproduced exactly; each point was
checked against TensorFlow 2.21 and has a parity test (tests/inference/test_onnx_engine.py):

- lowercase: `tf.strings.lower` lowers ASCII A-Z only ('É', 'ß', 'İ' stay as they are);
- strip_punctuation: the ASCII punctuation regex (tokenization.json) removed everywhere;
  with split_punctuation each match becomes a space instead, or (not stripped) itself
  between spaces;
- word split: `tf.strings.split` splits on runs of the six ASCII whitespace characters
  (space, \\t, \\n, \\v, \\f, \\r) only; a no-break space or U+2003 stays inside a token;
- char split: one token per Unicode code point (`tf.strings.unicode_split`);
- lookup: a token of the vocabulary gets its index, any other token the OOV id 1;
- clip: cut at max_length, one padding column appended, an empty row gets the OOV id 1.

Texts are batched by length exactly as `predict_outputs` batches them, so every output
(probabilities, token ids, attention weights, padding included) is the Keras engine's.
`choose_engine` picks the engine for `seqcls predict --engine auto|keras|onnx`
(seqcls.inference.classifier.load runs it).
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import string
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from seqcls.errors import ConfigError, DataError, UsageError
from seqcls.inference.predict import PREDICT_BATCH_SIZE, Run, run_decisions
from seqcls.modeling.outputs import MEMBER_PROBABILITIES, PROBABILITIES, TOKEN_IDS
from seqcls.run import artifacts, readers
from seqcls.run.destinations import EXPORT_FILE, ONNX_FILE
from seqcls.text.punctuation import punctuation_rewrite

if TYPE_CHECKING:
    pass

ENGINES = ("auto", "keras", "onnx")
TOKENIZATION_FILE = "tokenization.json"
FINGERPRINT_KEY = "model_sha256"  # in export.json
DEBUG_VARIABLE = "SEQCLS_DEBUG"  # SEQCLS_DEBUG=1: say which engine ran, and why
PADDING_ID, OOV_ID = 0, 1
# tf.strings.lower without an encoding maps A-Z only; str.lower would also lower 'É'.
ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
# tf.strings.split(sep=None) splits on these six characters only (str.split() on many more).
ASCII_WHITESPACE = re.compile("[ \t\n\v\f\r]+")


def onnx_folder(run_dir: str | Path) -> Path:
    """Where `seqcls export RUN --format onnx` writes by default, and where predict looks."""
    return Path(run_dir) / "export" / "onnx"


def export_command(run_dir: str | Path) -> str:
    return f"seqcls export {run_dir} --format onnx"


def model_fingerprint(path: str | Path) -> str:
    """sha256 of a run's model.keras: an export records it (export.json's model_sha256),
    so a stale export (the run resumed or retrained after exporting) is never used in
    its place."""
    stat = os.stat(path)
    return _fingerprint(str(path), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=8)
def _fingerprint(path: str, mtime_ns: int, size: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ------------------------------------------------------------------------- tokens


class Tokenizer:
    """Text -> the token ids the run's inference model computes (see the module doc)."""

    def __init__(self, tokenization: dict[str, Any], tokens: list[str], max_length: int | None):
        self.lowercase = bool(tokenization["lowercase"])
        strip = tokenization["strip_punctuation"]
        split = tokenization.get("split_punctuation", False)  # exports before it: false
        self.punctuation = re.compile(tokenization["punctuation_regex"]) if strip or split else None
        # Each mark deleted, replaced by a space, or kept between spaces (its own token):
        # the one rule, in Python's spelling of the whole match.
        self.rewrite = punctuation_rewrite(strip, split).replace(r"\0", r"\g<0>")
        self.characters = tokenization["split"] == "characters"
        # Ids 0 and 1 ("" and "[UNK]") are never looked up: Keras' own entries.
        self.index = {token: index for index, token in enumerate(tokens) if index >= 2}
        self.max_length = max_length  # None: every token is kept (tagging)

    def tokens(self, text: str) -> list[str]:
        """The standardized tokens of one text, uncut."""
        if self.lowercase:
            text = text.translate(ASCII_LOWER)
        if self.punctuation is not None:
            text = self.punctuation.sub(self.rewrite, text)
        if self.characters:
            return list(text)
        return [token for token in ASCII_WHITESPACE.split(text) if token]

    def display_tokens(self, texts: list[str], max_length: int | None) -> list[list[str]]:
        """seqcls.text.display_tokens without TensorFlow: each text's tokens, cut."""
        return [self.tokens(text)[:max_length] for text in texts]

    def ids(self, texts: list[str]) -> np.ndarray:
        """(len(texts), min(longest, max_length) + 1) int64 ids, right-padded with 0; an
        empty row has the OOV id at step 0 (TextVectorization, then SequenceClip)."""
        rows = [
            [self.index.get(token, OOV_ID) for token in self.tokens(text)][: self.max_length]
            for text in texts
        ]
        width = max((len(row) for row in rows), default=0) + 1
        ids = np.full((len(rows), width), PADDING_ID, dtype=np.int64)
        for position, row in enumerate(rows):
            ids[position, : len(row)] = row
            if not row:
                ids[position, 0] = OOV_ID
        return ids


# -------------------------------------------------------------------------- model


class OnnxModel:
    """model.onnx in ONNX Runtime, standing where the Keras inference model stands in a
    Run: `output` names its outputs (the Keras model's, token_ids included), and
    `predict_texts` is predict_outputs' contract."""

    def __init__(self, path: Path, tokenizer: Tokenizer, threads: int = 1):
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3  # errors only: its warnings are not the user's to act on
        # The exported LSTM is a loop of small per-step ops: more threads only add hand-offs
        # (banking77's 3,080 test texts: 0.5 s on one thread, 1.1-1.7 s on two of 2 cores).
        options.intra_op_num_threads = threads
        try:
            self.session = onnxruntime.InferenceSession(
                str(path), options, providers=["CPUExecutionProvider"]
            )
        except Exception as error:  # ONNX Runtime raises its own (pybind) exception types
            raise DataError(
                f"{path} cannot be loaded by ONNX Runtime ({str(error).strip()[:300]}); the "
                "file is damaged or from an incompatible version: export the run again with "
                "`seqcls export RUN --format onnx --force`"
            ) from None
        self.input_name = self.session.get_inputs()[0].name
        self.names = [
            output.name
            for output in self.session.get_outputs()
            if output.name != MEMBER_PROBABILITIES  # for training only; Keras drops it too
        ]
        self.output = {name: None for name in [*self.names, TOKEN_IDS]}
        self.tokenizer = tokenizer

    def predict_ids(self, ids: np.ndarray) -> dict[str, np.ndarray]:
        values = self.session.run(self.names, {self.input_name: ids})
        return {**dict(zip(self.names, values)), TOKEN_IDS: ids}

    def predict_texts(
        self, texts: list[str], batch_size: int = PREDICT_BATCH_SIZE
    ) -> dict[str, list]:
        """Every output as one entry per text, in input order; batched by length exactly
        as seqcls.inference.predict.predict_outputs batches (so the padding is the same)."""
        if not texts:
            return {key: [] for key in self.output}
        order = np.argsort([len(text) for text in texts], kind="stable")
        results: dict[str, list] = {}
        for start in range(0, len(texts), batch_size):
            rows = order[start : start + batch_size]
            outputs = self.predict_ids(self.tokenizer.ids([texts[i] for i in rows]))
            for key, values in outputs.items():
                column = results.setdefault(key, [None] * len(texts))
                for row, value in zip(rows, values):
                    column[row] = value
        return results


# ---------------------------------------------------------------- the export, checked


def export_problem(run_dir: str | Path, require_fingerprint: bool = True) -> str | None:
    """Why the run's ONNX export cannot stand in for its model.keras (None: it can). An
    export made from another model.keras (the run resumed or retrained after exporting)
    is refused; one that does not say which (an older seqcls) only with
    `require_fingerprint`."""
    folder = onnx_folder(run_dir)
    if not folder.is_dir():
        return f"the run has no ONNX export ({folder} does not exist)"
    missing = [
        name
        for name in (EXPORT_FILE, ONNX_FILE, artifacts.VOCABULARY_FILE, TOKENIZATION_FILE)
        if not (folder / name).is_file()
    ]
    if missing:
        return f"the ONNX export {folder} is incomplete (no {', '.join(missing)})"
    try:
        record = artifacts.read_json(folder / EXPORT_FILE)
    except (OSError, ValueError) as error:
        return f"{folder / EXPORT_FILE} cannot be read ({error})"
    if not isinstance(record, dict) or record.get("format") != "onnx":
        return f"{folder / EXPORT_FILE} does not describe an ONNX export"
    recorded = record.get(FINGERPRINT_KEY)
    model = Path(run_dir) / artifacts.MODEL_FILE
    if recorded is None:
        if require_fingerprint:
            return f"the ONNX export {folder} does not record which model.keras it was made from"
    elif not model.is_file() or recorded != model_fingerprint(model):
        return f"the ONNX export {folder} was made from an earlier {model} (stale)"
    return None


def onnxruntime_missing() -> str | None:
    import importlib.util

    if importlib.util.find_spec("onnxruntime") is None:
        return "onnxruntime is not installed (pip install 'seqcls[onnx]')"
    return None


def read_tokenization(folder: Path) -> dict[str, Any]:
    fix = "export the run again: seqcls export RUN --format onnx --force"
    data = readers.read_run_json(
        folder,
        TOKENIZATION_FILE,
        {
            "lowercase": "boolean",
            "strip_punctuation": "boolean",
            "punctuation_regex": "string",
            "split": "string",
        },
        fix=fix,
    )
    if data["split"] not in ("whitespace", "characters"):
        raise DataError(
            f"{folder / TOKENIZATION_FILE}: 'split' should be 'whitespace' or 'characters', "
            f"got {data['split']!r}; {fix}"
        )
    if not isinstance(data.get("split_punctuation", False), bool):  # absent before it
        raise DataError(
            f"{folder / TOKENIZATION_FILE}: 'split_punctuation' should be true or false, "
            f"got {data['split_punctuation']!r}; {fix}"
        )
    return data


def load_onnx_run(run_dir: str | Path, require_fingerprint: bool = False) -> Run:
    """The run with the ONNX model of RUN/export/onnx in place of model.keras; its files
    checked as load_run checks them, and the export checked against the run."""
    from seqcls.inference.predict import check_run_task
    from seqcls.tasks import get_task

    run_dir = artifacts.require_run_dir(run_dir)
    missing = onnxruntime_missing()
    if missing:
        raise ConfigError(f"--engine onnx needs ONNX Runtime: {missing}")
    problem = export_problem(run_dir, require_fingerprint)
    if problem:
        raise UsageError(
            f"--engine onnx: {problem}; make one with `{export_command(run_dir)}` (add --force "
            "to replace an old one), or use --engine keras"
        )
    folder = onnx_folder(run_dir)
    config = readers.read_run_config(run_dir)
    label_file = readers.read_labels(run_dir)
    task, labels = label_file["task"], label_file["labels"]
    check_run_task(run_dir, config, task, labels)
    kind = get_task(task)
    vocabulary = readers.read_vocabulary(run_dir)
    decisions = run_decisions(run_dir, task, labels)
    stale = f"re-export it: {export_command(run_dir)} --force"
    exported = readers.read_run_json(
        folder, artifacts.VOCABULARY_FILE, {"tokens": "list of strings"}
    )
    if exported["tokens"] != vocabulary["tokens"]:
        raise DataError(
            f"{folder / artifacts.VOCABULARY_FILE} differs from the run's "
            f"{run_dir / artifacts.VOCABULARY_FILE}: the export is from another run; {stale}"
        )
    tokenizer = Tokenizer(
        read_tokenization(folder),
        vocabulary["tokens"],
        kind.inference_max_length(vocabulary["max_length"]),
    )
    model = OnnxModel(folder / ONNX_FILE, tokenizer)
    shapes = {output.name: output.shape for output in model.session.get_outputs()}
    width = shapes[PROBABILITIES][-1] if PROBABILITIES in shapes else None
    if width != kind.output_units(len(labels)):
        raise DataError(
            f"{folder / ONNX_FILE} does not fit {run_dir / artifacts.LABELS_FILE} "
            f"({len(labels)} labels, task {task}); the export is from another run; {stale}"
        )
    return Run(run_dir, config, task, labels, vocabulary["max_length"], model, **decisions)


def choose_engine(run_dir: str | Path, engine: str = "auto") -> tuple[str, str]:
    """(the engine to use, why). auto: onnx when the run has a complete, current ONNX
    export and ONNX Runtime is installed, else keras; onnx without them is a UsageError."""
    if engine not in ENGINES:
        raise UsageError(f"--engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    if engine == "keras":
        return "keras", "--engine keras"
    if engine == "onnx":
        return "onnx", "--engine onnx"
    problem = onnxruntime_missing() or export_problem(run_dir)
    if problem:
        return "keras", f"auto: {problem}"
    return "onnx", f"auto: {onnx_folder(run_dir)} is current"
