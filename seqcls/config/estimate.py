"""The number of parameters a model config describes, computed as modeling/build.py builds the
model, without TensorFlow (for the model-size limit of a new config)."""

from __future__ import annotations

from seqcls.config.sections import BackwardConfig, ModelConfig
from seqcls.modeling.subwords import MAX_NGRAMS


def _recurrent_parameters(cell: str, inputs: int, units: int) -> int:
    """Keras LSTM: 4 gates; GRU (reset_after, Keras' default): 3 gates with two biases."""
    if cell == "lstm":
        return 4 * units * (inputs + units + 1)
    return 3 * units * (inputs + units + 2)


def parameters_by_part(model: ModelConfig, max_tokens: int, per_token: bool) -> dict[str, int]:
    """Parameters of `model` (config.model), per part named by its config keys: an
    embedding of `max_tokens` rows, and no attention or pooling parameters when the task
    reads `per_token` (tagging). The output layer is left out (see estimate_parameters)."""
    encoder = model.encoder
    parts = {
        "the embedding (preprocessing.max_tokens x model.embedding.dim)": (
            max_tokens * model.embedding.dim
        )
    }
    subwords = model.embedding.subwords
    if subwords is not None:
        # The n-gram vectors, and the table of each token's n-gram rows (at most
        # modeling.subwords.MAX_NGRAMS per token: an upper bound).
        parts["the subwords (model.embedding.subwords.buckets x model.embedding.dim)"] = (
            subwords.buckets + 1
        ) * model.embedding.dim + max_tokens * MAX_NGRAMS
    backward = encoder.backward or BackwardConfig()
    backward_cell = backward.cell or encoder.cell
    width, recurrent = model.embedding.dim, 0
    for _ in range(encoder.num_layers):
        recurrent += _recurrent_parameters(encoder.cell, width, encoder.units)
        if encoder.bidirectional:
            recurrent += _recurrent_parameters(backward_cell, width, encoder.backward_units)
        width = encoder.output_width
    parts["the encoder (model.encoder.units, num_layers)"] = recurrent
    # merge_mode none: two streams, each attended or pooled on its own.
    if encoder.bidirectional and encoder.merge_mode == "none":
        streams = [encoder.units, encoder.backward_units]
    else:
        streams = [width]
    attention = model.attention
    if attention.type == "additive" and not per_token:
        parts["the attention"] = sum(streams)
    elif attention.type == "multihead" and not per_token:
        heads = attention.num_heads * attention.key_dim
        # query, key, value and output projections with biases; LayerNormalization.
        parts["the attention (model.attention.num_heads x key_dim)"] = sum(
            4 * stream * heads + 3 * heads + stream + 2 * stream for stream in streams
        )
    # Concat pooling puts each stream's mean and/or max beside its attended vector.
    width, head = sum(streams) * (1 + len(attention.concat_pooling)), 0
    for size in model.head.hidden:
        head += (width + 1) * size
        width = size
    parts["the head (model.head.hidden)"] = head
    # An ensemble holds model.ensemble copies of every part.
    return {part: count * model.ensemble for part, count in parts.items()}
