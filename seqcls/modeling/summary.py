"""`seqcls summary`: the model a config builds, layer by layer, without data or training.

It answers the recurring questions about Keras recurrent models from the real
layers: what each weight's shape means, and what a Bidirectional merge mode
does to the width.
"""

from __future__ import annotations

from typing import Any

from seqcls.config import Config

GATES = {
    "LSTM": (4, "input, forget, cell candidate, output"),
    "GRU": (3, "update, reset, candidate"),
}


def _shape(tensor: Any) -> Any:
    if isinstance(tensor, (list, tuple)):
        return [_shape(item) for item in tensor]
    return list(tensor.shape)


def _recurrent(layer: Any, direction: str) -> dict[str, Any]:
    kind = type(layer).__name__
    count, gate_names = GATES[kind]
    units = layer.units
    weights = []
    for weight in layer.weights:
        name = weight.path.split("/")[-1]
        shape = list(weight.shape)
        if name == "kernel":
            meaning = (
                f"input features ({shape[0]}) -> the {count} gates ({gate_names}), "
                f"each units={units} wide: {count} * {units} = {shape[1]} columns"
            )
        elif name == "recurrent_kernel":
            meaning = (
                f"previous hidden state (units={units}) -> the same {count} gates: "
                f"{count} * {units} = {shape[1]} columns"
            )
        elif len(shape) == 2:  # GRU with reset_after: input and recurrent biases
            meaning = f"two biases (input and recurrent) for the {count} gates, {shape[1]} each"
        else:
            meaning = f"one bias per gate column: {count} * {units} = {shape[0]}"
        weights.append({"name": name, "shape": shape, "meaning": meaning})
    return {
        "layer": layer.name,
        "type": kind,
        "direction": direction,
        "units": units,
        "go_backwards": bool(layer.go_backwards),
        "return_sequences": bool(layer.return_sequences),
        "parameters": int(layer.count_params()),
        "weights": weights,
        "note": (
            f"one {kind} cell with {count} gates, each units={units} wide; "
            "units is the width of the hidden state, not a number of separate blocks"
        ),
    }


def _merge(layer: Any) -> dict[str, Any]:
    forward = layer.forward_layer.units
    backward = layer.backward_layer.units
    mode = layer.merge_mode
    if mode == "concat":
        effect, width = (
            f"concat: forward {forward} + backward {backward} -> {forward + backward}",
            forward + backward,
        )
    elif mode is None:
        effect = (
            f"none: two separate outputs, forward {forward} and backward {backward}; "
            "seqcls pools each on its own and concatenates the pooled vectors"
        )
        width = [forward, backward]
    else:
        op = {"sum": "f + b", "mul": "f * b", "ave": "(f + b) / 2"}[mode]
        effect, width = f"{mode}: element-wise {op}, width stays {forward}", forward
    return {
        "layer": layer.name,
        "merge_mode": "none" if mode is None else mode,
        "forward_units": forward,
        "backward_units": backward,
        "output_width": width,
        "effect": effect + "; no activation is applied after merging",
        "backward_is_time_reversed": "the backward layer reads the sequence last step first "
        "(go_backwards=True); its outputs are flipped back into input order before merging",
    }


def summarize(config: Config, vocab_size: int, num_classes: int) -> dict[str, Any]:
    """Build the core model for `config` and describe it as plain data."""
    from seqcls.modeling.build import build_core_model
    from seqcls.tasks import get_task, resolved_name

    task = resolved_name(config.task, num_classes)
    core = build_core_model(config, vocab_size, get_task(task).output_units(num_classes), task)
    return describe(core, task, vocab_size, num_classes)


def summarize_run(run: Any) -> dict[str, Any]:
    """Describe the model a finished run trained (seqcls.inference.predict.Run)."""
    from seqcls.run import readers

    core = run.model.get_layer("seqcls_core")
    vocab_size = len(readers.read_vocabulary(run.directory)["tokens"])
    if "network" not in {layer.name for layer in core.layers}:
        return describe(core, run.task, vocab_size, len(run.labels))
    # model.linear: the network's layers, and the branch blended with it.
    linear = core.get_layer("linear_ngrams")
    described = describe(core.get_layer("network"), run.task, vocab_size, len(run.labels))
    described["linear"] = {
        "ngrams": linear.ngrams,
        "features_seen": linear.used,
        "buckets": linear.buckets,
        "network_weight": core.get_layer("probabilities").weight,
    }
    return described


def describe(core: Any, task: str, vocab_size: int | None, num_classes: int) -> dict[str, Any]:
    """The core model's layers, recurrent weights and merges, as plain data."""
    import keras

    from seqcls.modeling.ensemble import member_cores

    # An ensemble's members are alike: the layers shown are the first member's.
    members = member_cores(core)
    layers, recurrent, merges = [], [], []
    for layer in members[0].layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        layers.append(
            {
                "name": layer.name,
                "type": type(layer).__name__,
                "output_shape": _shape(layer.output),
                "parameters": int(layer.count_params()),
            }
        )
        if isinstance(layer, keras.layers.Bidirectional):
            recurrent.append(_recurrent(layer.forward_layer, "forward"))
            recurrent.append(_recurrent(layer.backward_layer, "backward"))
            merges.append(_merge(layer))
        elif isinstance(layer, (keras.layers.LSTM, keras.layers.GRU)):
            recurrent.append(_recurrent(layer, "forward"))
    return {
        "task": task,
        "vocab_size": vocab_size,
        "num_classes": num_classes,
        "parameters": int(core.count_params()),
        "ensemble_members": len(members),
        "layers": layers,
        "recurrent_layers": recurrent,
        "bidirectional_layers": merges,
    }
