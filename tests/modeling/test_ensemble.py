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


def test_ensemble_tagging_has_members_per_token():
    config = Config.model_validate(
        {
            "task": "tagging",
            "data": {"train": "unused.csv"},
            "preprocessing": {"strip_punctuation": False},
            "model": {
                "embedding": {"dim": 4},
                "encoder": {"units": 3},
                "attention": {"type": "none"},
                "ensemble": 2,
            },
        }
    )
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
