"""Nothing a user owns is lost: outputs never land on inputs or on a run's own files,
`--force` replaces only what seqcls wrote, overwritten files keep their mode, a failed
start leaves nothing behind, and the machine's own errors (a full disk, a read-only
target) get a message instead of a traceback.

Each case uses real files (symlinks and hard links included) and the real CLI.
"""

from __future__ import annotations

import hashlib
import os
import resource
import shutil
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import cli_train, write_tiny_project
from typer.testing import CliRunner

from seqcls.cli import app
from seqcls.errors import UsageError
from seqcls.run import artifacts, destinations, readers
from seqcls.run import directory as run_directory


def run_cli(*args: str):
    return CliRunner().invoke(app, [str(arg) for arg in args])


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under `folder` with the digest of its bytes."""
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


@pytest.fixture
def own_run(trained_run, tmp_path):
    """A copy of the session's tiny run (these tests may try to damage it) and its data."""
    project, run_dir, _ = trained_run
    copy = tmp_path / "runs" / "tiny"
    shutil.copytree(run_dir, copy)
    (copy / "notes.txt").write_text("my notes about this run\n", encoding="utf-8")
    return copy, project / "data" / "test.csv"


# ------------------------------------------------------- outputs never replace inputs


def same_file_names(target: Path, tmp_path: Path) -> list[Path]:
    """Other names of `target`: ./relative, a/../ detour, a symlink, a hard link."""
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    hard = tmp_path / "hard.csv"
    os.link(target, hard)
    relative = Path(os.path.relpath(target))
    detour = target.parent / ".." / target.parent.name / target.name
    return [target, Path("./") / relative, detour, link, hard]


def test_eval_refuses_to_write_over_its_data_file_however_named(own_run, tmp_path):
    run_dir, data = own_run
    mine = tmp_path / "labelled.csv"
    shutil.copy(data, mine)
    before = mine.read_bytes()
    for name in same_file_names(mine, tmp_path):
        result = run_cli("eval", run_dir, mine, "--output", name)
        assert result.exit_code == 2, (name, result.output)
        assert "data file" in result.output and "destroy" in result.output
        assert mine.read_bytes() == before
    assert not list(run_dir.glob("eval-*"))  # refused before anything was computed


def test_eval_refuses_to_write_over_the_runs_own_files(own_run):
    run_dir, data = own_run
    before = snapshot(run_dir)
    for name in ("model.keras", "config.yaml", "checkpoints/best.keras", "labels.json"):
        result = run_cli("eval", run_dir, data, "--output", run_dir / name)
        assert result.exit_code == 2, (name, result.output)
        assert "would damage the run" in result.output
    # The run's training data is protected too, even though eval does not read it here.
    train_file = data.parent / "train.csv"
    result = run_cli("eval", run_dir, data, "--output", train_file)
    assert result.exit_code == 2 and "trained from" in result.output
    assert snapshot(run_dir) == before


def test_predict_refuses_to_write_over_its_input_or_the_run(own_run, tmp_path):
    run_dir, data = own_run
    mine = tmp_path / "in.csv"
    shutil.copy(data, mine)
    before = mine.read_bytes()
    run_before = snapshot(run_dir)
    for name in same_file_names(mine, tmp_path):
        for option in ("--output", "--html"):
            result = run_cli("predict", run_dir, mine, option, name)
            assert result.exit_code == 2, (option, name, result.output)
            assert "input file" in result.output
    result = run_cli(
        "predict", run_dir, mine, "--output", run_dir / "vocabulary.json", "--format", "jsonl"
    )
    assert result.exit_code == 2 and "would damage the run" in result.output
    # Two outputs of one command naming one file: the second would replace the first.
    result = run_cli(
        "predict", run_dir, mine, "-o", tmp_path / "x.csv", "--html", tmp_path / "x.csv"
    )
    assert result.exit_code == 2 and "same file" in result.output
    assert mine.read_bytes() == before
    assert snapshot(run_dir) == run_before


def test_predict_writes_beside_the_run_files_and_keeps_user_files_in_it(own_run, tmp_path):
    """The guard is not a blanket refusal: a new file in the run, or a user's own file
    in it that is not an input, may be written."""
    run_dir, data = own_run
    result = run_cli("predict", run_dir, data, "--output", run_dir / "preds.csv")
    assert result.exit_code == 0, result.output
    assert (run_dir / "preds.csv").read_text(encoding="utf-8").startswith("text,label,")


def test_init_refuses_to_replace_the_data_it_reads(tmp_path):
    data = write_tiny_project(tmp_path)
    train = tmp_path / "data" / "train.csv"
    before = train.read_bytes()
    result = run_cli("init", "--data", train, "-o", train, "--force")
    assert result.exit_code == 2 and "data file" in result.output
    assert train.read_bytes() == before
    assert data.is_file()


# ------------------------------------------------------------------- export --force


def test_export_force_never_deletes_the_run_or_a_folder_of_runs(own_run, tmp_path):
    run_dir, _ = own_run
    (tmp_path / "runs" / "my-list.txt").write_text("runs I care about\n", encoding="utf-8")
    runs_before = snapshot(tmp_path / "runs")
    for target in (run_dir, run_dir.parent, tmp_path, run_dir / "checkpoints", run_dir / "x"):
        result = run_cli("export", run_dir, "--output", target, "--force")
        assert result.exit_code == 2, (target, result.output)
        assert snapshot(tmp_path / "runs") == runs_before
    # A folder of the user's, even outside any run: --force replaces exports only.
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "important.txt").write_text("keep me\n", encoding="utf-8")
    result = run_cli("export", run_dir, "--output", mine, "--force")
    assert result.exit_code == 2 and "not a previous seqcls export" in result.output
    assert (mine / "important.txt").read_text(encoding="utf-8") == "keep me\n"
    # A file where the folder would go.
    afile = tmp_path / "file.txt"
    afile.write_text("x", encoding="utf-8")
    result = run_cli("export", run_dir, "--output", afile, "--force")
    assert result.exit_code == 2 and afile.read_text(encoding="utf-8") == "x"


def test_export_force_replaces_a_previous_export_only(own_run, tmp_path):
    run_dir, _ = own_run
    target = tmp_path / "served"
    first = run_cli("export", run_dir, "--output", target)
    assert first.exit_code == 0, first.output
    assert (target / "export.json").is_file()
    again = run_cli("export", run_dir, "--output", target)
    assert again.exit_code == 2 and "--force" in again.output
    record = artifacts.read_json(target / "export.json")
    artifacts.write_json(target / "export.json", {**record, "format": "old"})  # old from new
    # A file of the user's deep inside the previous export: not replaced, even with --force.
    note = target / "assets" / "NOTES.txt"
    note.parent.mkdir(exist_ok=True)
    note.write_text("mine\n", encoding="utf-8")
    refused = run_cli("export", run_dir, "--output", target, "--force")
    assert refused.exit_code == 2 and "assets/NOTES.txt" in refused.output
    assert note.read_text(encoding="utf-8") == "mine\n"
    note.unlink()
    forced = run_cli("export", run_dir, "--output", target, "--force")
    assert forced.exit_code == 0, forced.output
    assert artifacts.read_json(target / "export.json")["format"] == "saved_model"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".served.")]  # no staging


def test_export_destination_rules_without_a_model():
    """The rules on their own (no export is run): what --force may replace."""
    check = destinations.check_export_destination
    folder = Path(os.environ.get("TMPDIR", "/tmp")) / f"seqcls-export-rules-{os.getpid()}"
    run_dir = folder / "run"
    previous = folder / "previous"
    try:
        for path in (run_dir, previous):
            path.mkdir(parents=True)
        (previous / "saved_model.pb").write_bytes(b"")
        artifacts.write_json(previous / "export.json", {"files": ["export.json", "saved_model.pb"]})
        check(previous, run_dir, force=True)  # a previous export: allowed
        with pytest.raises(UsageError, match="--force"):
            check(previous, run_dir, force=False)
        (previous / "notes.md").write_text("mine", encoding="utf-8")
        with pytest.raises(UsageError, match="notes.md"):
            check(previous, run_dir, force=True)
        check(run_dir / "export" / "onnx", run_dir, force=False)  # the default place
        with pytest.raises(UsageError, match="holds the run"):
            check(folder, run_dir, force=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# ---------------------------------------------------- overwritten files keep their mode


def test_atomic_write_keeps_the_mode_of_the_file_it_replaces(tmp_path):
    private = tmp_path / "preds.csv"
    private.write_text("old\n", encoding="utf-8")
    private.chmod(0o600)
    artifacts.write_text(private, "new\n")
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert private.read_text(encoding="utf-8") == "new\n"
    shared = tmp_path / "shared.csv"
    shared.write_text("old\n", encoding="utf-8")
    shared.chmod(0o664)
    artifacts.write_text(shared, "new\n")
    assert stat.S_IMODE(shared.stat().st_mode) == 0o664


def test_atomic_write_through_a_symlink_replaces_its_target_and_keeps_the_link(tmp_path):
    real = tmp_path / "elsewhere" / "preds.csv"
    real.parent.mkdir()
    real.write_text("old\n", encoding="utf-8")
    real.chmod(0o640)
    link = tmp_path / "preds.csv"
    link.symlink_to(real)
    artifacts.write_text(link, "new\n")
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_text(encoding="utf-8") == "new\n"
    assert stat.S_IMODE(real.stat().st_mode) == 0o640
    with pytest.raises(UsageError, match="is a directory"):
        artifacts.write_text(tmp_path / "elsewhere", "x")


def test_predict_over_a_private_predictions_file_keeps_it_private(own_run, tmp_path):
    run_dir, data = own_run
    preds = tmp_path / "preds.csv"
    preds.write_text("old\n", encoding="utf-8")
    preds.chmod(0o600)
    result = run_cli("predict", run_dir, data, "--output", preds)
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(preds.stat().st_mode) == 0o600
    assert preds.read_text(encoding="utf-8").startswith("text,label,predicted_label")


# ------------------------------------------------------- train --output-dir --force


def previous_run(folder: Path) -> Path:
    """A directory as a previous (multilabel) run left it, plus the user's own files."""
    folder.mkdir(parents=True)
    for name in (
        "config.yaml",
        "labels.json",
        "model.keras",
        "thresholds.json",
        "metrics.json",
        "eval-test.json",
    ):
        (folder / name).write_text(f"previous {name}\n", encoding="utf-8")
    artifacts.write_json(folder / "manifest.json", {"seqcls_version": "0.1.0"})
    (folder / "checkpoints").mkdir()
    (folder / "checkpoints" / "epoch-0003.keras").write_bytes(b"old")
    (folder / ".model.keras.abc12_34.keras").write_bytes(b"")  # a crash's leftover
    # The user's: a note, a backup in checkpoints/, an editor's swap file.
    (folder / "notes.txt").write_text("mine\n", encoding="utf-8")
    (folder / "checkpoints" / "my-backup.keras").write_bytes(b"mine")
    (folder / ".config.yaml.swp").write_bytes(b"mine")
    return folder


def test_force_replaces_every_file_of_the_previous_run_and_keeps_the_users(tmp_path):
    config = write_tiny_project(tmp_path)
    run_dir = previous_run(tmp_path / "run")
    result = cli_train(config, run_dir, "training.epochs=1", options=("--force",))
    assert result.exit_code == 0, result.output
    names = {path.name for path in run_dir.iterdir()}
    assert "thresholds.json" not in names and "eval-test.json" not in names
    assert [name for name in names if name.startswith(".")] == [".config.yaml.swp"]
    assert not (run_dir / "checkpoints" / "epoch-0003.keras").exists()
    assert (run_dir / "notes.txt").read_text(encoding="utf-8") == "mine\n"
    assert (run_dir / "checkpoints" / "my-backup.keras").read_bytes() == b"mine"
    for kept in ("notes.txt", "checkpoints/my-backup.keras", ".config.yaml.swp"):
        assert kept in result.output  # each kept file is named
    assert ".seqcls-replaced" not in result.output
    predicted = run_cli("predict", run_dir, tmp_path / "data" / "test.csv")
    assert predicted.exit_code == 0, predicted.output


def test_force_is_refused_for_a_folder_that_is_not_a_run(tmp_path):
    config = write_tiny_project(tmp_path)
    before = snapshot(tmp_path)
    # The project folder itself: the user's config and data, no run.
    result = cli_train(config, tmp_path, options=("--force",))
    assert result.exit_code == 2, result.output
    assert "holds no seqcls run" in result.output
    assert snapshot(tmp_path) == before
    # File names alone do not make a run: the user's own labels.json and model.keras.
    (tmp_path / "labels.json").write_text('{"mine": true}\n', encoding="utf-8")
    (tmp_path / "model.keras").write_bytes(b"my own model")
    before = snapshot(tmp_path)
    result = cli_train(config, tmp_path, options=("--force",))
    assert result.exit_code == 2 and "holds no seqcls run" in result.output
    assert snapshot(tmp_path) == before


def test_force_refuses_while_a_previous_run_is_set_aside(tmp_path):
    """A kill -9 during a forced start leaves the previous run parked: the next --force
    must not delete it, and says how to put it back."""
    config = write_tiny_project(tmp_path)
    run_dir = previous_run(tmp_path / "run")
    prepared = run_directory.prepare_run_dir(run_dir, force=True)
    os.close(prepared.lock.descriptor)  # ... and the process dies: its lock goes, the file stays
    before = snapshot(run_dir)
    before.pop(run_directory.LOCK_FILE)  # the stale lock file: taken and removed, nothing else
    result = cli_train(config, run_dir, options=("--force",))
    assert result.exit_code == 2 and "interrupted `train --force`" in result.output
    assert snapshot(run_dir) == before


def test_force_refuses_when_the_config_is_a_file_it_would_replace(tmp_path):
    write_tiny_project(tmp_path)
    run_dir = previous_run(tmp_path / "run")
    config = run_dir / "config.yaml"
    shutil.copy(tmp_path / "config.yaml", config)
    (tmp_path / "run" / "data").symlink_to(tmp_path / "data")
    before = snapshot(run_dir)
    result = cli_train(config, run_dir, options=("--force",))
    assert result.exit_code == 2 and "copy it elsewhere" in result.output
    assert snapshot(run_dir) == before


def test_a_failed_start_leaves_nothing_behind(tmp_path):
    config = write_tiny_project(tmp_path)
    (tmp_path / "data" / "train.csv").write_text(
        "text,label\nonly one label here,a\nand again,a\n", encoding="utf-8"
    )
    new = tmp_path / "new-run"
    result = cli_train(config, new)
    assert result.exit_code == 3, result.output
    assert not new.exists()
    nested = tmp_path / "made" / "for" / "it"
    assert cli_train(config, nested).exit_code == 3
    assert not (tmp_path / "made").exists()  # the folders made for it go too
    # Over a previous run with --force: the previous run comes back untouched.
    run_dir = previous_run(tmp_path / "run")
    before = snapshot(run_dir)
    result = cli_train(config, run_dir, options=("--force",))
    assert result.exit_code == 3, result.output
    assert snapshot(run_dir) == before
    assert sorted(p.name for p in run_dir.iterdir() if p.name.startswith(".seqcls")) == []
    # And the rerun after fixing the data is not refused as "not empty".
    write_tiny_project(tmp_path)
    result = cli_train(config, new, "training.epochs=1")
    assert result.exit_code == 0, result.output


def test_prepare_run_dir_rollback_and_commit(tmp_path):
    run_dir = previous_run(tmp_path / "run")
    before = snapshot(run_dir)
    started = run_directory.prepare_run_dir(run_dir, force=True)
    assert sorted(p.name for p in run_dir.iterdir() if not p.name.startswith(".seqcls")) == [
        ".config.yaml.swp",
        "checkpoints",
        "notes.txt",
    ]
    assert [p.name for p in (run_dir / "checkpoints").iterdir()] == ["my-backup.keras"]
    (run_dir / "config.yaml").write_text("new\n", encoding="utf-8")
    started.rollback()
    assert snapshot(run_dir) == before
    started = run_directory.prepare_run_dir(run_dir, force=True)
    started.commit()
    started.release()
    assert sorted(p.name for p in run_dir.iterdir()) == [
        ".config.yaml.swp",
        "checkpoints",
        "notes.txt",
    ]
    with pytest.raises(UsageError, match="not empty"):
        run_directory.prepare_run_dir(previous_run(tmp_path / "other"), force=False)
    afile = tmp_path / "afile"
    afile.write_text("x", encoding="utf-8")
    with pytest.raises(UsageError, match="is a file"):
        run_directory.prepare_run_dir(afile / "run", force=False)


# ------------------------------------------------ the machine's errors, not tracebacks


def _seqcls(*args, limit_bytes: int | None = None, **kwargs):
    def limit():
        if limit_bytes is not None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of a kill
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))

    return subprocess.run(
        [sys.executable, "-m", "seqcls", *map(str, args)],
        capture_output=True,
        text=True,
        preexec_fn=limit,
        timeout=300,
        **kwargs,
    )


@pytest.mark.slow  # moved out of the default suite (over 5 s): .ci/run runs it
def test_a_full_disk_and_an_unwritable_target_get_a_message_not_a_traceback(own_run, tmp_path):
    run_dir, data = own_run
    preds = tmp_path / "preds.csv"
    preds.write_text("the previous predictions\n", encoding="utf-8")
    many = tmp_path / "many.csv"
    many.write_text(data.read_text(encoding="utf-8") * 100, encoding="utf-8")
    # A file-size limit makes every write past 100 kB fail as a full disk would (the
    # model, unpacked when loaded, stays under it; 2,400 predictions do not).
    result = _seqcls("predict", run_dir, many, "--output", preds, limit_bytes=100_000)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr and "File too large" in result.stderr
    assert str(preds) in result.stderr.replace("\n", "")  # the file the user asked for
    assert preds.read_text(encoding="utf-8") == "the previous predictions\n"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".preds")) == []
    # sysfs refuses new files even to root: a real unwritable folder.
    result = run_cli("eval", run_dir, data, "--output", "/sys/seqcls-eval.json")
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and "/sys" in result.output
    assert "Permission denied" in result.output and "/sys/seqcls-eval.json" in result.output
    assert "accuracy" in result.output  # the figures were shown before the write failed


SIGTERM_INSIDE_A_WRITE = """
import os, signal, sys, time
from pathlib import Path
from seqcls.run import artifacts
from seqcls.cli import handle_errors

@handle_errors
def write():
    with artifacts.atomic_path(Path(sys.argv[1])) as temporary:
        temporary.write_text("half of it", encoding="utf-8")
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(30)

try:
    write()
except Exception as stop:  # typer.Exit, as the CLI's app would turn it into an exit code
    sys.exit(stop.exit_code)
"""


def test_sigterm_during_a_write_leaves_the_old_file_and_no_temporary(tmp_path):
    """The commands' SIGTERM handling unwinds like Ctrl-C: the temporary file of a write
    in progress is removed and the file it would replace is untouched (exit 143)."""
    target = tmp_path / "preds.csv"
    target.write_text("previous\n", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-c", SIGTERM_INSIDE_A_WRITE, str(target)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 143, result.stderr
    assert "terminated" in result.stderr
    assert [path.name for path in tmp_path.iterdir()] == ["preds.csv"]
    assert target.read_text(encoding="utf-8") == "previous\n"


def test_no_command_writes_over_the_files_of_another_run(own_run, tmp_path):
    run_dir, data = own_run
    other = tmp_path / "runs" / "other"
    shutil.copytree(run_dir, other)
    before = snapshot(other)
    result = run_cli("predict", run_dir, data, "-o", other / "history.csv")
    assert result.exit_code == 2 and "would damage the run" in result.output
    assert str(other) in result.output
    for name in ("model.keras", "config.yaml", "checkpoints/state.json"):
        result = run_cli("init", "-o", other / name, "--force")
        assert result.exit_code == 2, (name, result.output)
    assert snapshot(other) == before


def test_files_a_run_was_trained_from_are_protected_shards_and_vectors_too(own_run, tmp_path):
    """Data named by a pattern (every file it matches) and the pretrained vectors."""
    run_dir, data = own_run
    shards = tmp_path / "shards"
    shards.mkdir()
    for index in (1, 2):
        shutil.copy(data, shards / f"dev-{index}.csv")
    vectors = tmp_path / "vectors.txt"
    vectors.write_text("card 0.1 0.2\n", encoding="utf-8")
    config = readers.read_run_yaml(run_dir, artifacts.CONFIG_FILE)
    config["data"]["valid"] = str(shards / "dev-*.csv")
    config["model"]["embedding"]["pretrained"] = str(vectors)
    import yaml

    (run_dir / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    for target in (shards / "dev-2.csv", vectors):
        with pytest.raises(UsageError, match="was trained from"):
            destinations.check_destination(target, "--output", [], run_dir)


def test_special_files_are_written_into_not_replaced(own_run, tmp_path):
    """A FIFO (or a device, or /dev/stdout) stays what it is: predict writes into it."""
    import threading

    run_dir, data = own_run
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(
        target=lambda: received.append(fifo.read_text(encoding="utf-8")), daemon=True
    )
    reader.start()
    result = run_cli("predict", run_dir, data, "-o", fifo, "--format", "csv")
    reader.join(timeout=60)
    assert result.exit_code == 0, result.output
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert received and received[0].startswith("text,label,predicted_label")
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_a_replaced_file_keeps_its_group(tmp_path):
    target = tmp_path / "shared.csv"
    target.write_text("old\n", encoding="utf-8")
    group = next(g for g in (1, 2, 3, 100, 1000) if g != os.getgid())
    try:
        os.chown(target, -1, group)
    except PermissionError:
        pytest.skip("this user may not change a file's group")
    artifacts.write_text(target, "new\n")
    assert target.stat().st_gid == group


def test_html_to_stdout_is_refused_not_written_to_a_file_named_dash(own_run, tmp_path):
    run_dir, data = own_run
    result = run_cli("predict", run_dir, data, "--html", "-")
    assert result.exit_code == 2 and "only for --output" in result.output
    assert not Path("-").exists()


def test_one_training_at_a_time_in_a_run_directory(tmp_path):
    """While a training holds a run directory, a second one (even with --force) is
    refused and changes nothing; a stale lock file left by a killed run blocks nothing."""
    config = write_tiny_project(tmp_path)
    run_dir = previous_run(tmp_path / "run")
    held = run_directory.RunLock.take(run_dir)  # as a training in another process would
    try:
        before = snapshot(run_dir)
        result = cli_train(config, run_dir, "training.epochs=1", options=("--force",))
        assert result.exit_code == 2 and "another seqcls train is writing" in result.output
        assert f"pid {os.getpid()}" in result.output
        assert snapshot(run_dir) == before
    finally:
        held.release()
    assert not (run_dir / run_directory.LOCK_FILE).exists()
    (run_dir / run_directory.LOCK_FILE).write_text("pid 1, since long ago", encoding="utf-8")
    prepared = run_directory.prepare_run_dir(run_dir, force=True)
    assert run_directory.LOCK_FILE not in prepared.kept
    prepared.rollback()
    assert not (run_dir / run_directory.LOCK_FILE).exists()


def test_a_run_killed_before_its_first_epoch_can_be_started_again(own_run, tmp_path):
    """What a kill -9 in epoch 1 leaves (config, labels, vocabulary, a temporary, a stale
    lock) is seqcls's own: --force may replace it, and --resume says to do that."""
    run_dir, _ = own_run
    killed = tmp_path / "killed"
    killed.mkdir()
    for name in ("config.yaml", "labels.json", "vocabulary.json"):
        shutil.copy(run_dir / name, killed / name)
    (killed / ".history.csv.8t807xiw.tmp").write_text("epoch,loss\n", encoding="utf-8")
    (killed / run_directory.LOCK_FILE).write_text("pid 1", encoding="utf-8")
    assert destinations.is_run(killed)
    resumed = run_cli("train", "--resume", killed)
    assert resumed.exit_code == 2 and "--force" in resumed.output
    started = run_directory.prepare_run_dir(killed, force=True)
    started.commit()
    started.release()
    assert sorted(path.name for path in killed.iterdir()) == []
    # A folder with a labels.json and a config.yaml that are not seqcls's is not a run.
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "config.yaml").write_text("name: my own thing\nlayers: 3\n", encoding="utf-8")
    (mine / "labels.json").write_text('{"labels": ["a"]}\n', encoding="utf-8")
    assert not destinations.is_run(mine)


def test_eval_refuses_a_label_column_that_is_also_the_text(own_run):
    run_dir, data = own_run
    result = run_cli("eval", run_dir, data, "--text-column", "label", "-o", run_dir / "x.json")
    assert result.exit_code == 2 and "would read the answer" in result.output
    assert not (run_dir / "x.json").exists()
