"""model.ensemble: several copies of the model, each from its own random initialisation,
trained side by side in one Keras model and averaged into one prediction.

Averaging the probabilities of independently initialised networks removes much of the
variance a single network has on small data (three banking77 runs that differ only in
their seed score 0.869-0.877 on test; their average 0.901). Training the members inside
one model keeps one run: one checkpoint per epoch, exact resume, one model.keras that
predict, explain and export use as they use any other; TensorFlow can run the members'
independent steps in parallel on the cores.

Each member is trained on its own loss (MembersLoss averages the members' losses, it
does not take the loss of the averaged prediction, which would make the members work
as one wider model instead of independent ones); the metric (members_accuracy) is that
of the average, which is what validation, early stopping and predict see.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import layers, ops

from seqcls.modeling.layers import PACKAGE
from seqcls.modeling.outputs import MEMBER_PROBABILITIES, PROBABILITIES


@keras.saving.register_keras_serializable(package=PACKAGE)
class MemberStack(keras.layers.Layer):
    """A list of N tensors (batch, ...) -> (batch, N, ...). A tagging member's padding
    mask (batch, time), the same for every member, is passed on: the members' loss is
    then averaged over real tokens, as a single model's is."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def compute_mask(self, inputs, mask=None):
        return None if mask is None else mask[0]

    def call(self, values):
        return ops.stack(values, axis=1)

    def compute_output_shape(self, shapes):
        first = tuple(shapes[0])
        return (first[0], len(shapes), *first[1:])


def ensemble_core(members: list[keras.Model]) -> keras.Model:
    """One core from member cores (each token ids -> dict of outputs): every output
    averaged over the members, plus MEMBER_PROBABILITIES (batch, members, ...)."""
    ids = keras.Input(shape=(None,), dtype="int64", name="token_ids")
    outputs = [member(ids) for member in members]
    combined: dict[str, Any] = {}
    for key in outputs[0]:
        # float32 whatever the precision policy: probabilities and attention weights are
        # outputs, as the members' output layers are.
        combined[key] = layers.Average(name=key, dtype="float32")(
            [output[key] for output in outputs]
        )
    combined[MEMBER_PROBABILITIES] = MemberStack(name=MEMBER_PROBABILITIES, dtype="float32")(
        [output[PROBABILITIES] for output in outputs]
    )
    return keras.Model(ids, combined, name="seqcls_core")


def member_cores(core: keras.Model) -> list[keras.Model]:
    """The member models of an ensemble core; a single model is its own only member."""
    if MEMBER_PROBABILITIES not in core.output:
        return [core]
    return [layer for layer in core.layers if isinstance(layer, keras.Model)]


@keras.saving.register_keras_serializable(package=PACKAGE)
class MembersLoss(keras.losses.Loss):
    """The mean over members of `loss` (a per-row loss, reduction None) for targets
    (batch, ...) and the members' probabilities (batch, members, ...)."""

    def __init__(self, loss: Any, reduction="sum_over_batch_size", name="members_loss", **kwargs):
        super().__init__(reduction=reduction, name=name, **kwargs)
        self.loss = keras.losses.deserialize(loss) if isinstance(loss, dict) else loss

    def call(self, y_true, y_pred):
        values = [self.loss(y_true, y_pred[:, index]) for index in range(y_pred.shape[1])]
        return ops.mean(ops.stack(values, axis=0), axis=0)

    def get_config(self) -> dict:
        return {**super().get_config(), "loss": keras.losses.serialize(self.loss)}


@keras.saving.register_keras_serializable(package=PACKAGE)
def members_accuracy(y_true, y_pred):
    """The accuracy of the members' average, chosen as Keras chooses what "accuracy" means
    for a single model: binary for one sigmoid unit, sparse categorical for integer
    targets, categorical otherwise (multilabel's multi-hot targets)."""
    average = ops.mean(y_pred, axis=1)
    if average.shape[-1] == 1:
        return keras.metrics.binary_accuracy(y_true, average)
    if len(y_true.shape) < len(average.shape):
        return keras.metrics.sparse_categorical_accuracy(y_true, average)
    return keras.metrics.categorical_accuracy(y_true, average)


def members_compile_arguments(task: Any, label_smoothing: float) -> dict[str, Any]:
    """compile's loss and metrics for an ensemble of `task` (tasks.base.Task): the
    members' mean loss and the accuracy of their average, under the name `accuracy`
    that the monitors (val_accuracy) and the display read."""
    metric = keras.metrics.MeanMetricWrapper(members_accuracy, name="accuracy")
    arguments = {key: [metric] for key in task.compile_metrics()}
    return {"loss": MembersLoss(task.loss_object(label_smoothing)), **arguments}
