"""runtime.distribution: tf.distribute strategies.

- mirrored: `tf.distribute.MirroredStrategy` over the visible GPUs (or
  `runtime.devices`). The model is built and compiled (and a resumed run's optimizer
  state restored) under its scope; it trains with the same loop as multi_worker
  (`fit_distributed`), each global batch split across the devices.
- multi_worker: `tf.distribute.MultiWorkerMirroredStrategy`, the cluster read from
  `TF_CONFIG`. With Keras 3.15.1, `model.fit` under this strategy fails
  (keras-team/keras#20585, tensorflow/tensorflow#72388), so seqcls trains with its own
  loop (`fit_distributed`): `strategy.run` of a step that computes the loss over the
  replica's rows, divides it by the number of rows in the whole global batch (an
  all-reduce of the row counts, so partial batches weigh right) and lets the Keras
  optimizer apply the gradients (summed across workers by the strategy). The epoch log
  callback of progress.py is driven by hand with the all-reduced loss and accuracy and
  with validation computed on every worker (identical weights, identical numbers), so
  every worker takes the same early-stopping and NaN-guard decisions. A SIGINT/SIGTERM
  is held back and sent with the next step (summed like the loss), so all workers stop
  after the same step; mixed_float16's loss scale is applied (`optimizer.scale_loss`).

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
import math
import os
import signal
from contextlib import contextmanager, nullcontext
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
    """The fewest batches any worker's shard yields (every worker must take as many)."""
    from seqcls.text import steps_per_epoch

    return min(
        steps_per_epoch(
            lengths[shard_rows(len(lengths), seed, worker, workers)], batch_size, bucketing
        )
        for worker in range(workers)
    )


def fit_distributed(
    *,
    strategy: Any,
    model: Any,
    train_data: Any,
    steps: int,
    valid_data: Any,
    epochs: int,
    initial_epoch: int,
    callbacks: list[Any],
    task: str,
    class_weight: dict[int, float] | None,
    continuous: bool = False,
    interrupt: Any = None,
) -> None:
    """Keras-fit semantics under a tf.distribute strategy (see the module docstring):
    epochs of `steps` steps, the callbacks driven as fit drives them.

    Multi-worker: `train_data` is this worker's shard in per-replica batches.
    Mirrored: `train_data` holds global batches, each split across the devices.
    """
    import keras
    import tensorflow as tf

    if task == "tagging":
        raise ConfigError(
            "runtime.distribution mirrored/multi_worker supports text-level tasks; tagging "
            "needs per-token weights this loop does not handle; set runtime.distribution: none"
        )
    sparse = task in ("multiclass",)
    loss_object = (
        keras.losses.SparseCategoricalCrossentropy(reduction=None)
        if sparse
        else keras.losses.BinaryCrossentropy(reduction=None)
    )
    weights = None
    if class_weight:
        weights = tf.constant([class_weight[i] for i in range(len(class_weight))], tf.float32)
    optimizer = model.optimizer
    if not optimizer.built:
        # Its slots (moments) must exist, mirrored, before the step function is traced.
        with strategy.scope():
            optimizer.build(model.trainable_variables)
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        # Already this worker's shard in per-replica batches: no re-sharding or
        # re-batching by the strategy.
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
        train_data = train_data.with_options(options)
        distributed = strategy.distribute_datasets_from_function(lambda context: train_data)
    else:
        # Each global batch is split across the devices, rows in order (a short batch
        # may leave a device with no rows: it then contributes nothing).
        distributed = strategy.experimental_distribute_dataset(train_data)

    def correct_per_row(probabilities, targets):
        """Keras' accuracy per row: the argmax (multiclass), or the share of the sigmoid
        outputs on the right side of 0.5 (binary, multilabel)."""
        if sparse:
            hits = tf.equal(tf.argmax(probabilities, axis=-1), tf.cast(targets, tf.int64))
            return tf.cast(hits, tf.float32)
        hits = tf.equal(tf.cast(probabilities > 0.5, tf.float32), tf.cast(targets, tf.float32))
        return tf.reduce_mean(tf.cast(hits, tf.float32), axis=-1)

    def replica_step(ids, targets, stop_votes):
        with tf.GradientTape() as tape:
            probabilities = model(ids, training=True)
            per_row = loss_object(targets, probabilities)
            if weights is not None:
                indices = tf.cast(tf.reshape(targets, [-1]), tf.int32)
                per_row = per_row * tf.gather(weights, indices)
            rows = tf.cast(tf.shape(ids)[0], tf.float32)
            context = tf.distribute.get_replica_context()
            global_rows = context.all_reduce(tf.distribute.ReduceOp.SUM, rows)
            loss = tf.reduce_sum(per_row) / global_rows
            # mixed_float16: compile wrapped the optimizer in a LossScaleOptimizer, which
            # divides the gradients by its scale; unscaled, they would shrink ~32768x.
            # Any other optimizer returns the loss as it is.
            scaled_loss = optimizer.scale_loss(loss)
        gradients = tape.gradient(scaled_loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        correct = correct_per_row(probabilities, targets)
        # tf.identity: one tensor per replica (the same tensor from every replica would be
        # taken for a single non-distributed value, which strategy.reduce refuses).
        return tf.reduce_sum(per_row), tf.reduce_sum(correct), rows, tf.identity(stop_votes)

    @tf.function
    def train_step(iterator, stop_votes):
        ids, targets = next(iterator)
        results = strategy.run(replica_step, args=(ids, targets, stop_votes))
        return [strategy.reduce(tf.distribute.ReduceOp.SUM, value, axis=None) for value in results]

    def votes() -> Any:
        # (SIGINT seen, SIGTERM seen) on this worker; summed over all replicas in the
        # step, so every worker learns of a signal any one of them got and all stop after
        # the same step (one stopping alone would leave the others in a collective forever).
        return tf.constant([signal.SIGINT in pending, signal.SIGTERM in pending], tf.float32)

    def evaluate() -> dict[str, float]:
        total_loss = total_correct = total_rows = 0.0
        for ids, targets in valid_data:
            probabilities = model(ids, training=False)
            total_loss += float(tf.reduce_sum(loss_object(targets, probabilities)))
            total_correct += float(tf.reduce_sum(correct_per_row(probabilities, targets)))
            total_rows += int(ids.shape[0])
        return {"val_loss": total_loss / total_rows, "val_accuracy": total_correct / total_rows}

    for callback in callbacks:
        callback.set_model(model)
    model.stop_training = False
    for callback in callbacks:
        callback.on_train_begin()
    # A signal (Ctrl-C, SIGTERM) is held back until every worker knows of it (see
    # votes): the epoch log acts on it after the same step everywhere.
    with _deferred_signals(interrupt) as pending:
        for epoch in range(initial_epoch, epochs):
            for callback in callbacks:
                callback.on_epoch_begin(epoch)
            # continuous (training.steps_per_epoch): the repeated data carries on across epochs.
            if not continuous or epoch == initial_epoch:
                iterator = iter(distributed)
            loss_sum = correct_sum = rows_sum = 0.0
            for step in range(steps):
                loss, correct, rows, stops = train_step(iterator, votes())
                loss, correct, rows = float(loss), float(correct), float(rows)
                stops = stops.numpy()
                if interrupt is not None and interrupt.signal is None and stops.any():
                    # A worker (this one or another) was interrupted: all stop after this step.
                    interrupt.signal = signal.SIGTERM if stops[1] else signal.SIGINT
                loss_sum, correct_sum, rows_sum = (
                    loss_sum + loss,
                    correct_sum + correct,
                    rows_sum + rows,
                )
                logs = {"loss": loss_sum / rows_sum, "accuracy": correct_sum / rows_sum}
                for callback in callbacks:
                    callback.on_train_batch_end(step, logs)
                if model.stop_training:
                    break
            logs = {
                "accuracy": correct_sum / max(rows_sum, 1.0),
                "loss": loss_sum / max(rows_sum, 1.0),
            }
            if not math.isfinite(logs["loss"]) or model.stop_training:
                for callback in callbacks:
                    callback.on_epoch_end(epoch, logs)
                break
            logs.update(evaluate())
            for callback in callbacks:
                callback.on_epoch_end(epoch, logs)
            if model.stop_training:
                break
    if pending and interrupt is not None and interrupt.signal is None:
        interrupt.signal = pending[0]  # after the last step: this worker alone stops
    for callback in callbacks:
        callback.on_train_end()


@contextmanager
def _deferred_signals(interrupt: Any):
    """Record SIGINT/SIGTERM in a list instead of in `interrupt` (which makes the epoch
    log stop at once); the training loop moves it there once all workers agree. A second
    signal stops at once, as without distribution."""
    pending: list[int] = []
    if interrupt is None:
        yield pending
        return

    from seqcls.progress import signals_handled

    def handler(signum, frame):
        if pending or interrupt.signal is not None:
            raise KeyboardInterrupt
        pending.append(signum)

    with signals_handled(handler):
        yield pending
