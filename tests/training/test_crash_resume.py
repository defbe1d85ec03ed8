"""A training that dies at any write resumes to the result of an uninterrupted run, and no
way of dying leaves a temporary file behind (issue 13: nothing a user owns is ever lost).

The slow tests run seqcls in a subprocess through CRASH, a wrapper that makes the process
die at the Nth write of one file: a real SIGKILL (or SIGTERM, or an OSError such as a
full disk) at a real point of the real training. Each case takes about 25 s on 2 cores
(two subprocesses); `python -m pytest tests/training/test_crash_resume.py -m slow` runs them.
"""

import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest
from conftest import write_tiny_project

from seqcls.errors import DataError
from seqcls.messages import severity
from seqcls.run import artifacts
from seqcls.training import checkpoints

# Dropout: an exact resume needs the dropout random state too. No early stopping: the
# three epochs of the tiny config all run, and restore_best still picks the best one.
OVERRIDES = ("training.early_stopping.enabled=false", "model.embedding.dropout=0.3")

# argv: TARGET N MOMENT ACTION, then seqcls's own arguments. At the Nth write of the file
# named TARGET (N counts that file's writes), at MOMENT:
#   before  the finished temporary is about to be renamed into place (os.replace),
#   after   it has just been renamed into place,
#   during  Keras is saving it and has just made its temporary folder (tempfile.mkdtemp),
# ACTION happens: kill (SIGKILL), term (SIGTERM) or fail (OSError ENOSPC, a full disk).
CRASH = r"""
import errno, os, signal, sys, tempfile
from pathlib import Path

import keras

target, nth, moment, action = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
seen = 0


def due(match):
    global seen
    seen += bool(match)
    return bool(match) and seen == nth


def strike():
    if action == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif action == "term":
        os.kill(os.getpid(), signal.SIGTERM)
    else:
        raise OSError(errno.ENOSPC, "No space left on device (injected)")


real_replace = os.replace


def replace(source, destination, *args, **kwargs):
    hit = moment in ("before", "after") and due(Path(destination).name == target)
    if hit and moment == "before":
        strike()
    real_replace(source, destination, *args, **kwargs)
    if hit and moment == "after":
        strike()


real_save = keras.Model.save


def save(self, filepath, *args, **kwargs):
    if moment == "during" and due(target in Path(filepath).name):
        real_mkdtemp = tempfile.mkdtemp

        def mkdtemp(*args, **kwargs):
            made = real_mkdtemp(*args, **kwargs)
            tempfile.mkdtemp = real_mkdtemp
            strike()
            return made

        tempfile.mkdtemp = mkdtemp
    return real_save(self, filepath, *args, **kwargs)


os.replace = replace
keras.Model.save = save
from seqcls.cli import app

app(args=sys.argv[5:], prog_name="seqcls")
"""

NO_CRASH = ("-", 0, "before", "kill")
EXIT = {"kill": -signal.SIGKILL, "term": 143, "fail": 1}


def seqcls(scratch, *args, crash=NO_CRASH):
    """Run seqcls (through CRASH) with TMPDIR=scratch, so what it leaves in the system's
    temporary folder can be seen."""
    scratch.mkdir(exist_ok=True)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "TMPDIR": str(scratch)}
    return subprocess.run(
        [sys.executable, "-c", CRASH, *map(str, crash), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def train_args(config, run_dir, *overrides):
    args = ["train", str(config), "--output-dir", str(run_dir), "--progress", "plain"]
    for override in (*OVERRIDES, *overrides):
        args += ["--set", override]
    return args


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    folder = tmp_path_factory.mktemp("crash")
    return write_tiny_project(folder)


@pytest.fixture(scope="module")
def references(project):
    """Uninterrupted runs, by their overrides (each made when first asked for)."""
    made = {}

    def reference(overrides):
        if overrides not in made:
            name = f"reference-{len(made)}"
            run_dir = project.parent / name
            result = seqcls(
                project.parent / f"{name}-tmp", *train_args(project, run_dir, *overrides)
            )
            assert result.returncode == 0, result.stderr
            made[overrides] = run_dir
        return made[overrides]

    return reference


def weights(path):
    return artifacts.load_model(path).get_weights()


def assert_same_weights(ours, theirs):
    assert len(ours) == len(theirs)
    for mine, reference in zip(ours, theirs):
        np.testing.assert_allclose(mine, reference, rtol=1e-6, atol=1e-7)


def folders(scratch):
    """The folders in the system's temporary folder (TensorFlow's autograph leaves files
    there when killed: not seqcls's to clean)."""
    return [path for path in scratch.iterdir() if path.is_dir()]


def leftovers(run_dir):
    """What a finished run directory must not hold: hidden entries (temporaries, scratch
    folders) anywhere, and per-epoch checkpoints."""
    hidden = [path for path in run_dir.rglob(".*")]
    epochs = list((run_dir / artifacts.CHECKPOINT_FOLDER).glob("epoch-*.keras"))
    return sorted(map(str, hidden + epochs))


def history(run_dir):
    lines = (run_dir / artifacts.HISTORY_FILE).read_text().splitlines()
    header = lines[0].split(",")
    return [
        {key: float(value) for key, value in zip(header, line.split(",")) if key != "seconds"}
        for line in lines[1:]
    ]


def read(run_dir, name):
    return json.loads((run_dir / name).read_text())


# Early stopping on val_accuracy, patience 1: the tiny run reaches 1.0 in epoch 2 and
# stops after epoch 3 (checked on the reference), its best epoch being 2.
EARLY = (
    "training.epochs=4",
    "training.early_stopping.enabled=true",
    "training.early_stopping.monitor=val_accuracy",
    "training.early_stopping.patience=1",
)

# name: (crash, training's overrides, the resume's, the uninterrupted run's)
CASES = {
    # The epoch-2 checkpoint half written, Keras' temporary folder made.
    "checkpoint": (("epoch-0002.keras", 1, "during", "kill"), (), (), ()),
    # Epoch 2's checkpoint and history row written, its state not.
    "state": (("state.json", 2, "before", "kill"), (), (), ()),
    # Epoch 2 committed; the best checkpoint's copy not in place, epoch 1's not deleted.
    "best": (("best.keras", 2, "before", "kill"), (), (), ()),
    # Training over; the final model half written.
    "model": (("model.keras", 1, "during", "kill"), (), (), ()),
    "metrics": (("metrics.json", 1, "before", "kill"), (), (), ()),
    # Stopped early; everything written but the state saying training finished. The
    # resume must not train on.
    "finish": (("state.json", 4, "before", "kill"), EARLY, (), EARLY),
    # SIGTERM and a full disk while a model is saved: the process cleans up.
    "model-sigterm": (("model.keras", 1, "during", "term"), (), (), ()),
    "checkpoint-full-disk": (("epoch-0002.keras", 1, "during", "fail"), (), (), ()),
    # Resumed with fewer epochs than were under way: epoch 1's result, exactly.
    "fewer-epochs": (
        ("epoch-0002.keras", 1, "during", "kill"),
        (),
        ("training.epochs=1",),
        ("training.epochs=1",),
    ),
    # Resumed with fewer epochs than completed: the completed epochs' result.
    "fewer-than-completed": (("state.json", 3, "after", "kill"), (), ("training.epochs=2",), ()),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", list(CASES))
def test_crash_at_a_write_resumes_to_the_uninterrupted_result(project, references, tmp_path, case):
    crash, train_overrides, resume_overrides, reference_overrides = CASES[case]
    action = crash[3]
    run_dir, scratch = tmp_path / "run", tmp_path / "tmp"

    died = seqcls(scratch, *train_args(project, run_dir, *train_overrides), crash=crash)
    assert died.returncode == EXIT[action], died.stderr[-3000:]
    # Keras' temporary folder is never left in the system's (tmpXXXXXXXX/assets).
    assert folders(scratch) == []
    if action != "kill":  # the process could clean up: it did, and says how to resume
        assert [path for path in run_dir.rglob(".*")] == []
        assert "Traceback" not in died.stderr
        if action == "term":
            assert "Resume with: seqcls train --resume" in died.stderr
    state = read(run_dir, artifacts.STATE_FILE)
    assert not state["finished"]

    overrides = [arg for override in resume_overrides for arg in ("--set", override)]
    resumed = seqcls(scratch, "train", "--resume", str(run_dir), *overrides)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"resuming after epoch {state['completed_epochs']}" in resumed.stderr
    assert folders(scratch) == []
    assert leftovers(run_dir) == []
    assert read(run_dir, artifacts.STATE_FILE)["finished"]

    reference = references(reference_overrides)
    manifest = read(run_dir, artifacts.MANIFEST_FILE)
    theirs = read(reference, artifacts.MANIFEST_FILE)
    if case == "finish":
        assert theirs["stopped_early"] and theirs["best_epoch"] < theirs["epochs_run"], theirs
    for key in ("epochs_run", "best_epoch", "weights_epoch", "stopped_early"):
        assert manifest[key] == theirs[key], key
    best = manifest["best_epoch"]
    assert manifest["weights_epoch"] == best
    assert f"restored the weights of epoch {best} " in resumed.stderr
    if case == "fewer-than-completed":
        assert any("training.epochs 2 after 3 completed" in note for note in manifest["notes"])

    # The weights restored are the best checkpoint's, and both are the reference's.
    model = weights(run_dir / artifacts.MODEL_FILE)
    assert_same_weights(model, weights(run_dir / artifacts.BEST_CHECKPOINT_FILE))
    assert_same_weights(model, weights(reference / artifacts.MODEL_FILE))
    assert_same_weights(
        weights(run_dir / artifacts.BEST_CHECKPOINT_FILE),
        weights(reference / artifacts.BEST_CHECKPOINT_FILE),
    )
    ours, theirs = history(run_dir), history(reference)
    assert len(ours) == manifest["epochs_run"] == len(theirs)
    for mine, reference_row in zip(ours, theirs):
        assert mine == pytest.approx(reference_row, rel=1e-5)
    ours, theirs = read(run_dir, artifacts.METRICS_FILE), read(reference, artifacts.METRICS_FILE)
    for split in ("valid", "test"):
        assert ours[split]["confusion_matrix"] == theirs[split]["confusion_matrix"]
        assert ours[split]["accuracy"] == pytest.approx(theirs[split]["accuracy"])
        assert ours[split]["macro_f1"] == pytest.approx(theirs[split]["macro_f1"])


def fake_checkpoint(text: str) -> bytes:
    """A .keras file is a zip archive; reconcile checks its CRCs, not its contents."""
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("model.weights.h5", text)
    return buffer.getvalue()


EPOCH = {1: fake_checkpoint("epoch 1"), 2: fake_checkpoint("epoch 2")}


def write_epoch_one_state(run_dir, best):
    """checkpoints/state.json after epoch 1, its best (val_loss 0.9), whose sha256 is `best`'s."""
    state = {
        "completed_epochs": 1,
        "finished": False,
        "checkpoint": checkpoints.checkpoint_name(1),
        "best_value": 0.9,
        "best_epoch": 1,
        "best_sha256": checkpoints.file_sha256(best),
        "stopped_early": False,
        "seed_states": {},
        "rows": [{"epoch": 1, "loss": 1.0, "val_loss": 0.9, "seconds": 1.0}],
    }
    (run_dir / artifacts.STATE_FILE).write_text(json.dumps(state))
    return state


def test_progress_reconcile_brings_the_run_back_to_the_state_epoch(tmp_path):
    """Files only (no Keras): a crash in epoch 2 left its checkpoint and history row, a
    best checkpoint newer than the state, and temporaries; the state names epoch 1."""
    run_dir = tmp_path
    folder = run_dir / artifacts.CHECKPOINT_FOLDER
    folder.mkdir()
    (folder / "epoch-0001.keras").write_bytes(EPOCH[1])
    (folder / "epoch-0002.keras").write_bytes(EPOCH[2])
    (folder / "best.keras").write_bytes(EPOCH[2])
    (run_dir / artifacts.HISTORY_FILE).write_text(
        "epoch,loss,val_loss,seconds\n1,1.0,0.9,1.0\n2,0.8,0.7,1.0\n"
    )
    state = write_epoch_one_state(run_dir, folder / "epoch-0001.keras")
    rows = state["rows"]
    crashed = [
        run_dir / ".model.keras.a1b2c3d4.keras",
        run_dir / ".history.csv.x_y7z8w9.tmp",
        folder / ".epoch-0002.keras.q1w2e3r4.keras",
        folder / ".state.json.zz11yy22.tmp",
    ]
    for path in crashed:
        path.write_bytes(b"")
    (run_dir / ".model.keras.k9j8h7g6.tmp" / "tmpabcdefgh" / "assets").mkdir(parents=True)
    # Not training's: kept.
    kept = [run_dir / ".notes.txt", run_dir / ".seqcls-replaced-20250101-000000-1" / "x"]
    for path in kept:
        path.parent.mkdir(exist_ok=True)
        path.write_text("mine")

    reconciled, notes = checkpoints.reconcile(run_dir, dict(state), "val_loss")
    assert (folder / "best.keras").read_bytes() == EPOCH[1]
    assert sorted(path.name for path in folder.iterdir()) == [
        "best.keras",
        "epoch-0001.keras",
        "state.json",
    ]
    assert (run_dir / artifacts.HISTORY_FILE).read_text() == (
        "epoch,loss,val_loss,seconds\n1,1.0,0.9,1.0\n"
    )
    assert sorted(path.name for path in run_dir.glob(".*")) == [
        ".notes.txt",
        ".seqcls-replaced-20250101-000000-1",
    ]
    assert all(path.read_text() == "mine" for path in kept)
    assert reconciled["best_epoch"] == 1 and "restored it from" in notes[0]
    assert severity(notes[0]) == "note"  # shown under --quiet too

    # An earlier best whose weights are gone (the file is not the one the state recorded):
    # the state's own epoch becomes the best, in the state on disk too.
    two = {**state, "completed_epochs": 2, "checkpoint": checkpoints.checkpoint_name(2)}
    two["rows"] = [*rows, {"epoch": 2, "loss": 0.8, "val_loss": 0.95, "seconds": 1.0}]
    (folder / "epoch-0002.keras").write_bytes(EPOCH[2])
    (folder / "best.keras").write_bytes(b"damaged")
    reconciled, notes = checkpoints.reconcile(run_dir, two, "val_loss")
    assert (reconciled["best_epoch"], reconciled["best_value"]) == (2, 0.95)
    assert (folder / "best.keras").read_bytes() == EPOCH[2]
    assert not (folder / "epoch-0001.keras").exists()
    assert notes[0].startswith("warning:") and severity(notes[0]) == "warning"
    assert json.loads((run_dir / artifacts.STATE_FILE).read_text())["best_epoch"] == 2


@pytest.mark.slow
def test_resume_with_changed_data_is_refused_and_leaves_the_run_as_it_was(tmp_path):
    """The labels are compared before labels.json is rewritten: a refused resume does not
    replace the run's labels with the new data's (which would make it unusable)."""
    (tmp_path / "project").mkdir()
    config = write_tiny_project(tmp_path / "project")
    run_dir, scratch = tmp_path / "run", tmp_path / "tmp"
    died = seqcls(scratch, *train_args(config, run_dir), crash=("state.json", 2, "before", "kill"))
    assert died.returncode == EXIT["kill"], died.stderr[-3000:]
    labels = (run_dir / artifacts.LABELS_FILE).read_bytes()
    vocabulary = (run_dir / artifacts.VOCABULARY_FILE).read_bytes()
    train = config.parent / "data" / "train.csv"
    train.write_text(train.read_text() + "a new kind of text,new_label\n" * 3)
    resumed = seqcls(scratch, "train", "--resume", str(run_dir))
    assert resumed.returncode == 3, resumed.stderr[-3000:]
    assert "data changed" in resumed.stderr and "labels.json" in resumed.stderr
    assert (run_dir / artifacts.LABELS_FILE).read_bytes() == labels
    assert (run_dir / artifacts.VOCABULARY_FILE).read_bytes() == vocabulary


def test_seed_states_restore_into_a_model_whose_layers_are_numbered_differently():
    """Auto-numbered layer names (seed_generator_3) depend on what the process built
    before; the dropout states must still land in the right variables (by model order)."""
    import keras

    def model():
        inputs = keras.Input((4,))
        hidden = keras.layers.Dropout(0.5)(keras.layers.Dense(4)(inputs))
        return keras.Model(inputs, keras.layers.Dropout(0.3)(hidden))

    first = model()
    for variable in first.variables:
        if variable.path.endswith("seed_generator_state"):
            variable.assign(np.asarray([7, 11], dtype=variable.dtype))
    saved = checkpoints.seed_states(first)
    second = model()  # same architecture, other names
    assert list(checkpoints.seed_states(second)) != list(saved)
    checkpoints.restore_seed_states(second, saved)
    assert list(checkpoints.seed_states(second).values()) == list(saved.values())
    with pytest.raises(Exception, match="random-generator state"):
        checkpoints.restore_seed_states(second, dict(list(saved.items())[:1]))


def test_reconcile_refuses_a_damaged_checkpoint_and_changes_nothing(tmp_path):
    """A truncated epoch checkpoint is never copied over an intact best.keras (the only
    good weights left): the resume stops with the file named, every file as it was."""
    folder = tmp_path / artifacts.CHECKPOINT_FOLDER
    folder.mkdir()
    (folder / "epoch-0001.keras").write_bytes(EPOCH[1][:40])  # truncated
    (folder / "best.keras").write_bytes(EPOCH[1])
    (tmp_path / artifacts.HISTORY_FILE).write_text("epoch,loss,val_loss,seconds\n1,1.0,0.9,1.0\n")
    state = write_epoch_one_state(tmp_path, folder / "best.keras")
    before = {path: path.read_bytes() for path in tmp_path.rglob("*") if path.is_file()}
    with pytest.raises(DataError, match="epoch-0001.keras is damaged"):
        checkpoints.reconcile(tmp_path, dict(state), "val_loss")
    assert {path: path.read_bytes() for path in tmp_path.rglob("*") if path.is_file()} == before
