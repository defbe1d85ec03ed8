"""The Keras facts seqcls is built on (DESIGN.md, "Facts the model must reproduce"),
checked against the real layers, and the shapes of the models seqcls builds."""

import keras
import numpy as np
import pytest
from keras import layers

from seqcls.config import Config
from seqcls.modeling.build import (
    ATTENTION_WEIGHTS,
    PROBABILITIES,
    build_core_model,
    build_inference_model,
    training_model,
)
from seqcls.text import make_vectorizer

MERGE_MODES = ["concat", "sum", "mul", "ave", None]


@pytest.mark.parametrize(
    ("merge_mode", "width"), [("concat", 20), ("sum", 10), ("mul", 10), ("ave", 10)]
)
def test_model_fact_bidirectional_merge_mode_shapes(merge_mode, width):
    inputs = keras.Input(shape=(5, 15))
    outputs = layers.Bidirectional(layers.LSTM(10, return_sequences=True), merge_mode=merge_mode)(
        inputs
    )
    assert tuple(outputs.shape) == (None, 5, width)


def test_model_fact_merge_mode_none_gives_two_sequences():
    inputs = keras.Input(shape=(5, 15))
    outputs = layers.Bidirectional(layers.LSTM(10, return_sequences=True), merge_mode=None)(inputs)
    assert isinstance(outputs, (tuple, list)) and len(outputs) == 2
    assert [tuple(output.shape) for output in outputs] == [(None, 5, 10), (None, 5, 10)]


def test_model_fact_no_activation_after_merge():
    # sum of the two directions, each in (-1, 1): the merged values reach past 1,
    # so nothing squashes them after merging.
    generator = np.random.default_rng(0)
    x = generator.normal(size=(4, 5, 15)).astype("float32") * 5
    layer = layers.Bidirectional(layers.LSTM(10, return_sequences=True), merge_mode="sum")
    merged = keras.ops.convert_to_numpy(layer(x))
    forward = keras.ops.convert_to_numpy(layer.forward_layer(x))
    backward = np.flip(keras.ops.convert_to_numpy(layer.backward_layer(x)), axis=1)
    np.testing.assert_allclose(merged, forward + backward, atol=1e-5)


def test_model_fact_lstm_units_and_weight_shapes():
    lstm = layers.LSTM(10)
    lstm.build((None, None, 30))
    shapes = {weight.path.split("/")[-1]: tuple(weight.shape) for weight in lstm.weights}
    # One cell with four gates (input, forget, cell, output), each `units` wide.
    assert shapes == {"kernel": (30, 40), "recurrent_kernel": (10, 40), "bias": (40,)}


@pytest.mark.parametrize("merge_mode", MERGE_MODES)
def test_model_fact_backward_layer_equals_reversed_standalone_lstm(merge_mode):
    generator = np.random.default_rng(1)
    x = generator.normal(size=(3, 6, 4)).astype("float32")
    bidirectional = layers.Bidirectional(
        layers.LSTM(5, return_sequences=True),
        backward_layer=layers.LSTM(5, return_sequences=True, go_backwards=True),
        merge_mode=merge_mode,
    )
    merged = bidirectional(x)
    forward = layers.LSTM(5, return_sequences=True)
    backward = layers.LSTM(5, return_sequences=True, go_backwards=True)
    forward(x), backward(x)  # build: fresh weights, different from the wrapper's

    def expected():
        f = keras.ops.convert_to_numpy(forward(x))
        # go_backwards emits step T-1 first; Bidirectional flips it back into input order.
        b = np.flip(keras.ops.convert_to_numpy(backward(x)), axis=1)
        return {
            "concat": lambda: np.concatenate([f, b], axis=-1),
            "sum": lambda: f + b,
            "mul": lambda: f * b,
            "ave": lambda: (f + b) / 2,
            None: lambda: (f, b),
        }[merge_mode]()

    def as_numpy(value):
        if isinstance(value, (tuple, list)):
            return np.concatenate([keras.ops.convert_to_numpy(v) for v in value], axis=-1)
        return keras.ops.convert_to_numpy(value)

    merged_values = as_numpy(merged)
    assert not np.allclose(merged_values, as_numpy(expected()), atol=1e-4)
    forward.set_weights(bidirectional.forward_layer.get_weights())
    backward.set_weights(bidirectional.backward_layer.get_weights())
    np.testing.assert_allclose(merged_values, as_numpy(expected()), atol=1e-5)


def test_model_fact_return_sequences_and_time_distributed():
    x = np.random.default_rng(2).normal(size=(2, 7, 3)).astype("float32")
    sequences = layers.LSTM(6, return_sequences=True)
    all_steps = keras.ops.convert_to_numpy(sequences(x))
    last_only = layers.LSTM(6, return_sequences=False)
    last_only(x)
    last_only.set_weights(sequences.get_weights())
    assert all_steps.shape == (2, 7, 6)
    # return_sequences=False is the last step of the full sequence.
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(last_only(x)), all_steps[:, -1], atol=1e-6
    )
    dense = layers.Dense(4)
    per_step = keras.ops.convert_to_numpy(layers.TimeDistributed(dense)(all_steps))
    assert per_step.shape == (2, 7, 4)
    assert len(dense.weights) == 2  # one kernel and bias shared by every step
    for step in range(7):
        np.testing.assert_allclose(
            per_step[:, step], keras.ops.convert_to_numpy(dense(all_steps[:, step])), atol=1e-6
        )


def make_config(**model) -> Config:
    raw = {"data": {"train": "unused.csv"}, "model": model}
    return Config.model_validate(raw)


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave", "none"])
@pytest.mark.parametrize("attention", [{"type": "additive"}, {"type": "none", "pooling": "mean"}])
def test_model_core_shapes_for_each_merge_mode(merge_mode, attention):
    config = make_config(
        embedding={"dim": 6}, encoder={"units": 5, "merge_mode": merge_mode}, attention=attention
    )
    core = build_core_model(config, vocab_size=20, num_outputs=3)
    encoder_output = core.get_layer("bidirectional_1").output
    if merge_mode == "none":
        assert [tuple(t.shape) for t in encoder_output] == [(None, None, 5)] * 2
    else:
        assert tuple(encoder_output.shape) == (None, None, 10 if merge_mode == "concat" else 5)
    ids = np.array([[3, 4, 5, 0], [6, 0, 0, 0]])
    outputs = core(ids)
    assert tuple(outputs[PROBABILITIES].shape) == (2, 3)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(outputs[PROBABILITIES]).sum(axis=1), 1, atol=1e-5
    )
    if attention["type"] == "additive":
        names = (
            [ATTENTION_WEIGHTS]
            if merge_mode != "none"
            else [ATTENTION_WEIGHTS + "_forward", ATTENTION_WEIGHTS + "_backward"]
        )
        for name in names:
            weights = keras.ops.convert_to_numpy(outputs[name])
            assert weights.shape == (2, 4)
            np.testing.assert_allclose(weights.sum(axis=1), 1, atol=1e-5)
            assert np.all(weights[0, 3:] == 0) and np.all(weights[1, 1:] == 0)


@pytest.mark.parametrize(
    ("encoder", "attention"),
    [
        ({"merge_mode": "concat"}, {"type": "additive"}),
        ({"merge_mode": "none"}, {"type": "none", "pooling": "last"}),
        ({"merge_mode": "sum", "num_layers": 2}, {"type": "none", "pooling": "max"}),
        ({"bidirectional": False, "cell": "gru"}, {"type": "none", "pooling": "last"}),
        ({"merge_mode": "ave"}, {"type": "none", "pooling": "mean"}),
    ],
)
def test_model_prediction_does_not_change_with_extra_padding(encoder, attention):
    config = make_config(embedding={"dim": 6}, encoder={"units": 5, **encoder}, attention=attention)
    core = build_core_model(config, vocab_size=20, num_outputs=4)
    short = np.array([[3, 4, 5, 0], [7, 8, 0, 0]])
    long = np.pad(short, [[0, 0], [0, 9]])
    a = keras.ops.convert_to_numpy(core(short)[PROBABILITIES])
    b = keras.ops.convert_to_numpy(core(long)[PROBABILITIES])
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_model_binary_task_has_one_sigmoid_output():
    core = build_core_model(
        make_config(encoder={"units": 4}), vocab_size=10, num_outputs=1, task="binary"
    )
    classifier = training_model(core)
    assert tuple(classifier.output.shape) == (None, 1)
    assert core.get_layer(PROBABILITIES).activation.__name__ == "sigmoid"


def test_model_inference_model_takes_raw_strings_and_truncates(tmp_path):
    config = make_config(embedding={"dim": 6}, encoder={"units": 5})
    tokens = ["", "[UNK]", "card", "lost", "rate"]
    core = build_core_model(config, vocab_size=len(tokens), num_outputs=3)
    vectorizer = make_vectorizer(config.preprocessing, tokens)
    inference = build_inference_model(core, vectorizer, max_length=3)
    outputs = inference(keras.ops.convert_to_tensor(["Lost card!", "", "rate rate rate rate rate"]))
    weights = keras.ops.convert_to_numpy(outputs[ATTENTION_WEIGHTS])
    # Longest text cut to 3 tokens, plus SequenceClip's one padding column.
    assert weights.shape == (3, 4)
    # The empty text is one OOV step, never a fully masked row.
    np.testing.assert_allclose(weights[1], [1, 0, 0, 0], atol=1e-6)
    np.testing.assert_allclose(weights.sum(axis=1), 1, atol=1e-5)
    path = tmp_path / "m.keras"
    inference.save(path)
    reloaded = keras.models.load_model(path, safe_mode=True)
    again = reloaded(keras.ops.convert_to_tensor(["Lost card!", "", "rate rate rate rate rate"]))
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(again[PROBABILITIES]),
        keras.ops.convert_to_numpy(outputs[PROBABILITIES]),
        atol=1e-6,
    )


def test_model_pretrained_vectors_fill_found_rows_and_check_dimension(tmp_path):
    import gzip

    from seqcls.errors import ConfigError, DataError
    from seqcls.modeling.build import load_pretrained_vectors

    path = tmp_path / "vectors.txt.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write("card 1 2 3\nrate 4 5 6\nunused 7 8 9\n")
    tokens = ["", "[UNK]", "card", "Rate", "missing"]
    initial = np.full((5, 3), 0.5, dtype="float32")
    matrix, coverage = load_pretrained_vectors(path, tokens, 3, initial)
    np.testing.assert_array_equal(matrix[0], 0)  # padding row
    np.testing.assert_array_equal(matrix[2], [1, 2, 3])
    np.testing.assert_array_equal(matrix[3], [4, 5, 6])  # matched lowercased
    np.testing.assert_array_equal(matrix[4], 0.5)  # not found: keeps its initial value
    assert coverage == pytest.approx(2 / 3)
    with pytest.raises(ConfigError, match="model.embedding.dim is 4 but .* 3-dimensional"):
        load_pretrained_vectors(path, tokens, 4, np.zeros((5, 4), dtype="float32"))
    with pytest.raises(DataError, match="pretrained vectors not found"):
        load_pretrained_vectors(tmp_path / "nope.txt", tokens, 3, initial)
    word2vec = tmp_path / "vectors.w2v.txt"  # word2vec text format: a "<count> <dim>" header
    word2vec.write_text("2 3\ncard 1 2 3\nrate 4 5 6\n", encoding="utf-8")
    matrix, coverage = load_pretrained_vectors(word2vec, tokens, 3, initial)
    np.testing.assert_array_equal(matrix[3], [4, 5, 6])
    assert coverage == pytest.approx(2 / 3)


@pytest.mark.parametrize("merge_mode", ["concat", "none"])
def test_model_separately_configured_backward_layer(merge_mode):
    config = make_config(
        embedding={"dim": 6},
        encoder={"units": 5, "merge_mode": merge_mode, "backward": {"cell": "gru", "units": 3}},
        attention={"type": "none", "pooling": "mean"},
    )
    core = build_core_model(config, vocab_size=20, num_outputs=2)
    bidirectional = core.get_layer("bidirectional_1")
    assert isinstance(bidirectional.forward_layer, layers.LSTM)
    assert isinstance(bidirectional.backward_layer, layers.GRU)
    assert bidirectional.backward_layer.go_backwards and bidirectional.backward_layer.units == 3
    output = bidirectional.output
    if merge_mode == "concat":
        assert tuple(output.shape) == (None, None, 8)  # 5 forward + 3 backward
    else:
        assert [tuple(t.shape) for t in output] == [(None, None, 5), (None, None, 3)]
    assert config.model.encoder.output_width == 8


def test_model_stacked_encoder_with_residual_connections():
    config = make_config(
        embedding={"dim": 6},
        encoder={"units": 4, "num_layers": 3, "residual": True},
        attention={"type": "additive"},
    )
    core = build_core_model(config, vocab_size=20, num_outputs=2)
    names = [layer.name for layer in core.layers]
    assert {"bidirectional_1", "bidirectional_2", "bidirectional_3"} <= set(names)
    assert {"residual_2", "residual_3"} <= set(names) and "residual_1" not in names
    # Intermediate layers return sequences; every layer is (batch, time, 2 * units).
    for index in (1, 2, 3):
        assert tuple(core.get_layer(f"bidirectional_{index}").output.shape) == (None, None, 8)


@pytest.mark.parametrize("pooling", ["mean", "max"])
def test_model_multihead_attention_ignores_padding_and_round_trips(tmp_path, pooling):
    config = make_config(
        embedding={"dim": 6},
        encoder={"units": 4},
        attention={"type": "multihead", "num_heads": 2, "key_dim": 3, "pooling": pooling},
    )
    core = build_core_model(config, vocab_size=20, num_outputs=3)
    short = np.array([[3, 4, 5, 0], [7, 0, 0, 0]])
    long = np.pad(short, [[0, 0], [0, 6]])
    a = keras.ops.convert_to_numpy(core(short)[PROBABILITIES])
    np.testing.assert_allclose(a, keras.ops.convert_to_numpy(core(long)[PROBABILITIES]), atol=1e-6)
    # One weight per token (attention received, averaged over heads and real queries):
    # sums to 1 over real tokens, exactly 0 on padding, unchanged by extra padding.
    weights = keras.ops.convert_to_numpy(core(short)[ATTENTION_WEIGHTS])
    assert weights.shape == (2, 4)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-5)
    assert np.all(weights[short == 0] == 0) and np.all(weights[short != 0] > 0)
    assert weights[1, 0] == pytest.approx(1.0)
    padded_weights = keras.ops.convert_to_numpy(core(long)[ATTENTION_WEIGHTS])
    np.testing.assert_allclose(padded_weights[:, :4], weights, atol=1e-6)
    path = tmp_path / "core.keras"
    core.save(path)
    reloaded = keras.models.load_model(path, safe_mode=True)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(reloaded(short)[PROBABILITIES]), a, atol=1e-6
    )


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave", "none"])
def test_model_tagging_gives_one_distribution_per_step_for_each_merge_mode(merge_mode):
    config = Config.model_validate(
        {
            "task": "tagging",
            "data": {"train": "unused.csv"},
            "preprocessing": {"strip_punctuation": False},
            "model": {
                "embedding": {"dim": 6},
                "encoder": {"units": 5, "merge_mode": merge_mode},
                "attention": {"type": "none"},
            },
        }
    )
    core = build_core_model(config, vocab_size=20, num_outputs=4, task="tagging")
    short = np.array([[3, 4, 5, 0], [7, 8, 0, 0]])
    probabilities = keras.ops.convert_to_numpy(core(short)[PROBABILITIES])
    assert probabilities.shape == (2, 4, 4)
    np.testing.assert_allclose(probabilities.sum(axis=-1), 1, atol=1e-5)
    # Extra padding changes nothing at the real steps.
    padded = keras.ops.convert_to_numpy(core(np.pad(short, [[0, 0], [0, 5]]))[PROBABILITIES])
    np.testing.assert_allclose(padded[0, :3], probabilities[0, :3], atol=1e-6)
    np.testing.assert_allclose(padded[1, :2], probabilities[1, :2], atol=1e-6)
