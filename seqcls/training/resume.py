"""Resuming a run: which config it resumes with, and the checks that the data it
trains on is the data it started with."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from seqcls.config import Config
from seqcls.errors import DataError
from seqcls.run import artifacts, readers

# Settings a resumed run may change: how long it trains, where it runs and what it writes
# besides the model, never what is trained.
RESUMABLE_CHANGES = {
    "training.epochs",
    "training.early_stopping.patience",
    "runtime.device",
    # A multi_worker run resumes on the chief's machine alone (see distribute.check_runtime).
    "runtime.distribution",
    "runtime.devices",
    "output.tensorboard",
    "output.plots",
    "output.html_report",
}


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat = {}
    for key, value in data.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(_flatten(value, path + "."))
        else:
            flat[path] = value
    return flat


def resume_config(run_dir: Path, config_path: Path | None, overrides: list[str]) -> Config:
    """The config to resume `run_dir` with: the run's own (with --set overrides), or
    CONFIG; refused when it differs in anything but RESUMABLE_CHANGES."""
    from seqcls.config import (
        FROM_DATA,
        apply_overrides,
        load_config,
        resolved_dict,
        validate_config,
    )
    from seqcls.errors import ConfigError, UsageError

    state_path = run_dir / artifacts.STATE_FILE
    if not state_path.is_file():
        raise UsageError(
            f"{run_dir} has no resumable state ({artifacts.STATE_FILE}): it did not finish an "
            "epoch (or was not started by this version of seqcls), so there is nothing to "
            f"resume. Start it again: seqcls train CONFIG --output-dir {run_dir} --force"
        )
    if readers.read_state(run_dir)["finished"]:
        raise UsageError(f"{run_dir} finished training; there is nothing to resume")
    saved = readers.read_run_config(run_dir)
    if config_path is not None:
        wanted = load_config(config_path, overrides)
    else:
        raw = readers.read_run_yaml(run_dir, artifacts.CONFIG_FILE)
        touched = apply_overrides(raw, overrides)
        wanted = validate_config(raw, touched)
    before, after = _flatten(resolved_dict(saved)), _flatten(resolved_dict(wanted))
    for key in FROM_DATA:  # the run's config.yaml records what `auto` became
        if after.get(key) == "auto":
            after[key] = before.get(key)
    differing = sorted(
        key
        for key in before.keys() | after.keys()
        if before.get(key) != after.get(key) and key not in RESUMABLE_CHANGES
    )
    if differing:
        raise ConfigError(
            f"cannot resume {run_dir} with a different config: {', '.join(differing)} differ "
            f"from the run's; only {', '.join(sorted(RESUMABLE_CHANGES))} may change"
        )
    return wanted


def check_same_data(run_dir: Path, labels: list[str], tokens: list[str]) -> None:
    """A resumed run must see the data it started with; a refusal leaves its files as
    they were."""
    if readers.read_labels(run_dir)["labels"] != labels:
        raise DataError(
            f"the data changed since {run_dir} started (its labels differ from "
            f"{artifacts.LABELS_FILE}); resume with the same files, or start a new run"
        )
    if readers.read_vocabulary(run_dir)["tokens"] != tokens:
        raise DataError(
            f"the data changed since {run_dir} started (its vocabulary differs from "
            f"{artifacts.VOCABULARY_FILE}); resume with the same files, or start a new run"
        )
