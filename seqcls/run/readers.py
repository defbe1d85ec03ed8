"""Reading a run's own files back, typed and checked.

A run directory can be damaged (a file truncated by a full disk, emptied, edited by hand,
copied from another run): every reader of the run's JSON and YAML files goes through
these, so damage is a DataError naming the file, what is wrong and what to do, never a
traceback. (The file names live in run/artifacts.py.)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from seqcls.errors import DataError
from seqcls.run.artifacts import (
    ABSTENTION_FILE,
    CALIBRATION_FILE,
    CONFIG_FILE,
    LABELS_FILE,
    STATE_FILE,
    THRESHOLDS_FILE,
    VOCABULARY_FILE,
)
from seqcls.tasks import TASK_NAMES, get_task

# The tasks a run's labels.json may name (config.yaml's task `auto` resolves to one of them).
RUN_TASKS = TASK_NAMES


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
    expected = get_task(task).expected_labels
    if expected is not None and len(labels) != expected:
        raise DataError(
            f"{path}: task is {task} but there are {len(labels)} labels, expected {expected}; {fix}"
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
    """checkpoints/state.json, the resumable state (see training/checkpoints.py); the checkpoint it
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


def read_calibration(run_dir: str | Path, labels: list[str]) -> dict[str, Any] | None:
    """calibration.json: the temperature (or one per label) fitted on valid; None for a
    run without one (trained before calibration, or with too few valid rows). A
    temperature must be a positive finite number, and per-label ones name every label."""
    import math

    if not (Path(run_dir) / CALIBRATION_FILE).exists():
        return None
    saved = read_run_json(run_dir, CALIBRATION_FILE, {"method": "string"})
    values = (
        [saved.get("temperature")]
        if "temperature" in saved
        else [saved.get("temperatures", {}).get(label) for label in labels]
        if isinstance(saved.get("temperatures"), dict)
        else [None]
    )
    if not all(_is_number(v) and math.isfinite(v) and v > 0 for v in values):
        raise DataError(
            f"{Path(run_dir) / CALIBRATION_FILE}: expected a positive temperature (or one "
            f"per label of the run); {run_file_fix(CALIBRATION_FILE)}"
        )
    return saved


def read_abstention(run_dir: str | Path) -> dict[str, Any] | None:
    """abstention.json: the confidence threshold fitted on valid (a number in [0, 1]);
    None for a run without one (trained before abstention, or a task that does not
    abstain)."""
    if not (Path(run_dir) / ABSTENTION_FILE).exists():
        return None
    saved = read_run_json(run_dir, ABSTENTION_FILE, {"threshold": "number or null"})
    threshold = saved["threshold"]
    if not _is_number(threshold) or not 0.0 <= threshold <= 1.0:
        raise DataError(
            f"{Path(run_dir) / ABSTENTION_FILE}: threshold must be a number in [0, 1]; "
            f"{run_file_fix(ABSTENTION_FILE)}"
        )
    return saved
