"""The one module that knows the run directory's file names; atomic writes; safe loading."""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from seqcls.errors import DataError, UsageError

CONFIG_FILE = "config.yaml"
LABELS_FILE = "labels.json"
VOCABULARY_FILE = "vocabulary.json"
MODEL_FILE = "model.keras"
CHECKPOINT_FOLDER = "checkpoints"
BEST_CHECKPOINT_FILE = "checkpoints/best.keras"
# Resumable state: names the last completed epoch's checkpoint (see progress.py).
STATE_FILE = "checkpoints/state.json"
TENSORBOARD_FOLDER = "tensorboard"
HISTORY_FILE = "history.csv"
METRICS_FILE = "metrics.json"
MANIFEST_FILE = "manifest.json"
THRESHOLDS_FILE = "thresholds.json"
PER_CLASS_FILE = "per_class.csv"
CONFUSION_FILE = "confusion_matrix.csv"

# What every finished run holds (thresholds.json only for multilabel runs).
RUN_FILES = (
    CONFIG_FILE,
    LABELS_FILE,
    VOCABULARY_FILE,
    MODEL_FILE,
    BEST_CHECKPOINT_FILE,
    HISTORY_FILE,
    METRICS_FILE,
    MANIFEST_FILE,
)


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


@contextmanager
def atomic_path(path: str | Path, suffix: str = ""):
    """Yield a temporary path next to `path`; move it into place only if the block succeeds.

    Readers never see a half-written file and a crash leaves the old file intact.
    `suffix` keeps writers that insist on an extension (Keras wants `.keras`) happy.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=suffix or ".tmp", dir=path.parent
    )
    os.close(handle)
    temporary = Path(temporary)
    try:
        yield temporary
        # mkstemp creates files private (0600); give the result the usual permissions.
        os.chmod(temporary, 0o666 & ~_umask())
        os.replace(temporary, path)
    finally:
        if temporary.exists():
            temporary.unlink()


def write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as temporary:
        temporary.write_text(text, encoding="utf-8")


def write_json(path: str | Path, data: Any) -> None:
    write_text(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def read_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def new_run_dir(
    name: str, output_dir: str | Path | None, force: bool, root: Path | None = None
) -> Path:
    """Create the run directory: `output_dir`, or `runs/<name>-<timestamp>` by default.

    An existing non-empty directory is refused unless `force` is set, so one run
    never mixes its files with another's.
    """
    if output_dir is None:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        run_dir = (root or Path("runs")) / f"{name}-{stamp}"
        suffix = 1
        while run_dir.exists():
            suffix += 1
            run_dir = (root or Path("runs")) / f"{name}-{stamp}-{suffix}"
    else:
        run_dir = Path(output_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise UsageError(f"output path {run_dir} exists and is not a directory")
    if run_dir.is_dir() and any(run_dir.iterdir()) and not force:
        raise UsageError(
            f"run directory {run_dir} exists and is not empty; choose another --output-dir "
            "or pass --force to write into it"
        )
    run_dir.mkdir(parents=True, exist_ok=True)
    return run_dir


def require_run_dir(run_dir: str | Path) -> Path:
    """Check that `run_dir` holds a finished run (its config, labels and model)."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise UsageError(f"run directory not found: {run_dir}")
    required = (CONFIG_FILE, LABELS_FILE, VOCABULARY_FILE, MODEL_FILE)
    missing = [name for name in required if not (run_dir / name).is_file()]
    if missing:
        raise UsageError(
            f"{run_dir} is not a finished seqcls run: missing {', '.join(missing)} "
            "(was training interrupted? train again, or point at another run directory)"
        )
    return run_dir


def save_model(model: Any, path: str | Path) -> None:
    with atomic_path(path, suffix=".keras") as temporary:
        model.save(temporary)


def load_model(path: str | Path, compile: bool = False) -> Any:
    """Load a `.keras` file with safe_mode on: no arbitrary code (lambdas) runs at load time.

    A file that would need unsafe deserialization, or that is truncated or corrupt, is
    reported as such (a DataError naming the file), never as a Keras traceback.
    """
    import zipfile

    import keras

    import seqcls.layers  # noqa: F401  registers the custom layers for deserialization

    path = Path(path)
    if not path.is_file():
        raise UsageError(f"model file not found: {path}")
    try:
        return keras.models.load_model(path, safe_mode=True, compile=compile)
    except Exception as error:  # Keras raises many types for a bad file
        message = str(error)
        if "safe_mode" in message or "unsafe" in message.lower():
            raise DataError(
                f"{path} asks to run arbitrary code when loaded (for example a Lambda layer), "
                "which seqcls refuses: only load models you trust, and export them without "
                f"Lambda layers. Keras said: {message.splitlines()[0]}"
            ) from None
        if isinstance(error, (zipfile.BadZipFile, OSError, ValueError, KeyError, EOFError)):
            raise DataError(
                f"{path} is not a readable Keras model (truncated or corrupt: "
                f"{type(error).__name__}: {message.splitlines()[0] if message else ''}); "
                "train again, or restore the file from a copy"
            ) from None
        raise
