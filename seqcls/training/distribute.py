"""runtime.distribution: tf.distribute strategies.

- mirrored: `tf.distribute.MirroredStrategy` over the visible GPUs (or
  `runtime.devices`). The model is built and compiled (and a resumed run's optimizer
  state restored) under its scope; it trains with the same loop as multi_worker, each
  global batch split across the devices.
- multi_worker: `tf.distribute.MultiWorkerMirroredStrategy`, the cluster read from
  `TF_CONFIG`. With Keras 3.15.1, `model.fit` under this strategy fails
  (keras-team/keras#20585, tensorflow/tensorflow#72388), so seqcls trains with its own
  loop under both strategies (`distributed_loop.fit_distributed`, fit's semantics and
  callbacks).

Data sharding (multi_worker): worker i of n trains on the training rows i, i+n, i+2n,
... (after a seeded shuffle of their order that every worker computes alike), batched by
length as usual with a per-worker batch of batch_size / n rows. Collective operations
hang if workers take different numbers of steps, so every worker takes the smallest
number of batches any worker's shard yields (every worker can count every shard: they
all read the same files). The global batch is `training.batch_size`; the learning rate
is used as configured (no automatic scaling with the number of workers).

Only the chief (task type chief, or worker 0 when the cluster has no chief) writes the
run directory; the other workers write to a temporary directory that is deleted after
training.
"""

from __future__ import annotations

import json
import os
from contextlib import nullcontext
from typing import Any

import numpy as np

from seqcls.errors import ConfigError, DeviceError

TF_CONFIG_EXAMPLE = (
    '{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
    '"task": {"type": "worker", "index": 0}}'
)


def tf_config() -> dict[str, Any]:
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        raise ConfigError(
            "runtime.distribution is multi_worker but TF_CONFIG is not set; set it on every "
            f"machine to the cluster and that machine's task, e.g. TF_CONFIG='{TF_CONFIG_EXAMPLE}'"
        )
    try:
        value = json.loads(raw)
        cluster, task = value["cluster"], value["task"]
        task["type"], int(task["index"])
    except (ValueError, KeyError, TypeError):
        raise ConfigError(
            f"TF_CONFIG is not valid: {raw!r}; expected JSON like {TF_CONFIG_EXAMPLE}"
        ) from None
    if not isinstance(cluster, dict) or task["type"] not in cluster:
        raise ConfigError(
            f"TF_CONFIG: the task type {task['type']!r} is not in the cluster {cluster}"
        )
    return value


def is_chief(runtime: Any) -> bool:
    """Whether this process writes the run directory (always, unless multi_worker)."""
    if runtime.distribution != "multi_worker":
        return True
    value = tf_config()
    task = value["task"]
    if "chief" in value["cluster"]:
        return task["type"] == "chief"
    return task["type"] == "worker" and int(task["index"]) == 0


def worker_position(runtime: Any) -> tuple[int, int]:
    """(this worker's index among all training tasks, how many there are)."""
    if runtime.distribution != "multi_worker":
        return 0, 1
    value = tf_config()
    cluster, task = value["cluster"], value["task"]
    order = [("chief", i) for i in range(len(cluster.get("chief", [])))] + [
        ("worker", i) for i in range(len(cluster.get("worker", [])))
    ]
    return order.index((task["type"], int(task["index"]))), len(order)


def make_strategy(runtime: Any) -> Any:
    """The strategy for runtime.distribution, or None. Call before other TensorFlow work."""
    if runtime.distribution == "none":
        return None
    import tensorflow as tf

    if runtime.distribution == "multi_worker":
        tf_config()  # a clear error before TensorFlow tries to read it
        return tf.distribute.MultiWorkerMirroredStrategy()
    devices = runtime.devices
    if devices:
        known = {_canonical(device.name) for device in tf.config.list_logical_devices()}
        missing = [device for device in devices if _canonical(device) not in known]
        if missing:
            raise DeviceError(
                f"runtime.devices lists {missing}, which TensorFlow does not see; visible "
                f"devices are {sorted(known)}"
            )
    return tf.distribute.MirroredStrategy(devices=devices)


def scope(strategy: Any) -> Any:
    """The strategy's scope (variables created inside are mirrored), or a no-op."""
    return nullcontext() if strategy is None else strategy.scope()


def check_runtime(runtime: Any, resume: bool) -> None:
    """What multi_worker refuses before anything is written (config.py refuses the rest)."""
    if runtime.distribution == "multi_worker" and resume:
        # The other workers have no copy of the run's checkpoint.
        raise ConfigError(
            "--resume is not supported with runtime.distribution: multi_worker (only the "
            "chief has the run's checkpoint); resume on the chief's machine alone with "
            "--set runtime.distribution=none (or mirrored)"
        )


def _canonical(name: str) -> str:
    """'/cpu:0', '/device:CPU:0' and '/job:localhost/replica:0/task:0/device:CPU:0' alike."""
    tail = name.split("device:")[-1].lstrip("/")
    kind, _, index = tail.partition(":")
    return f"{kind.upper()}:{index or 0}"


def local_batch_size(batch_size: int, workers: int, strategy: Any) -> int:
    """Each worker's share of the global batch; the cases this loop does not cover.
    (Streaming under multi_worker is refused by the config schema, before any file.)"""
    if strategy.num_replicas_in_sync != workers:
        raise ConfigError(
            f"multi_worker expects one device per worker, but the cluster has {workers} "
            f"workers and {strategy.num_replicas_in_sync} replicas; hide the extra GPUs "
            "(CUDA_VISIBLE_DEVICES) or use mirrored on one machine"
        )
    if batch_size % workers:
        raise ConfigError(
            f"training.batch_size {batch_size} is the global batch and must divide evenly "
            f"among the {workers} workers"
        )
    return batch_size // workers


def shard_rows(count: int, seed: int, worker: int, workers: int) -> np.ndarray:
    """The training rows of one worker: a seeded permutation, every workers-th row."""
    order = np.random.default_rng(seed).permutation(count)
    return np.sort(order[worker::workers])


def common_steps(
    lengths: np.ndarray, seed: int, workers: int, batch_size: int, bucketing: bool
) -> int:
    """The fewest batches any worker's shard yields (every worker must take as many);
    `lengths`: the train texts' lengths as clipped, in row order."""
    from seqcls.text import length_histogram, steps_per_epoch

    shards = (lengths[shard_rows(len(lengths), seed, worker, workers)] for worker in range(workers))
    return min(steps_per_epoch(length_histogram(shard), batch_size, bucketing) for shard in shards)
