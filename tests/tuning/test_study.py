"""The study in DIR/study.db: `--resume` refuses a directory that is not a study, a
database that is not Optuna's, a CONFIG that describes another search, and a directory
another `seqcls tune` holds (exit 2, nothing overwritten); trials a killed process left
running are marked failed, never counted as finished."""

from __future__ import annotations

import sqlite3

import pytest
from tuning_helpers import cli_tune, trial_states, write_tune_project

from seqcls.config import load_config
from seqcls.errors import ConfigError
from seqcls.run.directory import LOCK_FILE, RunLock
from seqcls.tuning.study import (
    check_same_search,
    create_study,
    fail_unfinished,
    load_study,
    make_search,
)


@pytest.fixture
def study_dir(tmp_path):
    """A tune directory whose study has the search recorded and no trial yet (made
    without training), and its config."""
    config_path = write_tune_project(tmp_path)
    search = make_search(load_config(config_path), 3)
    tune_dir = tmp_path / "tune"
    tune_dir.mkdir()
    create_study(tune_dir, search)
    return tune_dir, config_path


def test_study_resume_refuses_a_directory_without_a_study(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    result = cli_tune("--resume", tmp_path)
    assert result.exit_code == 2, result.output
    assert "is not a seqcls tune directory (no study.db in it)" in result.output
    assert sorted(path.name for path in tmp_path.iterdir()) == ["notes.txt"]
    missing = cli_tune("--resume", tmp_path / "nowhere")
    assert missing.exit_code == 2 and not (tmp_path / "nowhere").exists()


@pytest.mark.parametrize("kind", ["other database", "not a database"])
def test_study_resume_refuses_a_database_that_is_not_a_study(tmp_path, kind):
    path = tmp_path / "study.db"
    if kind == "other database":
        connection = sqlite3.connect(path)
        connection.execute("CREATE TABLE accounts (name TEXT)")
        connection.commit()
        connection.close()
    else:
        path.write_bytes(b"these are not the tables you are looking for\n" * 20)
    before = path.read_bytes()
    result = cli_tune("--resume", tmp_path)
    assert result.exit_code == 2, result.output
    assert "is not a seqcls study" in result.output
    assert path.read_bytes() == before
    assert not (tmp_path / LOCK_FILE).exists()


def test_study_resume_refuses_another_search_space(study_dir, tmp_path):
    tune_dir, config_path = study_dir
    other = tmp_path / "other.yaml"
    text = config_path.read_text().replace("choices: [4, 8]", "choices: [4, 8, 16]")
    other.write_text(text)
    before = (tune_dir / "study.db").read_bytes()
    result = cli_tune(other, "--resume", tune_dir)
    assert result.exit_code == 2, result.output
    assert "CONFIG describes another search than the study" in result.output
    assert "(tune.space differ)" in result.output
    assert (tune_dir / "study.db").read_bytes() == before


def test_study_resume_accepts_the_same_search_and_names_other_differences(study_dir):
    tune_dir, config_path = study_dir
    _, recorded = load_study(tune_dir)
    check_same_search(recorded, make_search(load_config(config_path), 40), tune_dir)
    changed = load_config(config_path, ["training.batch_size=8"])
    with pytest.raises(ConfigError, match=r"training\.batch_size differ"):
        check_same_search(recorded, make_search(changed, 3), tune_dir)


def test_study_resume_refuses_a_directory_in_use(study_dir):
    tune_dir, _ = study_dir
    lock = RunLock.take(tune_dir)
    try:
        result = cli_tune("--resume", tune_dir)
    finally:
        lock.release()
    assert result.exit_code == 2, result.output
    assert "another seqcls tune is using" in result.output


def test_study_trials_left_running_are_marked_failed(study_dir):
    tune_dir, _ = study_dir
    study, _ = load_study(tune_dir)
    study.ask()  # a trial whose process is killed: RUNNING forever
    assert trial_states(tune_dir) == ["RUNNING"]
    resumed, search = load_study(tune_dir)
    assert search.trials == 3 and search.metric == "val_loss"
    assert fail_unfinished(resumed) == [0]
    assert trial_states(tune_dir) == ["FAIL"]


def test_study_a_missing_test_file_is_said_before_any_trial(tmp_path):
    """The best trial is evaluated on data.test at the end: a wrong path is a data error
    (exit 3) before the search starts, not after hours of trials; nothing is written."""
    from tuning_helpers import cli_tune, write_tune_project

    (tmp_path / "project").mkdir()
    config = write_tune_project(tmp_path / "project")
    (tmp_path / "project" / "data" / "test.csv").unlink()
    result = cli_tune(config, "--trials", "1", "--output-dir", tmp_path / "tune")
    assert result.exit_code == 3, result.output
    assert "data.test" in result.output and "remove data.test" in result.output
    assert not (tmp_path / "tune").exists()
