import keras
import numpy as np

from seqcls.modeling.layers import AdditiveAttention, MaskedPooling, SequenceClip


def sequence_and_mask():
    generator = np.random.default_rng(0)
    sequence = generator.normal(size=(3, 6, 4)).astype("float32")
    lengths = np.array([3, 6, 1])
    mask = np.arange(6)[None, :] < lengths[:, None]
    return sequence, mask


def test_layers_attention_weights_sum_to_one_over_real_tokens_and_zero_on_padding():
    sequence, mask = sequence_and_mask()
    pooled, weights = AdditiveAttention()(sequence, mask=mask)
    weights = keras.ops.convert_to_numpy(weights)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-6)
    assert np.all(weights[~mask] == 0.0)  # exactly zero, not merely small
    assert np.all(weights[mask] > 0.0)
    assert keras.ops.convert_to_numpy(pooled).shape == (3, 4)


def test_layers_attention_matches_zhou_formula():
    sequence, mask = sequence_and_mask()
    layer = AdditiveAttention()
    pooled, weights = layer(sequence, mask=mask)
    w = keras.ops.convert_to_numpy(layer.score_weights)
    for row in range(3):
        real = sequence[row, mask[row]]  # H for real tokens: (time, features)
        scores = np.tanh(real) @ w  # w^T M, M = tanh(H)
        alpha = np.exp(scores - scores.max())
        alpha /= alpha.sum()
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(weights)[row, mask[row]], alpha, rtol=1e-5
        )
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(pooled)[row], np.tanh(alpha @ real), rtol=1e-5, atol=1e-6
        )


def test_layers_attention_with_no_real_token_gives_zeros_not_nan():
    sequence, _ = sequence_and_mask()
    pooled, weights = AdditiveAttention()(sequence, mask=np.zeros((3, 6), dtype=bool))
    assert np.all(keras.ops.convert_to_numpy(weights) == 0)
    assert np.all(keras.ops.convert_to_numpy(pooled) == 0)


def test_layers_masked_pooling_ignores_padding():
    sequence, mask = sequence_and_mask()
    sequence[~mask] = 1000.0  # padding values that would dominate if counted
    mean = keras.ops.convert_to_numpy(MaskedPooling("mean")(sequence, mask=mask))
    maximum = keras.ops.convert_to_numpy(MaskedPooling("max")(sequence, mask=mask))
    for row in range(3):
        np.testing.assert_allclose(mean[row], sequence[row, mask[row]].mean(axis=0), rtol=1e-5)
        np.testing.assert_allclose(maximum[row], sequence[row, mask[row]].max(axis=0), rtol=1e-6)


def test_layers_sequence_clip_truncates_and_fills_empty_rows():
    ids = np.array([[5, 6, 7, 8], [0, 0, 0, 0], [9, 0, 0, 0]])
    clipped = keras.ops.convert_to_numpy(SequenceClip(2)(ids))
    np.testing.assert_array_equal(clipped, [[5, 6, 0], [1, 0, 0], [9, 0, 0]])


def test_layers_round_trip_through_config():
    for layer in (
        SequenceClip(7, name="c"),
        MaskedPooling("max", name="p"),
        AdditiveAttention(name="a"),
    ):
        clone = layer.__class__.from_config(layer.get_config())
        assert clone.get_config() == layer.get_config()


def test_layers_bidirectional_declares_the_width_it_computes():
    from keras import layers

    from seqcls.modeling.layers import Bidirectional

    x = np.zeros((2, 4, 6), dtype="float32")
    for merge_mode, expected in (
        ("concat", (None, None, 8)),
        (None, [(None, None, 5), (None, None, 3)]),
    ):
        wrapper = Bidirectional(
            layers.LSTM(5, return_sequences=True),
            backward_layer=layers.GRU(3, return_sequences=True, go_backwards=True),
            merge_mode=merge_mode,
        )
        declared = wrapper.compute_output_shape((None, None, 6))
        computed = wrapper(x)
        if merge_mode is None:
            assert [tuple(s) for s in declared] == expected
            assert [tuple(t.shape) for t in computed] == [(2, 4, 5), (2, 4, 3)]
        else:
            assert tuple(declared) == expected
            assert tuple(computed.shape) == (2, 4, 8)


def test_layers_time_distributed_keeps_every_step_of_a_dynamic_time_axis():
    import tensorflow as tf
    from keras import layers

    from seqcls.modeling.layers import TimeDistributed

    dense = layers.Dense(3)
    inputs = keras.Input((None, 4))
    model = keras.Model(inputs, TimeDistributed(dense)(inputs))

    @tf.function(input_signature=[tf.TensorSpec([None, None, 4])])
    def run(batch):
        return model(batch)

    generator = np.random.default_rng(0)
    for shape in ((2, 5, 4), (6, 3, 4)):  # batch < time, then batch > time
        x = generator.normal(size=shape).astype("float32")
        y = run(x).numpy()
        assert y.shape == (*shape[:2], 3)
        # One Dense, shared weights, applied at every step.
        np.testing.assert_allclose(y, keras.ops.convert_to_numpy(dense(x)), atol=1e-5)
