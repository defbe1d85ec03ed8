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
# Resumable state: names the last completed epoch's checkpoint (see progress.py).
STATE_FILE = "checkpoints/state.json"
TENSORBOARD_FOLDER = "tensorboard"
HISTORY_FILE = "history.csv"
METRICS_FILE = "metrics.json"
MANIFEST_FILE = "manifest.json"
THRESHOLDS_FILE = "thresholds.json"
PER_CLASS_FILE = "per_class.csv"
CONFUSION_FILE = "confusion_matrix.csv"

# Every file training writes at the top of a run directory (some only for some tasks or
# settings), and the folders it owns: what outputs.py protects and --force replaces, and
# whose half-written temporaries a resume sweeps (progress.reconcile).
TRAINING_WRITES = (
    CONFIG_FILE,
    LABELS_FILE,
    VOCABULARY_FILE,
    MODEL_FILE,
    HISTORY_FILE,
    METRICS_FILE,
    MANIFEST_FILE,
    THRESHOLDS_FILE,
    PER_CLASS_FILE,
    CONFUSION_FILE,
    "confusion_matrix.png",
    "training_curves.png",
    "report.html",
)
RUN_FOLDERS = (CHECKPOINT_FOLDER, TENSORBOARD_FOLDER, "export")

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
        raise _naming(error, path, None) from error
    os.close(handle)
    temporary = Path(temporary)
    try:
        try:
            yield temporary
        except OSError as error:
            raise _naming(error, path, temporary) from error
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


def _naming(error: OSError, path: Path, temporary: Path | None) -> OSError:
    """The error with the file the user asked for as its name (a full disk reports no
    name, a read-only folder the temporary's), so the message says which file failed."""
    if error.filename not in (None, str(temporary) if temporary else None) and not (
        temporary is None and error.filename and Path(error.filename).parent == path.parent
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
        if isinstance(error, OSError) and error.errno in MACHINE_ERRNOS:
            raise  # a full disk or temp folder, not a damaged model: the CLI explains it
        if isinstance(error, (zipfile.BadZipFile, OSError, ValueError, KeyError, EOFError)):
            raise DataError(
                f"{path} is not a readable Keras model (truncated or corrupt: "
                f"{type(error).__name__}: {message.splitlines()[0] if message else ''}); "
                "train again, or restore the file from a copy"
            ) from None
        raise


# Reading a run's own files back. A run directory can be damaged (a file truncated by a
# full disk, emptied, edited by hand, copied from another run): every reader of the run's
# JSON and YAML files goes through these, so damage is a DataError naming the file, what
# is wrong and what to do, never a traceback.

# The tasks a run's labels.json may name (config.yaml's task `auto` resolves to one of them).
RUN_TASKS = ("multiclass", "binary", "multilabel", "tagging")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# Kinds a key of a run's JSON file may be required to have: (how it reads, the check).
JSON_KINDS: dict[str, tuple[str, Any]] = {
    "string": ("a string", lambda v: isinstance(v, str)),
    "boolean": ("true or false", lambda v: isinstance(v, bool)),
    "count": ("a whole number >= 0", lambda v: _is_int(v) and v >= 0),
    "positive integer": ("a whole number >= 1", lambda v: _is_int(v) and v >= 1),
    "integer or null": ("a whole number or null", lambda v: v is None or _is_int(v)),
    "number or null": ("a number or null", lambda v: v is None or _is_number(v)),
    "string or null": ("a string or null", lambda v: v is None or isinstance(v, str)),
    "object": ("an object ({...})", lambda v: isinstance(v, dict)),
    "list of strings": (
        "a list of strings",
        lambda v: isinstance(v, list) and all(isinstance(item, str) for item in v),
    ),
    "list of objects": (
        "a list of objects",
        lambda v: isinstance(v, list) and all(isinstance(item, dict) for item in v),
    ),
}


def _shown(value: Any) -> str:
    """A short description of a JSON value for a message: its JSON type and its start."""
    kinds = {bool: "boolean", int: "number", float: "number", str: "string", list: "list"}
    kind = "null" if value is None else kinds.get(type(value), "object")
    text = json.dumps(value, ensure_ascii=False)
    return f"{kind} {text[:60] + '...' if len(text) > 60 else text}"


def run_file_fix(name: str) -> str:
    """What to do about a damaged file of a finished run."""
    return f"restore {name} from a backup or copy of this run directory, or train the run again"


def _read_run_text(path: Path, fix: str) -> str:
    if not path.is_file():
        raise DataError(f"{path} is missing; {fix}")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise DataError(f"{path} is not UTF-8 text ({error.reason}); {fix}") from None
    except OSError as error:
        raise DataError(f"{path} cannot be read ({error.strerror or error}); {fix}") from None
    if not text.strip():
        raise DataError(f"{path} is empty (was it truncated?); {fix}")
    return text


def read_run_json(
    run_dir: str | Path,
    name: str,
    schema: dict[str, str] | None = None,
    fix: str | None = None,
) -> dict[str, Any]:
    """The JSON object in `run_dir/name`, with every key of `schema` present and of its
    kind (a key of JSON_KINDS). A missing, empty, truncated or malformed file, or a
    missing or mistyped key, is a DataError naming the file, what is wrong and `fix`."""
    path = Path(run_dir) / name
    fix = fix or run_file_fix(name)
    text = _read_run_text(path, fix)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise DataError(
            f"{path} is not valid JSON ({error.msg.removesuffix(' at')}, line "
            f"{error.lineno}, column {error.colno}; truncated or edited by hand?); {fix}"
        ) from None
    if not isinstance(data, dict):
        raise DataError(f"{path} should hold a JSON object ({{...}}), got {_shown(data)}; {fix}")
    for key, kind in (schema or {}).items():
        expected, check = JSON_KINDS[kind]
        if key not in data:
            raise DataError(f"{path} has no '{key}' (expected {expected}); {fix}")
        if not check(data[key]):
            raise DataError(f"{path}: '{key}' should be {expected}, got {_shown(data[key])}; {fix}")
    return data


def read_run_yaml(run_dir: str | Path, name: str = CONFIG_FILE, fix: str | None = None) -> dict:
    """The YAML mapping in `run_dir/name` (the run's config.yaml); damage is a DataError."""
    import yaml

    from seqcls.config import yaml_load

    path = Path(run_dir) / name
    fix = fix or run_file_fix(name)
    text = _read_run_text(path, fix)
    try:
        data = yaml_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or type(error).__name__
        raise DataError(
            f"{path} is not valid YAML ({problem}{where}; truncated or edited by hand?); {fix}"
        ) from None
    if not isinstance(data, dict):
        raise DataError(
            f"{path} should hold a mapping of config sections (name, data, model, ...), "
            f"got {type(data).__name__}; {fix}"
        )
    return data


def read_run_config(run_dir: str | Path) -> Any:
    """The run's own config.yaml, validated (a seqcls.config.Config)."""
    from seqcls.config import validate_config
    from seqcls.errors import ConfigError

    fix = run_file_fix(CONFIG_FILE)
    raw = read_run_yaml(run_dir, CONFIG_FILE, fix)
    try:
        return validate_config(raw)
    except ConfigError as error:
        raise DataError(
            f"{Path(run_dir) / CONFIG_FILE} is not a valid seqcls config (edited by hand, or "
            f"written by another seqcls version?) -- {error}\n{fix}"
        ) from None


def read_labels(run_dir: str | Path) -> dict[str, Any]:
    """labels.json: {"task": one of RUN_TASKS, "labels": distinct non-empty strings}."""
    from collections import Counter

    path = Path(run_dir) / LABELS_FILE
    fix = run_file_fix(LABELS_FILE)
    data = read_run_json(run_dir, LABELS_FILE, {"task": "string", "labels": "list of strings"})
    task, labels = data["task"], data["labels"]
    if task not in RUN_TASKS:
        raise DataError(
            f"{path}: 'task' is {task!r}, expected one of {', '.join(RUN_TASKS)}; {fix}"
        )
    if not labels:
        raise DataError(f"{path}: 'labels' is empty, expected the run's labels; {fix}")
    blank = [index for index, label in enumerate(labels) if not label.strip()]
    if blank:
        raise DataError(
            f"{path}: label #{blank[0] + 1} is empty; every label must be a non-empty string; {fix}"
        )
    repeated = sorted(label for label, count in Counter(labels).items() if count > 1)
    if repeated:
        raise DataError(
            f"{path}: label {repeated[0]!r} appears more than once; labels must be distinct; {fix}"
        )
    if task == "binary" and len(labels) != 2:
        raise DataError(
            f"{path}: task is binary but there are {len(labels)} labels, expected 2; {fix}"
        )
    return data


def read_vocabulary(run_dir: str | Path) -> dict[str, Any]:
    """vocabulary.json: distinct tokens starting with padding "" and "[UNK]", and max_length."""
    path = Path(run_dir) / VOCABULARY_FILE
    fix = run_file_fix(VOCABULARY_FILE)
    data = read_run_json(
        run_dir,
        VOCABULARY_FILE,
        {"tokens": "list of strings", "max_length": "positive integer"},
    )
    tokens = data["tokens"]
    if tokens[:2] != ["", "[UNK]"]:
        raise DataError(
            f'{path}: \'tokens\' should start with the padding "" and the "[UNK]" entry, got '
            f"{_shown(tokens[:2])}; {fix}"
        )
    if len(set(tokens)) != len(tokens):
        raise DataError(f"{path}: 'tokens' has repeated entries; tokens must be distinct; {fix}")
    return data


def read_thresholds(run_dir: str | Path, labels: list[str]) -> list[float]:
    """thresholds.json of a multilabel run: one threshold in [0, 1] for each label, in the
    order of `labels` (exactly those labels)."""
    import math

    path = Path(run_dir) / THRESHOLDS_FILE
    fix = run_file_fix(THRESHOLDS_FILE)
    saved = read_run_json(run_dir, THRESHOLDS_FILE, {"thresholds": "object"})["thresholds"]
    missing = [label for label in labels if label not in saved]
    extra = [label for label in saved if label not in set(labels)]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"no threshold for {', '.join(map(repr, missing[:5]))}")
        if extra:
            parts.append(f"thresholds for labels the run does not have: {extra[:5]}")
        raise DataError(
            f"{path} does not match {LABELS_FILE} ({'; '.join(parts)}); expected exactly one "
            f"threshold per label of {LABELS_FILE}; {fix}"
        )
    bad = [
        label
        for label in labels
        if not _is_number(saved[label])
        or not math.isfinite(saved[label])
        or not 0.0 <= saved[label] <= 1.0
    ]
    if bad:
        raise DataError(
            f"{path}: the threshold of {bad[0]!r} is {_shown(saved[bad[0]])}, expected a number "
            f"between 0 and 1; {fix}"
        )
    return [float(saved[label]) for label in labels]


def state_fix() -> str:
    return (
        f"restore {STATE_FILE} from a copy, or train again without --resume (the run "
        "cannot be resumed without it)"
    )


def read_state(run_dir: str | Path) -> dict[str, Any]:
    """checkpoints/state.json, the resumable state (see progress.py); the checkpoint it
    names must exist unless training finished."""
    fix = state_fix()
    state = read_run_json(
        run_dir,
        STATE_FILE,
        {
            "completed_epochs": "count",
            "finished": "boolean",
            "checkpoint": "string or null",
            "best_value": "number or null",
            "best_epoch": "integer or null",
            "seed_states": "object",
            "rows": "list of objects",
        },
        fix,
    )
    if not state["finished"]:
        path = Path(run_dir) / STATE_FILE
        if state["checkpoint"] is None:
            raise DataError(f"{path} names no checkpoint but training did not finish; {fix}")
        if not (Path(run_dir) / state["checkpoint"]).is_file():
            raise DataError(
                f"{path} names the checkpoint {state['checkpoint']}, which is missing; {fix}"
            )
    return state


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
