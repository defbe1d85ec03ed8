"""The tune: section is checked by the config schema: unknown keys, wrong types, empty
ranges, key paths that name no setting and values the setting refuses are config errors
(exit 2) before any data is read or anything is written."""

from __future__ import annotations

import pytest
from tuning_helpers import cli_tune, write_tune_project

from seqcls.config import Distribution, config_to_yaml, load_config, validate_config
from seqcls.errors import ConfigError
from seqcls.tuning.space import DEFAULT_SPACE, config_with, search_space, short_names

BASE = {"data": {"train": "train.csv", "valid": "valid.csv", "test": "test.csv"}}


def _error(tune: dict) -> str:
    with pytest.raises(ConfigError) as raised:
        validate_config({**BASE, "tune": tune}, new_config=True)
    return str(raised.value)


@pytest.mark.parametrize(
    ("tune", "expected"),
    [
        (
            {"space": {"model.encoder.unit": {"choices": [64]}}},
            "tune.space.model.encoder.unit: no setting 'unit' in model.encoder (did you mean 'units'?)",
        ),
        (
            {"space": {"model.encoder.units": {"choices": ["a"]}}},
            "tune.space.model.encoder.units: the choice 'a' does not fit the setting: "
            "Input should be a valid integer",
        ),
        (
            {"space": {"model.encoder.units": {"low": 0.5, "high": 8.5}}},
            "the bound 0.5 does not fit the setting",
        ),
        ({"space": {"model.encoder.units": {"low": 64, "high": 64}}}, "an empty range"),
        ({"space": {"model.encoder.units": {"low": 64, "high": 32}}}, "an empty range"),
        (
            {"space": {"training.learning_rate": {"low": 0, "high": 0.1, "log": True}}},
            "log: true needs low > 0",
        ),
        ({"space": {"model.encoder.units": {"choices": []}}}, "at least 1 item"),
        ({"space": {"model.encoder.units": {"choices": [8, 8]}}}, "repeat a value"),
        (
            {"space": {"training.learning_rate": {"low": 0.1, "hihg": 1.0}}},
            "unknown key 'hihg' (did you mean 'high'?)",
        ),
        ({"space": {"training.learning_rate": {"low": 0.1}}}, "needs low and high"),
        ({"space": {"model.encoder.units": {"low": 4, "high": 8, "choices": [4]}}}, "not both"),
        ({"metrc": "val_loss"}, "unknown key 'tune.metrc'; did you mean 'metric'?"),
        ({"metric": "val_f1"}, "tune.metric: got 'val_f1'"),
        ({"direction": "up"}, "tune.direction: got 'up'"),
        ({"space": {}}, "tune.space: got {}"),
        ({"space": {"model.encoder": {"choices": [8]}}}, "is a section, not a setting"),
        ({"space": {"model.encoder.units.x": {"choices": [8]}}}, "is a setting, not a section"),
        ({"space": {"data.valid_split": {"low": 0.1, "high": 0.2}}}, "cannot be searched"),
        ({"space": {"model.encoder.units": {"low": 8, "high": 10**6}}}, "at most 65,536"),
        (
            {"space": {"model.encoder.merge_mode": {"choices": ["sum", "add"]}}},
            "the choice 'add' does not fit the setting",
        ),
    ],
)
def test_space_schema_refuses(tune, expected):
    assert expected in _error(tune)


def test_space_schema_accepts_the_issue_example():
    space = {
        "model.encoder.units": {"choices": [64, 128, 256]},
        "training.learning_rate": {"low": 3e-4, "high": 3e-3, "log": True},
    }
    config = validate_config({**BASE, "tune": {"space": space}}, new_config=True)
    assert config.tune.space["model.encoder.units"].choices == [64, 128, 256]
    # The tune section is no part of a run: config.yaml and best.yaml leave it out.
    assert "tune" not in config_to_yaml(config)


def test_space_cli_config_error_exits_2_before_reading_data(tmp_path):
    # No data files at all: the config error comes first, and nothing is written.
    config = tmp_path / "config.yaml"
    config.write_text(
        "data: {train: missing.csv, valid: missing.csv}\n"
        "tune:\n  space:\n    model.encoder.units: {choices: [a]}\n",
        encoding="utf-8",
    )
    output = tmp_path / "search"
    result = cli_tune(config, "--trials", "3", "--output-dir", output)
    assert result.exit_code == 2, result.output
    assert "tune.space.model.encoder.units" in result.output
    assert not output.exists()


def test_space_ranges_are_integers_for_integer_settings_floats_otherwise(tmp_path):
    tune = (
        "tune:\n  space:\n"
        "    model.encoder.units: {low: 4, high: 16}\n"
        "    training.clipnorm: {low: 1, high: 5}\n"
        "    training.learning_rate: {low: 0.001, high: 0.01, log: true}\n"
        "    model.encoder.cell: {choices: [lstm, gru]}\n"
    )
    config = load_config(write_tune_project(tmp_path, tune))
    space, notes = search_space(config)
    kinds = {dimension.key: dimension.kind for dimension in space.dimensions}
    assert kinds == {
        "model.encoder.units": "int",
        "training.clipnorm": "float",  # a float setting: 1 and 5 are bounds, not integers
        "training.learning_rate": "float",
        "model.encoder.cell": "categorical",
    }
    assert notes == []


def test_space_default_for_a_config_without_tune(tiny_config):
    config = load_config(tiny_config)
    assert config.tune is None
    space, _ = search_space(config)
    assert space.keys == list(DEFAULT_SPACE)
    recorded = space.to_json()
    assert recorded["training.learning_rate"] == {"low": 1e-4, "high": 1e-2, "log": True}
    for entry in DEFAULT_SPACE.values():
        Distribution.model_validate(entry)


def test_space_trial_config_sets_values_and_drops_the_test_split(tmp_path):
    config = load_config(write_tune_project(tmp_path))
    params = {"model.encoder.units": 4, "training.learning_rate": 0.02}
    trial = config_with(config, params, test=False)
    assert trial.model.encoder.units == 4 and trial.training.learning_rate == 0.02
    assert trial.data.test is None and trial.tune is None
    best = config_with(config, params, test=True)
    assert best.data.test == config.data.test


def test_space_short_names_tell_keys_apart():
    keys = ["model.encoder.dropout", "model.embedding.dropout", "model.encoder.units"]
    assert short_names(keys) == {
        "model.encoder.dropout": "encoder.dropout",
        "model.embedding.dropout": "embedding.dropout",
        "model.encoder.units": "units",
    }


def test_space_list_choices_reach_a_list_setting(tmp_path):
    import optuna

    from seqcls.tuning.space import suggest, values_of

    tune = "tune:\n  space:\n    model.head.hidden: {choices: [[], [16], [32, 16]]}\n"
    config = load_config(write_tune_project(tmp_path, tune))
    space, _ = search_space(config)
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seen = []
    for _ in range(8):
        trial = study.ask()
        params = suggest(trial, space)
        assert params == values_of(trial.params, space)  # stored as JSON text, read back
        seen.append(config_with(config, params, test=False).model.head.hidden)
    assert {tuple(hidden) for hidden in seen} <= {(), (16,), (32, 16)} and len(
        set(map(tuple, seen))
    ) > 1


def test_space_is_bounded():
    # Each value is checked by validating the whole config with it: 3 x 99 is too many.
    keys = ("model.encoder.units", "model.embedding.dim", "training.batch_size")
    space = {key: {"choices": list(range(1, 100))} for key in keys}
    assert "the space lists 297 values" in _error({"space": space})
