"""A training's input files are checked before TensorFlow starts or a run directory is
made: a missing, unreadable or misnamed file fails at once (exit 3, as the full read
would), names its config key, and leaves no directory behind."""

from __future__ import annotations

import pytest
from conftest import cli_train, write_tiny_project
from typer.testing import CliRunner

from seqcls.cli import app
from seqcls.config import load_config
from seqcls.data.preflight import check_input_files
from seqcls.errors import DataError


def test_preflight_names_the_key_of_a_missing_file_folder_pattern_or_column(tmp_path):
    config_path = write_tiny_project(tmp_path)
    check_input_files(load_config(config_path))  # the tiny project reads
    data = tmp_path / "data"
    cases = {
        f"data.test={data / 'nope.csv'}": r"data\.test: data file not found: .*nope\.csv",
        f"data.valid={data}": r"data\.valid: .* is a folder, not a file",
        f"data.train={data / 'part-*.csv'}": r"data\.train: no file matches the pattern",
        "data.label_column=intent": r"label column 'intent' not found in .*train\.csv.*"
        r"set data\.label_column",
        f"model.embedding.pretrained={tmp_path / 'vectors.txt'}": (
            r"model\.embedding\.pretrained: pretrained vectors not found"
        ),
    }
    for override, message in cases.items():
        with pytest.raises(DataError, match=message):
            check_input_files(load_config(config_path, [override]))


def test_preflight_a_missing_train_file_leaves_no_run_directory(tmp_path, monkeypatch):
    config = write_tiny_project(tmp_path)
    (tmp_path / "data" / "train.csv").unlink()
    run_dir = tmp_path / "new" / "run"
    result = cli_train(config, run_dir)
    assert result.exit_code == 3, result.output
    assert "data.train: data file not found" in result.output
    assert "run directory" not in result.output  # none was named, none was made
    assert not (tmp_path / "new").exists()
    # The default place too: no runs/ folder appears.
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["train", str(config)])
    assert result.exit_code == 3 and not (tmp_path / "runs").exists()
    # A directory the user had stays, empty as it was.
    mine = tmp_path / "mine"
    mine.mkdir()
    assert cli_train(config, mine).exit_code == 3
    assert mine.is_dir() and not list(mine.iterdir())
