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

from seqcls.config import load_config
from seqcls.errors import ConfigError, DeviceError
from seqcls.training import distribute, distributed_loop

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


def start_two_workers(config, tmp_path, extra_arguments=None):
    """Two worker processes on 127.0.0.1 training 3 epochs with multi_worker; worker i
    writes tmp_path/run-i and weights-i.npz and gets extra_arguments[i], if any."""
    cluster = {"worker": [f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"]}
    processes = []
    for index in range(2):
        tf_config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
        processes.append(
            run_worker(
                config,
                tmp_path / f"run-{index}",
                tmp_path / f"weights-{index}.npz",
                *(extra_arguments or {}).get(index, []),
                "runtime.distribution=multi_worker",
                "training.epochs=3",
                env={"TF_CONFIG": tf_config},
            )
        )
    return processes


@pytest.mark.slow
def test_two_workers_train_identical_weights_and_only_the_chief_writes(tiny_config, tmp_path):
    processes = start_two_workers(tiny_config, tmp_path)
    outputs = [finish(process) for process in processes]
    assert all("distribution: multi_worker, 2 replica(s)" in output for output in outputs)
    for a, b in zip(load(tmp_path / "weights-0.npz"), load(tmp_path / "weights-1.npz")):
        np.testing.assert_array_equal(a, b)
    assert (tmp_path / "run-0" / "model.keras").is_file()
    assert not (tmp_path / "run-1").exists()  # the other worker wrote nothing there
    metrics = json.loads((tmp_path / "run-0" / "metrics.json").read_text())
    assert metrics["test"]["accuracy"] >= 0.8


def test_resume_is_refused_for_multi_worker_before_anything_is_written(
    monkeypatch, tiny_config, tmp_path
):
    from seqcls.training.train import train

    config = load_config(tiny_config, ["runtime.distribution=multi_worker"])
    cluster = {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}
    for index in range(2):
        tf_config = {"cluster": cluster, "task": {"type": "worker", "index": index}}
        monkeypatch.setenv("TF_CONFIG", json.dumps(tf_config))
        with pytest.raises(ConfigError, match="--resume.*runtime.distribution=none"):
            train(config, tmp_path / "run", resume=True, report=lambda message: None)
    assert not (tmp_path / "run").exists()


def test_multi_worker_refuses_mixed_float16(tiny_config):
    overrides = ["runtime.distribution=multi_worker", "runtime.mixed_precision=mixed_float16"]
    with pytest.raises(ConfigError, match="mixed_float16.*multi_worker.*mixed_bfloat16"):
        load_config(tiny_config, overrides)
    load_config(tiny_config, [overrides[0], "runtime.mixed_precision=mixed_bfloat16"])


def _update_size(policy):
    """How far one epoch of the distributed loop moves an embedding, under `policy`."""
    import keras
    import tensorflow as tf

    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    keras.utils.set_random_seed(0)
    previous = keras.config.dtype_policy().name
    keras.config.set_dtype_policy(policy)
    try:
        with strategy.scope():
            ids = keras.Input((None,), dtype="int32")
            embedded = keras.layers.Embedding(50, 8)(ids)
            pooled = keras.layers.GlobalAveragePooling1D()(embedded)
            probabilities = keras.layers.Dense(3, activation="softmax", dtype="float32")(pooled)
            model = keras.Model(ids, probabilities)
            model.compile(keras.optimizers.SGD(0.5), "sparse_categorical_crossentropy")
    finally:
        keras.config.set_dtype_policy(previous)
    rows = np.random.default_rng(0).integers(1, 50, (64, 6)).astype("int32")
    data = tf.data.Dataset.from_tensor_slices((rows, rows[:, 0] % 3)).batch(16)
    before = model.get_weights()[0].copy()
    distributed_loop.fit_distributed(
        strategy=strategy,
        model=model,
        train_data=data,
        steps=4,
        valid_data=data,
        epochs=1,
        initial_epoch=0,
        callbacks=[],
        task="multiclass",
        class_weight=None,
    )
    return type(model.optimizer).__name__, float(np.abs(model.get_weights()[0] - before).max())


def test_distributed_loop_scales_the_loss_under_mixed_float16():
    # compile wraps the optimizer in a LossScaleOptimizer, which divides the gradients by
    # its scale (32768 at first): without scale_loss the model would barely move.
    optimizer, mixed = _update_size("mixed_float16")
    assert optimizer == "LossScaleOptimizer"
    _, full = _update_size("float32")
    assert mixed == pytest.approx(full, rel=0.05)  # float16 compute, float32 weights


@pytest.mark.slow
def test_an_interrupt_on_one_worker_stops_every_worker_after_the_same_step(tiny_config, tmp_path):
    # Worker 1 gets SIGINT in epoch 2; alone it would stop while the chief waits in the
    # next step's all-reduce forever. Both must stop after the same step, as interrupted.
    processes = start_two_workers(tiny_config, tmp_path, {1: ["--sigint-in-epoch", "2"]})
    try:
        outputs = [process.communicate(timeout=240)[0] for process in processes]
    finally:
        for process in processes:  # a hung worker must not outlive the test
            if process.poll() is None:
                process.kill()
    for process, output in zip(processes, outputs):
        assert process.returncode == 130, output[-3000:]
        assert "SIGINT: stopped in epoch 2" in output
    assert "the chief saved the completed epochs" in outputs[1]
    assert "seqcls-worker-" not in outputs[1]  # not the deleted scratch directory
    for a, b in zip(load(tmp_path / "weights-0.npz"), load(tmp_path / "weights-1.npz")):
        np.testing.assert_array_equal(a, b)  # the same number of steps on both
    state = json.loads((tmp_path / "run-0" / "checkpoints" / "state.json").read_text())
    assert state["completed_epochs"] == 1 and not state["finished"]
    assert not (tmp_path / "run-1").exists()


@pytest.mark.slow
def test_mirrored_resume_after_a_kill_matches_an_uninterrupted_run(tiny_config, tmp_path):
    common = ["runtime.distribution=mirrored", "runtime.devices=['/cpu:0', '/cpu:1']"]
    common += ["training.epochs=2", "training.early_stopping.enabled=false"]
    reference = run_worker(
        tiny_config, tmp_path / "reference", tmp_path / "reference.npz", *common, cpus=2
    )
    killed = run_worker(
        tiny_config,
        tmp_path / "killed",
        tmp_path / "unused.npz",
        "--kill-after-epoch",
        "1",
        *common,
        cpus=2,
    )
    finish(reference)
    killed.communicate(timeout=240)
    assert killed.returncode == -9
    # The optimizer's slots are rebuilt under the strategy's scope (outside it, Keras
    # refuses: 'Need to be inside "with strategy.scope()"').
    finish(
        run_worker(
            tiny_config,
            tmp_path / "killed",
            tmp_path / "resumed.npz",
            "--resume",
            *common,
            cpus=2,
        )
    )
    for a, b in zip(load(tmp_path / "resumed.npz"), load(tmp_path / "reference.npz")):
        np.testing.assert_array_equal(a, b)
