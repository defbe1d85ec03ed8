"""Shared by the tuning tests: a tiny project with a tune: section, the study's trials
read straight from DIR/study.db (sqlite3, no Optuna), and `seqcls tune` in process."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from conftest import write_tiny_project

# Small and quick: 2 epochs, a tiny encoder; pruning from the first epoch after one trial.
TUNE_SECTION = """\
tune:
  pruning: {startup_trials: 1, warmup_epochs: 0}
  space:
    model.encoder.units: {choices: [4, 8]}
    training.learning_rate: {low: 0.003, high: 0.03, log: true}
"""


def write_tune_project(folder: Path, tune: str = TUNE_SECTION, epochs: int = 2) -> Path:
    """The tiny splits, and a config with `tune` (YAML text) that trains in seconds."""
    config = write_tiny_project(folder)
    text = config.read_text(encoding="utf-8").replace("epochs: 3", f"epochs: {epochs}")
    text += "  html_report: false\n" + tune
    config.write_text(text, encoding="utf-8")
    return config


def trial_states(tune_dir: Path) -> list[str]:
    """The study's trials' states, by trial number, as stored in study.db."""
    connection = sqlite3.connect(tune_dir / "study.db")
    try:
        rows = connection.execute("SELECT number, state FROM trials ORDER BY number").fetchall()
    finally:
        connection.close()
    return [state for _, state in rows]


def cli_tune(*args: str):
    """`seqcls tune ARGS` in process; returns the CliRunner result."""
    from typer.testing import CliRunner

    from seqcls.cli import app

    return CliRunner().invoke(app, ["tune", *map(str, args)])
