"""The training loop under a tf.distribute strategy (runtime.distribution mirrored or
multi_worker), with Keras fit's semantics: see distribute.py for why seqcls has it.

The callbacks are the ones fit gets, driven through a `keras.callbacks.CallbackList`
with fit's hooks and logs (train batch begin/end, test begin/end, epoch begin/end), so
the epoch log, TensorBoard and a user's callbacks see what fit would show them. The loss,
the per-row accuracy and the class weights come from the task object. A step computes the
loss over the replica's rows, divides it by the number of rows in the whole global batch
(an all-reduce of the row counts, so partial batches weigh right) and lets the Keras
optimizer apply the gradients (summed across workers by the strategy). Validation runs on
every worker (identical weights, identical numbers), so every worker takes the same
early-stopping and NaN-guard decisions. A SIGINT/SIGTERM is held back and sent with the
next step (summed like the loss), so all workers stop after the same step.
"""

from __future__ import annotations

import math
import signal
from contextlib import contextmanager
from typing import Any

from seqcls.errors import ConfigError


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
    label_smoothing: float = 0.0,
) -> None:
    """Epochs `initial_epoch`..`epochs` of `steps` steps, as Keras' fit runs them.

    Multi-worker: `train_data` is this worker's shard in per-replica batches.
    Mirrored: `train_data` holds global batches, each split across the devices.
    """
    import keras

    from seqcls.tasks import get_task

    kind = get_task(task)
    if not kind.supports_distribution:  # the config validator refuses it first
        raise ConfigError(f"runtime.distribution cannot train task {task}")
    step = _train_step(strategy, model, kind, class_weight, label_smoothing)
    distributed = _distributed_dataset(strategy, train_data)
    hooks = keras.callbacks.CallbackList(
        callbacks, model=model, epochs=epochs, steps=steps, verbose=0
    )
    model.stop_training = False
    hooks.on_train_begin()
    # A signal (Ctrl-C, SIGTERM) is held back until every worker knows of it (see
    # _votes): the epoch log acts on it after the same step everywhere.
    with _deferred_signals(interrupt) as pending:
        for epoch in range(initial_epoch, epochs):
            hooks.on_epoch_begin(epoch)
            # continuous (training.steps_per_epoch): the repeated data carries on across epochs.
            if not continuous or epoch == initial_epoch:
                iterator = iter(distributed)
            logs = _train_epoch(step, iterator, steps, hooks, model, pending, interrupt)
            if not math.isfinite(logs["loss"]) or model.stop_training:
                hooks.on_epoch_end(epoch, logs)
                break
            hooks.on_test_begin()
            validation = _evaluate(model, valid_data, kind, label_smoothing)
            hooks.on_test_end(validation)
            logs.update({f"val_{name}": value for name, value in validation.items()})
            hooks.on_epoch_end(epoch, logs)
            if model.stop_training:
                break
    if pending and interrupt is not None and interrupt.signal is None:
        interrupt.signal = pending[0]  # after the last step: this worker alone stops
    hooks.on_train_end()


def _train_epoch(
    step: Any, iterator: Any, steps: int, hooks: Any, model: Any, pending: list, interrupt: Any
) -> dict[str, float]:
    """One epoch's steps; returns its loss and accuracy over the rows it trained on."""
    import tensorflow as tf

    loss_sum = correct_sum = rows_sum = 0.0
    for batch in range(steps):
        hooks.on_train_batch_begin(batch)
        votes = tf.constant([signal.SIGINT in pending, signal.SIGTERM in pending], tf.float32)
        loss, correct, rows, stops = step(iterator, votes)
        stops = stops.numpy()
        if interrupt is not None and interrupt.signal is None and stops.any():
            # A worker (this one or another) was interrupted: all stop after this step.
            interrupt.signal = signal.SIGTERM if stops[1] else signal.SIGINT
        loss_sum += float(loss)
        correct_sum += float(correct)
        rows_sum += float(rows)
        hooks.on_train_batch_end(
            batch, {"loss": loss_sum / rows_sum, "accuracy": correct_sum / rows_sum}
        )
        if model.stop_training:
            break
    return {
        "accuracy": correct_sum / max(rows_sum, 1.0),
        "loss": loss_sum / max(rows_sum, 1.0),
    }


def _distributed_dataset(strategy: Any, train_data: Any) -> Any:
    import tensorflow as tf

    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        # Already this worker's shard in per-replica batches: no re-sharding or
        # re-batching by the strategy.
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
        train_data = train_data.with_options(options)
        return strategy.distribute_datasets_from_function(lambda context: train_data)
    # Each global batch is split across the devices, rows in order (a short batch may
    # leave a device with no rows: it then contributes nothing).
    return strategy.experimental_distribute_dataset(train_data)


def _train_step(
    strategy: Any,
    model: Any,
    kind: Any,
    class_weight: dict[int, float] | None,
    label_smoothing: float,
):
    """A tf.function: one step on every replica -> (summed loss, correct rows, rows,
    stop votes), each summed over the replicas."""
    import tensorflow as tf

    loss_object = kind.loss_object(label_smoothing)
    weights = None
    if class_weight:
        weights = tf.constant([class_weight[i] for i in range(len(class_weight))], tf.float32)
    optimizer = model.optimizer
    if not optimizer.built:
        # Its slots (moments) must exist, mirrored, before the step function is traced.
        with strategy.scope():
            optimizer.build(model.trainable_variables)

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
        correct = kind.correct_per_row(probabilities, targets)
        # tf.identity: one tensor per replica (the same tensor from every replica would be
        # taken for a single non-distributed value, which strategy.reduce refuses).
        return tf.reduce_sum(per_row), tf.reduce_sum(correct), rows, tf.identity(stop_votes)

    @tf.function
    def train_step(iterator, stop_votes):
        ids, targets = next(iterator)
        results = strategy.run(replica_step, args=(ids, targets, stop_votes))
        return [strategy.reduce(tf.distribute.ReduceOp.SUM, value, axis=None) for value in results]

    return train_step


def _evaluate(model: Any, valid_data: Any, kind: Any, label_smoothing: float) -> dict[str, float]:
    """Loss and accuracy on the validation batches (unweighted, as fit reports them)."""
    import tensorflow as tf

    loss_object = kind.loss_object(label_smoothing)
    total_loss = total_correct = total_rows = 0.0
    for ids, targets in valid_data:
        probabilities = model(ids, training=False)
        total_loss += float(tf.reduce_sum(loss_object(targets, probabilities)))
        total_correct += float(tf.reduce_sum(kind.correct_per_row(probabilities, targets)))
        total_rows += int(ids.shape[0])
    return {"loss": total_loss / total_rows, "accuracy": total_correct / total_rows}


@contextmanager
def _deferred_signals(interrupt: Any):
    """Record SIGINT/SIGTERM in a list instead of in `interrupt` (which makes the epoch
    log stop at once); the training loop moves it there once all workers agree. A second
    signal stops at once, as without distribution."""
    pending: list[int] = []
    if interrupt is None:
        yield pending
        return

    from seqcls.training.signals import signals_handled

    def handler(signum, frame):
        if pending or interrupt.signal is not None:
            raise KeyboardInterrupt
        pending.append(signum)

    with signals_handled(handler):
        yield pending
