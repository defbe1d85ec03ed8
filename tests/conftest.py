"""Shared fixtures: tiny labelled files written per test, and a config that trains in seconds."""

from __future__ import annotations

import csv
import random
from pathlib import Path

import pytest

# Three intents with distinct vocabularies, so a tiny model can learn them in a few epochs.
TEMPLATES = {
    "card_lost": [
        "i lost my card",
        "my card was stolen yesterday",
        "please block my lost card",
        "someone stole my bank card",
    ],
    "exchange_rate": [
        "what is the exchange rate for euros",
        "how much is the dollar exchange rate",
        "which rate do you use to exchange pounds",
        "exchange rate for yen today",
    ],
    "top_up": [
        "how do i top up my account",
        "my top up failed",
        "top up with a bank transfer",
        "can i top up by cheque",
    ],
}


def labelled_rows(count: int, seed: int = 0) -> list[tuple[str, str]]:
    generator = random.Random(seed)
    fillers = ["", " please", " now", " thanks", " again", " today"]
    rows = []
    for index in range(count):
        label = sorted(TEMPLATES)[index % len(TEMPLATES)]
        text = generator.choice(TEMPLATES[label]) + generator.choice(fillers)
        rows.append((text, label))
    return rows


# Single whitespace-free tokens (product codes, domain names, hashtags), a label per
# product family: what `seqcls init` gives char tokens.
CODE_FAMILIES = {
    "shoe": ("SH-{n}-X", "shoes-{n}.example.com", "#runshoe{n}"),
    "shirt": ("TS-{n}-Y", "shirts-{n}.example.org", "#teeshirt{n}"),
    "hat": ("HT-{n}-Z", "hats-{n}.example.net", "#sunhat{n}"),
}


def code_rows(count: int, seed: int = 0) -> list[tuple[str, str]]:
    """`count` rows of CODE_FAMILIES, each number used once; the rows of two seeds below
    37 share no text."""
    labels = sorted(CODE_FAMILIES)
    rows = []
    for index in range(count):
        label = labels[index % 3]
        pattern = CODE_FAMILIES[label][index // 3 % 3]
        rows.append((pattern.format(n=1000 + 37 * index + seed), label))
    return rows


def write_csv(path: Path, rows, header=("text", "label"), delimiter=",") -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter=delimiter)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_tiny_data(project: Path) -> dict[str, Path]:
    """project/data/{train,valid,test}.csv: the three tiny splits."""
    folder = project / "data"
    folder.mkdir(exist_ok=True)
    return {
        "train": write_csv(folder / "train.csv", labelled_rows(90, seed=1)),
        "valid": write_csv(folder / "valid.csv", labelled_rows(24, seed=2)),
        "test": write_csv(folder / "test.csv", labelled_rows(24, seed=3)),
    }


def write_tiny_project(project: Path) -> Path:
    """The tiny splits and TINY_CONFIG beside them; returns the config's path."""
    write_tiny_data(project)
    path = project / "config.yaml"
    path.write_text(TINY_CONFIG, encoding="utf-8")
    return path


@pytest.fixture
def tiny_data(tmp_path: Path) -> dict[str, Path]:
    return write_tiny_data(tmp_path)


TINY_CONFIG = """\
name: tiny-test
seed: 0
data:
  train: data/train.csv
  valid: data/valid.csv
  test: data/test.csv
preprocessing:
  max_length: 12
model:
  embedding: {dim: 8}
  encoder: {units: 8}
training:
  epochs: 3
  batch_size: 16
  learning_rate: 0.01
output:
  plots: false  # drawing costs seconds per run; tests/reporting/test_plots.py turns it on
"""


@pytest.fixture
def tiny_config(tmp_path: Path, tiny_data) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(TINY_CONFIG, encoding="utf-8")
    return path


# The shared run's overrides: deterministic and with dropout, so that
# test_cli_same_config_and_seed_give_identical_metrics can repeat it exactly.
TRAINED_RUN_OVERRIDES = (
    "training.epochs=8",
    "training.deterministic=true",
    "model.embedding.dropout=0.2",
)


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory):
    """One tiny training run shared by tests in several modules (training is the slow
    part): (project folder, run directory, the CLI result). Tests only read it."""
    folder = tmp_path_factory.mktemp("project")
    write_tiny_project(folder)
    run_dir = folder / "run"
    result = cli_train(folder / "config.yaml", run_dir, *TRAINED_RUN_OVERRIDES)
    assert result.exit_code == 0, result.output
    return folder, run_dir, result


def cli_train(config, run_dir, *overrides: str, options: tuple[str, ...] = ()):
    """`seqcls train CONFIG --output-dir RUN_DIR [OPTIONS] --set OVERRIDE ...` in process;
    returns the CliRunner result."""
    from typer.testing import CliRunner

    from seqcls.cli import app

    args = ["train", str(config), "--output-dir", str(run_dir), *options]
    for override in overrides:
        args += ["--set", override]
    return CliRunner().invoke(app, args)
