"""manifest.json: how a run was made (command, versions, devices, data files and their
sha256, what training did)."""

from __future__ import annotations

import platform
import sys
from datetime import datetime, timezone
from typing import Any

import numpy as np

from seqcls.config import Config
from seqcls.data.paths import expand_paths, file_sha256
from seqcls.data.splits import Splits
from seqcls.version import __version__


def device_description() -> list[str]:
    import tensorflow as tf

    gpus = tf.config.list_logical_devices("GPU")
    return [device.name for device in gpus] or ["CPU"]


def versions() -> dict[str, str]:
    import keras
    import pandas
    import tensorflow as tf

    return {
        "seqcls": __version__,
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "pandas": pandas.__version__,
        "platform": platform.platform(),
    }


def data_manifest(config: Config, splits: Splits) -> dict[str, Any]:
    files = {}
    for key in ("train", "valid", "test"):
        path = getattr(config.data, key)
        if path is not None:
            shards = expand_paths(path)
            files[key] = {"path": str(path), "sha256": file_sha256(shards[0])}
            if len(shards) > 1:
                files[key]["shards"] = [
                    {"path": str(shard), "sha256": file_sha256(shard)} for shard in shards
                ]
                del files[key]["sha256"]
    rows = {"train": len(splits.train), "valid": len(splits.valid)}
    if splits.test is not None:
        rows["test"] = len(splits.test)
    # Rows left out under data.on_bad_rows skip/warn, per split and reason.
    return {"files": files, "rows_used": rows, "bad_rows": splits.bad_rows}


def run_manifest(
    config: Config,
    splits: Splits,
    *,
    command: list[str] | None,
    started_at: datetime,
    wall_seconds: float | dict[str, float],
    smoke: bool,
    training: dict[str, Any],
) -> dict[str, Any]:
    """The manifest of a finished run; `training` holds what training did (task, sizes,
    epochs, best epoch, notes), in the order it is written. `wall_seconds`: the seconds
    training took, or {"wall_seconds": the whole training, ...: its parts} (a resumed
    run's wall_seconds_before_resume and wall_seconds_resumed_part,
    training.finish.wall_seconds). `started_at` is when this part started."""
    if not isinstance(wall_seconds, dict):
        wall_seconds = {"wall_seconds": wall_seconds}
    return {
        "seqcls_version": __version__,
        "command": command if command is not None else sys.argv,
        "started_at": started_at.isoformat(timespec="seconds"),
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        **{name: round(seconds, 2) for name, seconds in wall_seconds.items()},
        "seed": config.seed,
        "deterministic": config.training.deterministic,
        "smoke": smoke,
        "devices": device_description(),
        "versions": versions(),
        "data": data_manifest(config, splits),
        **training,
    }
