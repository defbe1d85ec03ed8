"""The one module that knows the run directory's file names; atomic writes; safe loading."""

from __future__ import annotations

import errno
import json
import os
import shutil
import stat
import tempfile
from collections.abc import Iterable
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
# Resumable state: names the last completed epoch's checkpoint (see training/checkpoints.py).
STATE_FILE = "checkpoints/state.json"
TENSORBOARD_FOLDER = "tensorboard"
HISTORY_FILE = "history.csv"
METRICS_FILE = "metrics.json"
MANIFEST_FILE = "manifest.json"
THRESHOLDS_FILE = "thresholds.json"
# The temperature(s) fitted on valid that predict, eval and serve scale probabilities by.
CALIBRATION_FILE = "calibration.json"
# The confidence threshold fitted on valid that predict --abstain auto uses.
ABSTENTION_FILE = "abstention.json"
PER_CLASS_FILE = "per_class.csv"
CONFUSION_FILE = "confusion_matrix.csv"

# Every file training writes at the top of a run directory (some only for some tasks or
# settings), and the folders it owns: what run/destinations.py protects and --force replaces, and
# whose half-written temporaries a resume sweeps (training.checkpoints.reconcile).
TRAINING_WRITES = (
    CONFIG_FILE,
    LABELS_FILE,
    VOCABULARY_FILE,
    MODEL_FILE,
    HISTORY_FILE,
    METRICS_FILE,
    MANIFEST_FILE,
    THRESHOLDS_FILE,
    CALIBRATION_FILE,
    ABSTENTION_FILE,
    "reliability.png",
    PER_CLASS_FILE,
    CONFUSION_FILE,
    "confusion_matrix.png",
    "training_curves.png",
    "report.html",
    "roc_pr_curves.png",  # binary runs
    "MODEL_CARD.md",  # seqcls.reporting.model_card.MODEL_CARD_FILE
)
RUN_FOLDERS = (CHECKPOINT_FOLDER, TENSORBOARD_FOLDER, "export")
# What training writes in checkpoints/ (the per-epoch checkpoints, the best, the state).
CHECKPOINT_WRITES = ("epoch-*.keras", "best.keras", "state.json")

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


# OS errors that say the machine cannot store a file (not that a file is damaged).
MACHINE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EMFILE})


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def write_target(path: str | Path) -> Path:
    """Where writing `path` lands: the file a symlink points at (the link is kept, not
    replaced by a regular file), else `path` itself. A directory is refused."""
    path = Path(path)
    target = Path(os.path.realpath(path)) if path.is_symlink() else path
    if target.is_dir():
        raise UsageError(
            f"{path} is a directory; give a file name to write"
            + (f" (the link points at {target})" if target != path else "")
        )
    return target


@contextmanager
def atomic_path(path: str | Path, suffix: str = ""):
    """Yield a temporary path next to `path`; move it into place only if the block succeeds.

    Readers never see a half-written file and a crash leaves the old file intact.
    `suffix` keeps writers that insist on an extension (Keras wants `.keras`) happy.
    A file replaced keeps its permission bits; a symlink keeps pointing where it did and
    the file it points at is the one replaced.
    """
    special = _special_file(path)
    if special:  # a device, a FIFO, /dev/stdout: written into, never replaced by a file
        with tempfile.TemporaryDirectory(prefix="seqcls-") as folder:
            temporary = Path(folder) / Path(path).name
            yield temporary
            with open(temporary, "rb") as source, open(path, "wb") as sink:
                shutil.copyfileobj(source, sink)
        return
    path = write_target(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        before = path.stat()
    except FileNotFoundError:
        before = None
    try:
        handle, temporary = tempfile.mkstemp(
            prefix=f".{path.name}.", suffix=suffix or ".tmp", dir=path.parent
        )
    except OSError as error:
        raise _naming(error, path) from error
    os.close(handle)
    temporary = Path(temporary)
    try:
        try:
            yield temporary
        except OSError as error:
            raise _naming(error, path) from error
        # mkstemp creates files private (0600): give the result the old file's mode,
        # group and owner (as far as we may), or the usual permissions for a new one.
        if before is None:
            os.chmod(temporary, 0o666 & ~_umask())
        else:
            try:
                os.chown(temporary, before.st_uid, before.st_gid)
            except OSError:  # not ours to give away: keep at least the group if we can
                try:
                    os.chown(temporary, -1, before.st_gid)
                except OSError:
                    pass
            os.chmod(temporary, stat.S_IMODE(before.st_mode))
        os.replace(temporary, path)
    finally:
        if temporary.exists():
            temporary.unlink()


def _naming(error: OSError, path: Path) -> OSError:
    """The error with the file the user asked for as its name: a full disk reports no
    name, a read-only folder the temporary's (`.NAME.xxxxxxxx.tmp`)."""
    name = error.filename
    if name is not None and not (
        Path(name).parent == path.parent and Path(name).name.startswith(f".{path.name}.")
    ):
        return error
    return type(error)(error.errno, error.strerror or os.strerror(error.errno or 0), str(path))


def _special_file(path: str | Path) -> bool:
    """Whether `path` exists and is neither a regular file nor a folder (following links)."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as temporary:
        temporary.write_text(text, encoding="utf-8")


def write_json(path: str | Path, data: Any) -> None:
    write_text(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def read_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def default_run_dir(name: str, root: Path | None = None) -> Path:
    """`runs/<name>-<timestamp>`, with a counter when that name is taken."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    base = root or Path("runs")
    run_dir = base / f"{name}-{stamp}"
    suffix = 1
    while run_dir.exists() or run_dir.is_symlink():
        suffix += 1
        run_dir = base / f"{name}-{stamp}-{suffix}"
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
    # keras_scratch: Keras' own temporary folder lands beside the file, not in /tmp.
    with atomic_path(path, suffix=".keras") as temporary:
        with keras_scratch(temporary.parent, Path(path).name):
            model.save(temporary)


def load_model(path: str | Path, compile: bool = False) -> Any:
    """Load a `.keras` file with safe_mode on: no arbitrary code (lambdas) runs at load time.

    A file that would need unsafe deserialization, or that is truncated or corrupt, is
    reported as such (a DataError naming the file), never as a Keras traceback.
    """
    import zipfile

    import keras

    # Register the custom layers, losses and metrics for deserialization.
    import seqcls.modeling.ensemble  # noqa: F401
    import seqcls.modeling.layers  # noqa: F401
    import seqcls.modeling.linear  # noqa: F401
    import seqcls.modeling.losses  # noqa: F401
    import seqcls.text.standardize  # noqa: F401

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
        if isinstance(error, OSError) and error.errno in MACHINE_ERRNOS:
            raise  # a full disk or temp folder, not a damaged model: the CLI explains it
        if isinstance(error, (zipfile.BadZipFile, OSError, ValueError, KeyError, EOFError)):
            raise DataError(
                f"{path} is not a readable Keras model (truncated or corrupt: "
                f"{type(error).__name__}: {message.splitlines()[0] if message else ''}); "
                "train again, or restore the file from a copy"
            ) from None
        raise


# Leftovers of a crash. atomic_path names its temporary `.<name>.<random><suffix>` beside
# the file; Ctrl-C, SIGTERM (routed to an exception) and errors remove it, a kill -9
# cannot. keras_scratch's folders are named the same way.


@contextmanager
def keras_scratch(folder: str | Path, name: str):
    """Point Python's temporary folder at a fresh `folder/.<name>.<random>.tmp` inside the
    block, and delete that folder however the block ends.

    Keras saves a model's assets (saving_lib.DiskIOStore) through `tempfile.mkdtemp()` in
    the system temporary folder, and a save that fails or is killed leaves a
    `tmpXXXXXXXX/assets` folder there that nothing will ever remove. Beside the file it
    is removed here on every exit that runs code, and after a kill by remove_temporaries
    when the run is resumed. `tempfile.tempdir` is process-wide: saving and loading
    happen on the main thread, and nothing else in seqcls makes temporary files meanwhile.
    """
    scratch = tempfile.mkdtemp(prefix=f".{name}.", suffix=".tmp", dir=folder)
    previous = tempfile.tempdir
    tempfile.tempdir = scratch
    try:
        yield Path(scratch)
    finally:
        tempfile.tempdir = previous
        shutil.rmtree(scratch, ignore_errors=True)


# The suffixes atomic_path and keras_scratch give their temporaries, and the 8 characters
# tempfile puts before them.
TEMPORARY_SUFFIXES = (".tmp", ".keras", ".png")
_RANDOM = "[a-z0-9_]" * 8


def temporary_patterns(name: str) -> list[str]:
    """fnmatch patterns of the temporaries seqcls makes while writing `name`
    (`.model.keras.k9j8h7g6.keras`), and only those: an editor's `.config.yaml.swp` or a
    user's `.history.csv.orig` does not match."""
    return [f".{name}.{_RANDOM}{suffix}" for suffix in TEMPORARY_SUFFIXES]


def remove_temporaries(folder: str | Path, names: Iterable[str]) -> list[Path]:
    """Delete what a crash left in `folder` while writing one of `names` (file names, or
    fnmatch patterns such as `epoch-*.keras`): entries named `.<name>.*` (atomic_path's
    temporaries, keras_scratch's folders). Other hidden files are not touched. Returns
    what was removed."""
    import fnmatch

    folder = Path(folder)
    if not folder.is_dir():
        return []
    patterns = [pattern for name in names for pattern in temporary_patterns(name)]
    removed = []
    for entry in sorted(folder.iterdir()):
        if not any(fnmatch.fnmatchcase(entry.name, pattern) for pattern in patterns):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed.append(entry)
    return removed
