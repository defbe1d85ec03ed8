"""runs/<name>-latest: a relative link to the last run finished in the default place,
replaced atomically, never over something of the user's; eval and predict take it as
RUN_DIR."""

from __future__ import annotations

import os

import pytest
from conftest import write_tiny_project
from typer.testing import CliRunner

from seqcls.cli import app
from seqcls.run.directory import link_latest


def test_directory_link_latest_is_relative_and_moves_to_the_newest_run(tmp_path):
    runs = tmp_path / "runs"
    first, second = runs / "tiny-20260101-000000", runs / "tiny-20260102-000000"
    for run in (first, second):
        run.mkdir(parents=True)
        (run / "marker").write_text(run.name)
    link = link_latest(first, "tiny")
    assert link == runs / "tiny-latest" and os.readlink(link) == first.name
    assert link_latest(second, "tiny") == link
    assert os.readlink(link) == second.name and (link / "marker").read_text() == second.name
    # Relative: the folder of runs can move, and the link still names its run.
    moved = tmp_path / "moved"
    runs.rename(moved)
    assert (moved / "tiny-latest" / "marker").read_text() == second.name
    # No temporary link is left beside it.
    assert sorted(p.name for p in moved.iterdir()) == [first.name, second.name, "tiny-latest"]


def test_directory_link_latest_never_replaces_a_folder_or_file_of_the_users(tmp_path):
    run = tmp_path / "tiny-20260101-000000"
    run.mkdir()
    mine = tmp_path / "tiny-latest"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    assert link_latest(run, "tiny") is None
    assert (mine / "notes.txt").read_text() == "mine" and not mine.is_symlink()
    mine_file = tmp_path / "other-latest"
    mine_file.write_text("mine")
    assert link_latest(run, "other") is None and mine_file.read_text() == "mine"


@pytest.mark.slow  # moved out of the default suite (over 5 s): .ci/run runs it
def test_directory_train_links_the_latest_run_and_predict_takes_the_link(tmp_path, monkeypatch):
    config = write_tiny_project(tmp_path)
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    result = runner.invoke(app, ["train", str(config), "--set", "training.epochs=1", "-q"])
    assert result.exit_code == 0, result.output
    [run] = [p for p in (tmp_path / "runs").iterdir() if not p.is_symlink()]
    link = tmp_path / "runs" / "tiny-test-latest"
    assert os.readlink(link) == run.name
    assert f"latest run: {os.path.join('runs', 'tiny-test-latest')}" in result.stdout
    predicted = runner.invoke(
        app, ["predict", "runs/tiny-test-latest", "-"], input="i lost my card\n"
    )
    assert predicted.exit_code == 0, predicted.output
    assert predicted.stdout.splitlines()[0] == "text,predicted_label,predicted_probability"
    # A run given its own --output-dir is the user's to name: no link for it.
    other = tmp_path / "elsewhere"
    result = runner.invoke(
        app, ["train", str(config), "-o", str(other), "--set", "training.epochs=1", "-q"]
    )
    assert result.exit_code == 0, result.output
    assert os.readlink(link) == run.name and not (tmp_path / "tiny-test-latest").exists()


def test_directory_a_failed_smoke_run_leaves_no_temporary_folder(tmp_path, monkeypatch):
    import tempfile

    config = write_tiny_project(tmp_path)
    (tmp_path / "data" / "train.csv").write_text(
        "text,label\nonly one label here,a\nand again,a\n", encoding="utf-8"
    )
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    result = CliRunner().invoke(app, ["train", str(config), "--smoke"])
    assert result.exit_code == 3, result.output  # a data error found after the folder was made
    assert "run directory: " + str(scratch) in result.output
    assert list(scratch.iterdir()) == []
