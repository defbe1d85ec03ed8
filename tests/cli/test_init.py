"""`seqcls init` writes a config that validates and trains."""

import json

import yaml
from conftest import labelled_rows, write_csv
from typer.testing import CliRunner

from seqcls.cli import app
from seqcls.config import load_config

runner = CliRunner()


def test_init_fits_columns_task_and_length_to_the_data(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    write_csv(
        data / "train.csv",
        [(f"id{i}", *row) for i, row in enumerate(labelled_rows(60))],
        header=("id", "utterance", "intent"),
    )
    write_csv(
        data / "dev.csv",
        [(f"d{i}", *row) for i, row in enumerate(labelled_rows(12))],
        header=("id", "utterance", "intent"),
    )
    output = tmp_path / "configs" / "mine.yaml"
    output.parent.mkdir()
    result = runner.invoke(app, ["init", "--data", str(data / "train.csv"), "-o", str(output)])
    assert result.exit_code == 0, result.output
    text = output.read_text()
    assert "text_column: utterance    # picked by its name" in text
    assert "label_column: intent" in text and "3 distinct values" in text
    assert "valid: ../data/dev.csv" in text
    config = load_config(output)
    assert config.data.valid == (data / "dev.csv").resolve()
    assert isinstance(config.preprocessing.max_length, int)
    # It trains (briefly) as written.
    run = runner.invoke(
        app,
        [
            "train",
            str(output),
            "--output-dir",
            str(tmp_path / "run"),
            "--set",
            "training.epochs=1",
            "--set",
            "model.embedding.dim=8",
            "--set",
            "model.encoder.units=8",
        ],
    )
    assert run.exit_code == 0, run.output
    assert json.loads((tmp_path / "run" / "labels.json").read_text())["task"] == "multiclass"
    # An existing file is not overwritten without --force.
    assert runner.invoke(app, ["init", "-o", str(output)]).exit_code == 2


def test_init_recognises_tagging_and_multilabel(tmp_path):
    write_csv(
        tmp_path / "tags.csv",
        [("emma went home", "B-PER O O"), ("mr knightley came", "B-PER I-PER O")],
    )
    output = tmp_path / "tags.yaml"
    assert (
        runner.invoke(
            app, ["init", "--data", str(tmp_path / "tags.csv"), "-o", str(output)]
        ).exit_code
        == 0
    )
    config = load_config(output)
    assert config.task == "tagging" and config.preprocessing.strip_punctuation is False
    write_csv(tmp_path / "ml.csv", [("a", "x|y"), ("b", "y"), ("c", "x")])
    output = tmp_path / "ml.yaml"
    assert (
        runner.invoke(
            app, ["init", "--data", str(tmp_path / "ml.csv"), "-o", str(output)]
        ).exit_code
        == 0
    )
    assert load_config(output).task == "multilabel"


def test_init_without_data_writes_a_template(tmp_path):
    output = tmp_path / "c.yaml"
    assert runner.invoke(app, ["init", "-o", str(output)]).exit_code == 0
    raw = yaml.safe_load(output.read_text())
    assert (
        raw["data"]["train"] == "data/train.csv" and raw["model"]["attention"]["type"] == "additive"
    )
