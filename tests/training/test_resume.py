"""Training survives a kill and an interrupt: resumed runs end where uninterrupted ones do.

Marked slow (each starts TensorFlow in subprocesses, about 20 s): `python -m pytest -m
slow` runs them, and so does .ci/run.
"""

import json
import os
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
from typer.testing import CliRunner

from seqcls.cli import app
from seqcls.run import artifacts

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
OVERRIDES = [
    "training.epochs=5",
    "training.early_stopping.enabled=false",
    "model.embedding.dropout=0.3",  # exact resumes need the dropout RNG state too
]

TRAIN = """
import os, signal, sys
from pathlib import Path
import keras
from seqcls.config import load_config
from seqcls.training.train import train

class KillAfter(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == int(sys.argv[3]):
            os.kill(os.getpid(), signal.SIGKILL)

config = load_config(sys.argv[1], sys.argv[4:])
kill = [KillAfter()] if int(sys.argv[3]) else []
train(config, Path(sys.argv[2]), report=lambda message: None, callbacks=tuple(kill))
"""


# Options whose state lives in the optimizer or the model (a schedule over the step count,
# weight decay, the n-gram table and vectors) must resume as exactly.
RECIPE = (
    "training.optimizer=adamw",
    "training.weight_decay=0.01",
    "training.schedule=cosine",
    "training.warmup_epochs=1",
    "training.label_smoothing=0.1",
    "training.ema_momentum=0.9",
    "model.embedding.spatial_dropout=0.2",
    "model.embedding.subwords.buckets=300",
    "model.attention.concat_pooling=[mean, max]",
    "model.ensemble=2",
)


def run_training(config, run_dir, kill_after_epoch, extra=()):
    arguments = [str(config), str(run_dir), str(kill_after_epoch), *OVERRIDES, *extra]
    return subprocess.run(
        [sys.executable, "-c", TRAIN, *arguments],
        capture_output=True,
        text=True,
        timeout=300,
        env=ENV,
    )


def weights(run_dir):
    model = artifacts.load_model(run_dir / artifacts.MODEL_FILE)
    return model.get_weights()


@pytest.mark.slow
@pytest.mark.parametrize("extra", [(), RECIPE], ids=["default", "recipe-options"])
def test_resume_after_sigkill_matches_an_uninterrupted_run(tiny_config, tmp_path, extra):
    reference = tmp_path / "reference"
    assert run_training(tiny_config, reference, 0, extra).returncode == 0
    killed = tmp_path / "killed"
    result = run_training(tiny_config, killed, 2, extra)
    assert result.returncode == -signal.SIGKILL
    state = json.loads((killed / artifacts.STATE_FILE).read_text())
    assert state["completed_epochs"] == 2 and not state["finished"]
    assert not (killed / artifacts.MODEL_FILE).exists()

    runner = CliRunner()
    refused = runner.invoke(
        app, ["train", "--resume", str(killed), "--set", "model.encoder.units=16"]
    )
    assert refused.exit_code == 2 and "model.encoder.units" in refused.output

    resumed = runner.invoke(app, ["train", "--resume", str(killed)])
    assert resumed.exit_code == 0, resumed.output
    assert "resuming after epoch 2" in resumed.output
    history = (killed / artifacts.HISTORY_FILE).read_text().splitlines()
    assert len(history) == 1 + 5
    for ours, theirs in zip(weights(killed), weights(reference)):
        np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-7)
    ours = json.loads((killed / artifacts.METRICS_FILE).read_text())["test"]
    theirs = json.loads((reference / artifacts.METRICS_FILE).read_text())["test"]
    assert ours["confusion_matrix"] == theirs["confusion_matrix"]
    reference_history = (reference / artifacts.HISTORY_FILE).read_text().splitlines()
    loss = [line.split(",")[2] for line in history[1:]]  # epoch, accuracy, loss, ...
    assert [float(x) for x in loss] == pytest.approx(
        [float(line.split(",")[2]) for line in reference_history[1:]], rel=1e-5
    )
    # Finished: the per-epoch checkpoint is gone and resuming again is refused.
    assert json.loads((killed / artifacts.STATE_FILE).read_text())["finished"]
    assert runner.invoke(app, ["train", "--resume", str(killed)]).exit_code == 2


@pytest.mark.slow
@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_stops_cleanly_and_the_run_resumes(tiny_config, tmp_path, signum, code):
    run_dir = tmp_path / "run"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "seqcls",
            "train",
            str(tiny_config),
            "--output-dir",
            str(run_dir),
            "--set",
            "training.epochs=500",
            "--set",
            "training.early_stopping.enabled=false",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    deadline = time.monotonic() + 120
    while not (run_dir / artifacts.STATE_FILE).exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == code, stderr
    assert "Resume with: seqcls train --resume" in stderr and "Traceback" not in stderr
    done = json.loads((run_dir / artifacts.STATE_FILE).read_text())["completed_epochs"]
    assert 1 <= done < 500
    result = CliRunner().invoke(
        app, ["train", "--resume", str(run_dir), "--set", f"training.epochs={done + 2}"]
    )
    assert result.exit_code == 0, result.output
    assert len((run_dir / artifacts.HISTORY_FILE).read_text().splitlines()) == 1 + done + 2
    assert keras.models.load_model(run_dir / artifacts.MODEL_FILE, safe_mode=True) is not None
