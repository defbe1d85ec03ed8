"""Training, stage 2: the Keras model for the prepared data, compiled with the task's
loss and metrics, its variables created under the distribution strategy and in
runtime.mixed_precision's dtype policy (the output layer stays float32)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from seqcls.config import Config
from seqcls.training.prepare import Prepared

Report = Callable[[str], None]


@dataclass
class Built:
    """The model: `core` (ids -> probabilities and attention weights) and `classifier`
    (ids -> probabilities, compiled: what fit trains)."""

    core: Any
    classifier: Any
    # What the user is told about it (pretrained vectors' coverage).
    notes: list[str]


def build(config: Config, prepared: Prepared, strategy: Any = None) -> Built:
    """Training, stage 2: the Keras model for the prepared data, its variables created
    under `strategy` (mirrored) and in runtime.mixed_precision's dtype policy."""
    from seqcls.modeling import build as model_lib
    from seqcls.modeling.ensemble import member_cores, members_compile_arguments
    from seqcls.training import distribute, runtime

    task = prepared.kind
    notes: list[str] = []
    with distribute.scope(strategy):
        with runtime.precision_policy(config.runtime.mixed_precision):
            # Layers compute in the policy's dtype; the output layer is float32 regardless.
            num_outputs = task.output_units(len(prepared.labels))
            core = model_lib.build_core_model(
                config,
                prepared.vocabulary.size,
                num_outputs,
                task.name,
                tokens=prepared.vocabulary.tokens,
            )
            classifier = model_lib.training_model(core)
        embedding = config.model.embedding
        if embedding.pretrained is not None:
            for member in member_cores(core):
                layer = member.get_layer("embedding")
                matrix, coverage = model_lib.load_pretrained_vectors(
                    embedding.pretrained,
                    prepared.vocabulary.tokens,
                    embedding.dim,
                    layer.get_weights()[0],
                )
                layer.set_weights([matrix])
            notes.append(f"pretrained vectors found for {coverage:.1%} of the vocabulary")
        smoothing = config.training.label_smoothing
        if config.model.ensemble > 1:
            arguments = members_compile_arguments(task, smoothing)
        else:
            arguments = {"loss": task.training_loss(smoothing), **task.compile_metrics()}
        classifier.compile(
            optimizer=model_lib.make_optimizer(config.training, prepared.steps), **arguments
        )
    return Built(core, classifier, notes)


def describe_model(
    config: Config, prepared: Prepared, built: Built, strategy: Any, device: str, report: Report
) -> None:
    """Tell the user what was built: pretrained coverage (a note kept in the manifest too),
    the strategy, the parameter count, the device and the cuDNN verdict."""
    from seqcls.training import runtime

    for note in built.notes:
        prepared.notes.append(note)
        report(f"embedding: {note} ({config.model.embedding.pretrained})")
    if strategy is not None:
        replicas = strategy.num_replicas_in_sync
        report(f"distribution: {config.runtime.distribution}, {replicas} replica(s)")
    precision = config.runtime.mixed_precision
    report(
        f"model: {built.classifier.count_params():,} parameters; device {device}"
        + (f"; precision {precision}" if precision != "none" else "")
    )
    report(runtime.cudnn_line(config, gpu_visible=device != "CPU"))
