"""The Python API: put a finished run to work, or train one, from Python.

    import seqcls

    clf = seqcls.load("runs/banking77-latest")
    clf.predict(["I lost my card", "where is my money"], top_k=3)
    clf.predict_proba(texts)          # NumPy (texts, labels), columns in clf.labels order
    clf.predict_frame(df, top_k=3)    # df (its text column) with predict's columns added
    clf.explain("I lost my card")     # tokens and their attention weights

    run = seqcls.train("configs/banking77.yaml", training={"epochs": 5}, seed=1)
    run.run_dir, run.metrics["test"]["accuracy"]

`seqcls predict`, `seqcls serve` and the tests all go through `Classifier`
(seqcls.inference.classifier): the same numbers to the last digit, whichever door a text
comes in by. Errors are the CLI's own (seqcls.errors), with the same messages.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seqcls.inference.classifier import Classifier, load
from seqcls.inference.texts import text_list

__all__ = ["Classifier", "Trained", "load", "text_list", "train"]


# --------------------------------------------------------------------------- training


@dataclass
class Trained:
    """A finished `train`: the run directory and its metrics.json (valid and test)."""

    run_dir: Path
    metrics: dict[str, Any]
    epochs_run: int
    best_epoch: int | None
    wall_seconds: float

    def load(self) -> Classifier:
        return load(self.run_dir)


def train(
    config: str | Path | Mapping[str, Any],
    *,
    output_dir: str | Path | None = None,
    force: bool = False,
    report: Any = None,
    **overrides: Any,
) -> Trained:
    """Train as `seqcls train CONFIG` does and return the run.

    `config` is a YAML file, or a mapping of sections as the YAML file would hold
    (relative paths in it are taken from the current directory). Keyword overrides are
    `--set` ones by section: `training={"epochs": 5}` is `--set training.epochs=5`, and
    `seed=1` is `--set seed=1`. Messages go to `report` (default: none are shown).
    """
    import tempfile

    from seqcls.session import start_training

    settings = [f"{key}={_yaml_scalar(value)}" for key, value in _dotted(overrides)]
    silent = report or (lambda message: None)
    with tempfile.TemporaryDirectory(prefix="seqcls-api-") as scratch:
        path = _config_file(config, Path(scratch))
        done = start_training(
            path,
            settings,
            output_dir=Path(output_dir) if output_dir is not None else None,
            force=force,
            report=silent,
            note=silent,
        )
    result = done.result
    return Trained(
        result.run_dir, result.metrics, result.epochs_run, result.best_epoch, result.wall_seconds
    )


def _dotted(values: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    pairs = []
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            pairs += _dotted(value, name + ".")
        else:
            pairs.append((name, value))
    return pairs


def _yaml_scalar(value: Any) -> str:
    import yaml

    if isinstance(value, Path):
        value = str(value)
    text = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True).strip()
    return text.removesuffix("...").strip()


def _config_file(config: str | Path | Mapping[str, Any], scratch: Path) -> Path:
    """The YAML file to train from: `config` itself, or a mapping written to `scratch`
    with its relative paths made absolute from the current directory."""
    if not isinstance(config, Mapping):
        return Path(config)
    import copy

    import yaml

    from seqcls.config import PATH_KEYS

    raw = copy.deepcopy(dict(config))
    for key in PATH_KEYS:
        *sections, name = key.split(".")
        owner: Any = raw
        for section in sections:
            owner = owner.get(section) if isinstance(owner, Mapping) else None
        if isinstance(owner, dict) and isinstance(owner.get(name), (str, Path)):
            owner[name] = str(Path(owner[name]).expanduser().absolute())
    path = scratch / "config.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path
