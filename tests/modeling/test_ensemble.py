"""model.ensemble: members trained side by side in one Keras model, each on its own
loss, predicting with their average (real layers, real training on tiny files)."""

import keras
import numpy as np
import pytest

from seqcls.config import Config, estimate_parameters, validate_config
from seqcls.errors import ConfigError
from seqcls.modeling.build import PROBABILITIES, build_core_model, training_model
from seqcls.modeling.ensemble import MembersLoss, member_cores
from seqcls.modeling.outputs import ATTENTION_WEIGHTS, MEMBER_PROBABILITIES
from seqcls.tasks import get_task


def make_config(members: int, **model) -> Config:
    model = {"embedding": {"dim": 6}, "encoder": {"units": 5}, "ensemble": members, **model}
    return Config.model_validate({"data": {"train": "unused.csv"}, "model": model})


def numpy(value):
    return keras.ops.convert_to_numpy(value)


def test_ensemble_outputs_are_the_members_averages():
    core = build_core_model(make_config(3), vocab_size=20, num_outputs=4)
    members = member_cores(core)
    assert [member.name for member in members] == ["member_1", "member_2", "member_3"]
    # Each member starts from its own random initialisation.
    first, second = (member.get_layer("embedding").get_weights()[0] for member in members[:2])
    assert not np.allclose(first, second)
    ids = np.array([[3, 4, 5, 0], [6, 0, 0, 0]])
    outputs = core(ids)
    own = [member(ids) for member in members]
    for key in (PROBABILITIES, ATTENTION_WEIGHTS):
        expected = np.mean([numpy(output[key]) for output in own], axis=0)
        np.testing.assert_allclose(numpy(outputs[key]), expected, atol=1e-6)
    stacked = numpy(outputs[MEMBER_PROBABILITIES])
    assert stacked.shape == (2, 3, 4)
    np.testing.assert_allclose(stacked[:, 1], numpy(own[1][PROBABILITIES]), atol=1e-6)
    # Averaged attention still sums to 1 over real tokens and is 0 on padding.
    weights = numpy(outputs[ATTENTION_WEIGHTS])
    np.testing.assert_allclose(weights.sum(axis=1), 1, atol=1e-5)
    assert np.all(weights[1, 1:] == 0)
    assert tuple(training_model(core).output.shape) == (None, 3, 4)


def test_ensemble_prediction_does_not_change_with_extra_padding():
    config = make_config(2, encoder={"units": 5, "merge_mode": "none"})
    core = build_core_model(config, vocab_size=20, num_outputs=3)
    short = np.array([[3, 4, 5, 0], [7, 8, 0, 0]])
    long = np.pad(short, [[0, 0], [0, 6]])
    np.testing.assert_allclose(
        numpy(core(short)[PROBABILITIES]), numpy(core(long)[PROBABILITIES]), atol=1e-6
    )


def test_ensemble_loss_is_the_mean_of_the_members_losses():
    rng = np.random.default_rng(0)
    members = rng.dirichlet(np.ones(4), size=(5, 3)).astype("float32")  # (batch, members, K)
    targets = rng.integers(0, 4, size=5)
    weights = rng.uniform(0.5, 2, size=5).astype("float32")
    for smoothing in (0.0, 0.1):
        inner = get_task("multiclass").loss_object(smoothing)
        ours = float(MembersLoss(inner)(targets, members, sample_weight=weights))
        outer = get_task("multiclass").loss_object(smoothing, reduction="sum_over_batch_size")
        each = [float(outer(targets, members[:, m], sample_weight=weights)) for m in range(3)]
        assert ours == pytest.approx(np.mean(each), rel=1e-5)
    restored = MembersLoss.from_config(MembersLoss(inner).get_config())
    assert float(restored(targets, members)) == pytest.approx(
        float(MembersLoss(inner)(targets, members))
    )


def tagging_config() -> Config:
    """A 2-member tagging ensemble (tagging needs punctuation kept and no attention)."""
    model = {
        "embedding": {"dim": 4},
        "encoder": {"units": 3},
        "attention": {"type": "none"},
        "ensemble": 2,
    }
    raw = {
        "task": "tagging",
        "data": {"train": "unused.csv"},
        "preprocessing": {"strip_punctuation": False},
        "model": model,
    }
    return Config.model_validate(raw)


def test_ensemble_tagging_has_members_per_token():
    config = tagging_config()
    core = build_core_model(config, vocab_size=10, num_outputs=5, task="tagging")
    outputs = core(np.array([[2, 3, 4, 0]]))
    assert numpy(outputs[PROBABILITIES]).shape == (1, 4, 5)
    assert numpy(outputs[MEMBER_PROBABILITIES]).shape == (1, 2, 4, 5)


def test_ensemble_parameter_estimate_counts_every_member():
    one = make_config(1)
    three = make_config(3)
    single = sum(estimate_parameters(one).values())
    assert sum(estimate_parameters(three).values()) == 3 * single
    core = build_core_model(three, vocab_size=20000, num_outputs=2)
    outputs = 3 * member_cores(core)[0].get_layer(PROBABILITIES).count_params()
    assert core.count_params() - outputs == 3 * single


def test_ensemble_schema_limits():
    with pytest.raises(ConfigError, match="model.ensemble"):
        validate_config(
            {
                "data": {"train": "a.csv"},
                "model": {"ensemble": 2},
                "runtime": {"distribution": "mirrored"},
            }
        )
    with pytest.raises(ConfigError, match="ensemble"):
        validate_config({"data": {"train": "a.csv"}, "model": {"ensemble": 17}}, new_config=True)


def test_ensemble_tagging_loss_averages_over_real_tokens_only():
    from seqcls.modeling.ensemble import members_compile_arguments

    config = tagging_config()
    core = build_core_model(config, vocab_size=10, num_outputs=3, task="tagging")
    classifier = training_model(core)
    classifier.compile(**members_compile_arguments(get_task("tagging"), 0.0))
    ids = np.array([[2, 3, 4, 0, 0, 0], [5, 0, 0, 0, 0, 0]])
    tags = np.array([[0, 1, 2, 0, 0, 0], [1, 0, 0, 0, 0, 0]])
    weights = (ids > 0).astype("float32")  # what the data pipeline gives tagging
    loss = classifier.evaluate(ids, tags, sample_weight=weights, verbose=0, return_dict=True)
    members = numpy(core(ids)[MEMBER_PROBABILITIES])  # (batch, members, time, tags)
    picked = np.take_along_axis(members, tags[:, None, :, None], axis=-1)[..., 0]
    per_token = -np.log(picked).mean(axis=1)  # the members' mean cross-entropy
    assert loss["loss"] == pytest.approx(per_token[ids > 0].mean(), rel=1e-4)


def test_ensemble_accuracy_means_what_a_single_models_does():
    from seqcls.modeling.ensemble import members_accuracy

    members = np.array([[[0.9, 0.1, 0.8], [0.7, 0.3, 0.2]]], dtype="float32")  # (1, 2, 3)
    multi_hot = np.array([[1.0, 0.0, 1.0]], dtype="float32")
    average = members.mean(axis=1)
    expected = keras.metrics.categorical_accuracy(multi_hot, average)  # Keras' "accuracy"
    np.testing.assert_allclose(numpy(members_accuracy(multi_hot, members)), numpy(expected))
    sparse = np.array([1])
    np.testing.assert_allclose(numpy(members_accuracy(sparse, members)), [0.0])
    binary = np.array([[1.0]], dtype="float32")
    one_unit = np.array([[[0.8], [0.4]]], dtype="float32")
    np.testing.assert_allclose(numpy(members_accuracy(binary, one_unit)).ravel(), [1.0])


def test_ensemble_summary_shows_one_member_and_counts_all():
    from seqcls.modeling.summary import summarize

    result = summarize(make_config(2), vocab_size=20, num_classes=3)
    assert result["ensemble_members"] == 2
    assert "embedding" in [layer["name"] for layer in result["layers"]]
    single = summarize(make_config(1), vocab_size=20, num_classes=3)
    assert result["parameters"] == 2 * single["parameters"]
