"""runtime.distribution: mirrored over two logical CPUs equals one device; two workers on
127.0.0.1 end with identical weights and only the chief writes the run directory."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from seqcls import distribute
from seqcls.config import load_config
from seqcls.errors import ConfigError, DeviceError

WORKER = Path(__file__).parent / "distributed_worker.py"


def run_worker(config, run_dir, weights, *overrides, cpus=1, env=None):
    command = [sys.executable, str(WORKER), str(config), str(run_dir), str(weights)]
    command += ["--cpus", str(cpus), *overrides]
    return subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {})},
    )


def finish(process, timeout=240):
    output, _ = process.communicate(timeout=timeout)
    assert process.returncode == 0, output[-3000:]
    return output


def load(path):
    saved = np.load(path)
    return [saved[name] for name in saved.files]


def test_tf_config_is_required_and_checked(monkeypatch, tiny_config):
    config = load_config(tiny_config, ["runtime.distribution=multi_worker"])
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ConfigError, match="TF_CONFIG is not set.*cluster"):
        distribute.is_chief(config.runtime)
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(ConfigError, match="TF_CONFIG is not valid"):
        distribute.is_chief(config.runtime)
    cluster = {"chief": ["a:1"], "worker": ["b:1", "c:1"]}
    for task, chief, position in [
        ({"type": "chief", "index": 0}, True, 0),
        ({"type": "worker", "index": 0}, False, 1),
        ({"type": "worker", "index": 1}, False, 2),
    ]:
        monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": task}))
        assert distribute.is_chief(config.runtime) is chief
        assert distribute.worker_position(config.runtime) == (position, 3)
    monkeypatch.setenv(
        "TF_CONFIG",
        json.dumps({"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 0}}),
    )
    assert distribute.is_chief(config.runtime) is True  # no chief: worker 0 writes
    assert distribute.is_chief(load_config(tiny_config).runtime) is True


def test_mirrored_with_an_unknown_device_lists_the_visible_ones(tiny_config):
    config = load_config(
        tiny_config, ["runtime.distribution=mirrored", "runtime.devices=['/gpu:7']"]
    )
    with pytest.raises(DeviceError, match=r"\['/gpu:7'\].*CPU:0"):
        distribute.make_strategy(config.runtime)


def test_shards_partition_the_rows_and_steps_are_common():
    shards = [distribute.shard_rows(103, 5, worker, 3) for worker in range(3)]
    assert sorted(np.concatenate(shards).tolist()) == list(range(103))
    lengths = np.random.default_rng(0).integers(1, 30, size=103)
    steps = distribute.common_steps(lengths, 5, 3, 8, True)
    from seqcls.text import steps_per_epoch

    assert steps == min(steps_per_epoch(lengths[s], 8, True) for s in shards)


@pytest.mark.slow
def test_mirrored_over_two_cpus_matches_one_device(tiny_config, tmp_path):
    # SGD: an update is linear in the gradient, so the only difference is float summation
    # order (Adam divides by the root of tiny second moments, which amplifies it).
    common = ["training.optimizer=sgd", "training.learning_rate=0.5", "training.epochs=3"]
    mirrored = run_worker(
        tiny_config,
        tmp_path / "mirrored",
        tmp_path / "mirrored.npz",
        *common,
        "runtime.distribution=mirrored",
        "runtime.devices=['/cpu:0', '/cpu:1']",
        cpus=2,
    )
    output = finish(mirrored)
    assert "distribution: mirrored, 2 replica(s)" in output
    finish(run_worker(tiny_config, tmp_path / "single", tmp_path / "single.npz", *common))
    for a, b in zip(load(tmp_path / "mirrored.npz"), load(tmp_path / "single.npz")):
        np.testing.assert_allclose(a, b, atol=1e-5)
    histories = [
        (tmp_path / name / "history.csv").read_text().splitlines()
        for name in ("mirrored", "single")
    ]
    assert len(histories[0]) == len(histories[1]) == 4


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_two_workers_train_identical_weights_and_only_the_chief_writes(tiny_config, tmp_path):
    cluster = {"worker": [f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"]}
    processes = []
    for index in range(2):
        tf_config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
        processes.append(
            run_worker(
                tiny_config,
                tmp_path / f"run-{index}",
                tmp_path / f"weights-{index}.npz",
                "runtime.distribution=multi_worker",
                "training.epochs=3",
                env={"TF_CONFIG": tf_config},
            )
        )
    outputs = [finish(process) for process in processes]
    assert all("distribution: multi_worker, 2 replica(s)" in output for output in outputs)
    for a, b in zip(load(tmp_path / "weights-0.npz"), load(tmp_path / "weights-1.npz")):
        np.testing.assert_array_equal(a, b)
    assert (tmp_path / "run-0" / "model.keras").is_file()
    assert not (tmp_path / "run-1").exists()  # the other worker wrote nothing there
    metrics = json.loads((tmp_path / "run-0" / "metrics.json").read_text())
    assert metrics["test"]["accuracy"] >= 0.8
