"""The study in DIR/study.db: `--resume` refuses a directory that is not a study, a
database that is not Optuna's, a CONFIG that describes another search, and a directory
another `seqcls tune` holds (exit 2, nothing overwritten); trials a killed process left
running are marked failed, never counted as finished."""

from __future__ import annotations

import sqlite3

import pytest
from tuning_helpers import cli_tune, trial_states, write_tune_project

from seqcls.config import load_config
from seqcls.errors import ConfigError, UsageError
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


def test_study_a_crash_while_it_is_created_leaves_no_half_made_study(tmp_path, monkeypatch):
    """Optuna makes a study in several transactions and seqcls records its search after:
    cut short in between (here: Ctrl-C before the record), no study.db is left that
    `--resume` would refuse and a new search would call taken; the same directory then
    takes a new search."""
    import optuna

    from seqcls.tuning.search import _refuse_used
    from seqcls.tuning.study import PARTIAL_FILE

    search = make_search(load_config(write_tune_project(tmp_path)), 3)
    tune_dir = tmp_path / "tune"
    tune_dir.mkdir()

    def cut_short(self, key, value):
        raise KeyboardInterrupt

    monkeypatch.setattr(optuna.study.Study, "set_user_attr", cut_short)
    with pytest.raises(KeyboardInterrupt):
        create_study(tune_dir, search)
    monkeypatch.undo()
    assert not (tune_dir / "study.db").exists()
    assert (tune_dir / PARTIAL_FILE).is_file()  # the aside copy, never read as a study
    # A journal a crash in mid-transaction leaves: not replayed into the new study.
    (tune_dir / (PARTIAL_FILE + "-journal")).write_bytes(b"\0" * 512)
    _refuse_used(tune_dir)  # a new search may use the directory
    create_study(tune_dir, search)
    assert sorted(path.name for path in tune_dir.iterdir()) == ["study.db"]
    _, recorded = load_study(tune_dir)
    assert recorded.record() == search.record()


def test_study_creating_never_replaces_a_study(study_dir):
    tune_dir, config_path = study_dir
    before = (tune_dir / "study.db").read_bytes()
    other = make_search(load_config(config_path), 7)
    with pytest.raises(UsageError, match="already holds a search"):
        create_study(tune_dir, other)
    assert (tune_dir / "study.db").read_bytes() == before
    assert load_study(tune_dir)[1].trials == 3


def test_study_default_pruner_lets_every_trial_train_three_epochs(tmp_path):
    """tune.pruning's default warmup: a trial far below the median of the trials before
    it is not pruned in epochs 1 to 3, and is at the end of epoch 4."""
    import optuna

    from seqcls.tuning.search import _describe
    from seqcls.tuning.study import sampler_and_pruner

    search = make_search(load_config(write_tune_project(tmp_path, tune="")), 10)
    assert search.tune.pruning.warmup_epochs == 3
    _, pruner = sampler_and_pruner(search, 0)
    study = optuna.create_study(direction="maximize", pruner=pruner)
    for _ in range(search.tune.pruning.startup_trials):
        good = {epoch: 0.9 for epoch in range(1, 7)}
        study.add_trial(optuna.trial.create_trial(value=0.9, intermediate_values=good))
    trial = study.ask()
    pruned = []
    for epoch in range(1, 6):
        trial.report(0.1, step=epoch)
        pruned.append(trial.should_prune())
    assert pruned == [False, False, False, True, True]
    assert "from epoch 4" in _describe(search, 0)
