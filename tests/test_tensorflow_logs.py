"""TensorFlow's own log lines stay off stderr for a whole command (train, its smoke run,
predict), not only while it is imported; SEQCLS_TF_LOGS=1 leaves them on."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from conftest import write_tiny_project

from seqcls import tensorflow_logs

# absl/TensorFlow C++ log lines: I0000, W0000, E0000 00:00:... file.cc:123] ...
NATIVE_LOG_LINE = re.compile(r"^[IWEF]\d{4} ", re.M)


def test_tensorflow_logs_quieted_unless_asked(monkeypatch):
    monkeypatch.delenv("SEQCLS_TF_LOGS", raising=False)
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")  # 2 still lets errors (E0000 ...) through
    tensorflow_logs.quiet_tensorflow_logs()
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "3"
    for shown in ("1", "yes"):
        monkeypatch.setenv("SEQCLS_TF_LOGS", shown)
        monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "0")
        tensorflow_logs.quiet_tensorflow_logs()
        assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "0"
    monkeypatch.setenv("SEQCLS_TF_LOGS", "0")
    tensorflow_logs.quiet_tensorflow_logs()
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "3"


def seqcls(*args: str, cwd, input: str | None = None) -> subprocess.CompletedProcess:
    """The command as a user runs it: a fresh process, where TensorFlow's C++ library
    loads for the first time; nothing in the environment quiets TensorFlow beforehand."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("TF_CPP_MIN_LOG_LEVEL", "SEQCLS_TF_LOGS")
    }
    return subprocess.run(
        [sys.executable, "-m", "seqcls", *args],
        cwd=cwd,
        env=env,
        input=input,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.slow  # two TensorFlow subprocesses: the default suite's slowest test
def test_tensorflow_logs_none_from_a_smoke_train_or_predict(tmp_path):
    config = write_tiny_project(tmp_path)
    trained = seqcls("train", str(config), "--smoke", "--output-dir", "run", cwd=tmp_path)
    assert trained.returncode == 0, trained.stderr
    assert "every artifact loads" in trained.stdout + trained.stderr
    assert not NATIVE_LOG_LINE.findall(trained.stderr), trained.stderr
    predicted = seqcls("predict", "run", "-", cwd=tmp_path, input="i lost my card\n")
    assert predicted.returncode == 0, predicted.stderr
    assert predicted.stdout.startswith("text,predicted_label,predicted_probability\n")
    assert not NATIVE_LOG_LINE.findall(predicted.stderr), predicted.stderr
