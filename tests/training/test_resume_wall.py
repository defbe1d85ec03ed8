"""After `seqcls train --resume`, manifest.json's wall_seconds counts the whole training:
the epochs completed before the interruption plus the resumed part (kept apart too)."""

import json
import os
import signal
import time

import keras
import pytest
from typer.testing import CliRunner

from seqcls.cli import app
from seqcls.config import load_config
from seqcls.errors import TrainingInterrupted
from seqcls.run import artifacts
from seqcls.training.finish import wall_seconds
from seqcls.training.train import train

PAUSE = 0.6  # seconds each epoch of the first part takes longer


def test_resume_wall_seconds_add_the_epochs_before_the_resume():
    rows = [{"epoch": 1, "seconds": 2.5}, {"epoch": 2, "seconds": 3.0}, {"epoch": 3, "seconds": 1}]
    assert wall_seconds(rows, None, 4.0) == {"wall_seconds": 4.0}
    assert wall_seconds(rows, 2, 4.0) == {
        "wall_seconds": 9.5,
        "wall_seconds_before_resume": 5.5,
        "wall_seconds_resumed_part": 4.0,
    }


class SlowThenCtrlC(keras.callbacks.Callback):
    """Each epoch lasts PAUSE longer; after epoch 2 is saved, a real SIGINT (Ctrl-C)."""

    def on_epoch_begin(self, epoch, logs=None):
        time.sleep(PAUSE)

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == 2:
            os.kill(os.getpid(), signal.SIGINT)


@pytest.mark.slow
def test_resume_wall_seconds_count_the_interrupted_part_too(tiny_config, tmp_path):
    run_dir = tmp_path / "run"
    config = load_config(
        tiny_config, ["training.epochs=4", "training.early_stopping.enabled=false"]
    )
    with pytest.raises(TrainingInterrupted):
        train(config, run_dir, report=lambda message: None, callbacks=(SlowThenCtrlC(),))
    state = json.loads((run_dir / artifacts.STATE_FILE).read_text())
    assert state["completed_epochs"] == 2 and not state["finished"]
    before = sum(row["seconds"] for row in state["rows"])
    assert before >= 2 * PAUSE

    resumed = CliRunner().invoke(app, ["train", "--resume", str(run_dir)])
    assert resumed.exit_code == 0, resumed.output
    manifest = json.loads((run_dir / artifacts.MANIFEST_FILE).read_text())
    assert manifest["epochs_run"] == 4 and manifest["resumed_after_epoch"] == 2
    assert manifest["wall_seconds_before_resume"] == pytest.approx(before, abs=0.01)
    assert manifest["wall_seconds"] == pytest.approx(
        manifest["wall_seconds_before_resume"] + manifest["wall_seconds_resumed_part"], abs=0.02
    )
    assert manifest["wall_seconds"] >= manifest["wall_seconds_resumed_part"] + 2 * PAUSE
