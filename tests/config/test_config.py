import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from seqcls.config import Config, config_to_yaml, load_config, validate_config
from seqcls.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_config_defaults_fill_every_section_and_resolve_paths(tmp_path):
    config = load_config(write(tmp_path, "data: {train: data/train.csv}\n"))
    assert config.data.train == (tmp_path / "data" / "train.csv").resolve()
    assert config.model.encoder.merge_mode == "concat"
    assert config.model.attention.type == "additive"
    assert config.preprocessing.max_length == "auto"
    # The resolved YAML spells every default out and validates back to the same config.
    assert validate_config(yaml.safe_load(config_to_yaml(config))) == config


def test_config_unknown_key_names_path_and_suggests(tmp_path):
    path = write(tmp_path, "data: {train: a.csv}\nmodel:\n  encoder:\n    unitz: 64\n")
    with pytest.raises(ConfigError) as error:
        load_config(path)
    message = str(error.value)
    assert "unknown key 'model.encoder.unitz'" in message
    assert "did you mean 'units'" in message
    assert str(path) in message


def test_config_wrong_type_names_key_and_value(tmp_path):
    path = write(tmp_path, "data: {train: a.csv}\ntraining: {epochs: ten}\n")
    with pytest.raises(
        ConfigError, match=r"training\.epochs: got 'ten'; Input should be a valid integer"
    ):
        load_config(path)


def test_config_strings_are_not_coerced_to_numbers(tmp_path):
    path = write(tmp_path, "data: {train: a.csv}\nmodel: {encoder: {units: '64'}}\n")
    with pytest.raises(ConfigError, match=r"model\.encoder\.units: got '64'"):
        load_config(path)


def test_config_bad_enum_lists_allowed_values(tmp_path):
    path = write(tmp_path, "data: {train: a.csv}\nmodel: {encoder: {merge_mode: concatenate}}\n")
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert "model.encoder.merge_mode: got 'concatenate'" in str(error.value)
    for allowed in ("'concat'", "'sum'", "'mul'", "'ave'", "'none'"):
        assert allowed in str(error.value)


def test_config_missing_train_is_reported(tmp_path):
    with pytest.raises(ConfigError, match="missing required key 'data.train'"):
        load_config(write(tmp_path, "data: {}\n"))


def test_config_override_sets_nested_value_parsed_as_yaml(tmp_path):
    path = write(tmp_path, "data: {train: a.csv}\n")
    config = load_config(path, ["model.encoder.units=64", "model.head.hidden=[32, 16]", "name=x1"])
    assert config.model.encoder.units == 64
    assert config.model.head.hidden == [32, 16]
    assert config.name == "x1"


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("model.encoder.units", "expected KEY.PATH=VALUE"),
        ("model..units=3", "expected KEY.PATH=VALUE"),
        ("model.encoder.unitz=3", "unknown key 'model.encoder.unitz' (from --set)"),
        ("training.epochs=abc", r"training.epochs (from --set): got 'abc'"),
        ("name.first=3", "is a value"),
    ],
)
def test_config_bad_override_is_a_config_error(tmp_path, override, expected):
    path = write(tmp_path, "name: demo\ndata: {train: a.csv}\n")
    with pytest.raises(ConfigError) as error:
        load_config(path, [override])
    assert expected in str(error.value)


def test_config_override_paths_resolve_against_current_directory(tmp_path, monkeypatch):
    folder = tmp_path / "configs"
    folder.mkdir()
    path = folder / "c.yaml"
    path.write_text("data: {train: a.csv, test: b.csv}\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    config = load_config(path, ["data.test=other.csv"])
    assert config.data.train == (folder / "a.csv").resolve()
    assert config.data.test == (tmp_path / "other.csv").resolve()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("model: {attention: {type: additive, pooling: max}}", "pooling is only used when"),
        (
            "model: {encoder: {bidirectional: false, merge_mode: sum}}",
            "only applies to a bidirectional",
        ),
        ("data: {train: a.csv, valid: b.csv, valid_split: 0.2}", "not both"),
        # Every worker would read every shard: refused before anything is written.
        (
            "{data: {train: a.csv, valid: b.csv, streaming: true},"
            " runtime: {distribution: multi_worker}}",
            "not supported with runtime.distribution multi_worker",
        ),
    ],
)
def test_config_contradictions_are_errors(tmp_path, text, expected):
    raw = yaml.safe_load(text)
    raw.setdefault("data", {"train": "a.csv"})
    with pytest.raises(ConfigError, match=expected):
        validate_config(raw)


def test_config_schema_is_closed_in_every_section():
    sections = [Config]
    seen = set()
    while sections:
        model = sections.pop()
        if model in seen:
            continue
        seen.add(model)
        assert model.model_config.get("extra") == "forbid", model.__name__
        for field in model.model_fields.values():
            if isinstance(field.annotation, type) and hasattr(field.annotation, "model_fields"):
                sections.append(field.annotation)
    assert len(seen) >= 9


def test_cli_help_and_config_errors_do_not_import_tensorflow(tmp_path):
    bad = write(tmp_path, "data: {train: a.csv}\nmodel: {encoder: {cell: lsmt}}\n")
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from seqcls.cli import app\n"
        "runner = CliRunner()\n"
        "help_result = runner.invoke(app, ['train', '--help'])\n"
        f"bad_result = runner.invoke(app, ['train', {str(bad)!r}])\n"
        "print(help_result.exit_code, bad_result.exit_code, 'tensorflow' in sys.modules, 'keras' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.stdout.split() == ["0", "2", "False", "False"], result.stderr


@pytest.mark.parametrize(
    "extra",
    [
        "",
        "  valid: b.csv\n",
    ],
)
@pytest.mark.parametrize(
    "model",
    [
        "model: {attention: {type: none, pooling: max}}\n",
        "model: {encoder: {bidirectional: false}}\n",
        "model: {encoder: {merge_mode: none}}\n",
    ],
)
def test_config_resolved_yaml_round_trips(tmp_path, extra, model):
    config = load_config(write(tmp_path, f"data:\n  train: a.csv\n{extra}{model}"))
    assert validate_config(yaml.safe_load(config_to_yaml(config))) == config


@pytest.mark.parametrize(
    ("encoder", "expected"),
    [
        (
            {"merge_mode": "sum", "backward": {"units": 64}},
            "same width, but units is 128 and backward.units is 64",
        ),
        (
            {"bidirectional": False, "backward": {"units": 64}},
            "backward configures the backward direction",
        ),
        ({"residual": True}, "residual connects stacked layers"),
        ({"backward": {"unitz": 3}}, "did you mean 'units'"),
    ],
)
def test_config_encoder_combinations_explain_why(encoder, expected):
    with pytest.raises(ConfigError, match=expected):
        validate_config({"data": {"train": "a.csv"}, "model": {"encoder": encoder}})


def test_config_multihead_defaults_to_mean_pooling_and_rejects_last():
    config = validate_config(
        {"data": {"train": "a.csv"}, "model": {"attention": {"type": "multihead"}}}
    )
    assert config.model.attention.pooling == "mean"
    with pytest.raises(ConfigError, match="mean or max"):
        validate_config(
            {
                "data": {"train": "a.csv"},
                "model": {"attention": {"type": "multihead", "pooling": "last"}},
            }
        )
    with pytest.raises(ConfigError, match="only apply to model.attention.type: multihead"):
        validate_config(
            {"data": {"train": "a.csv"}, "model": {"attention": {"type": "none", "num_heads": 2}}}
        )


def test_config_scientific_notation_is_a_number(tmp_path):
    path = write(tmp_path, "data: {train: a.csv}\ntraining: {learning_rate: 1e-3}\n")
    assert load_config(path).training.learning_rate == pytest.approx(0.001)
    assert load_config(path, ["training.learning_rate=5E-4"]).training.learning_rate == 0.0005
    # Integers stay integers, and strings stay strings.
    assert load_config(path, ["training.epochs=12"]).training.epochs == 12
    assert load_config(path, ["name=1e3x"]).name == "1e3x"


def test_a_strategy_refuses_tagging_before_anything_is_written(tiny_config):
    """Per-token loss weights are not in the distributed loop: refused by the config
    validator, with the key to change."""
    overrides = [
        "task=tagging",
        "model.attention.type=none",
        "preprocessing.strip_punctuation=false",
        "runtime.distribution=mirrored",
    ]
    with pytest.raises(ConfigError, match="runtime.distribution mirrored.*not tagging"):
        load_config(tiny_config, overrides)


def test_split_punctuation_on_characters_needs_strip_punctuation(tiny_config):
    overrides = [
        "preprocessing.tokenizer=char",
        "preprocessing.strip_punctuation=false",
        "preprocessing.split_punctuation=true",
    ]
    with pytest.raises(ConfigError, match="only add space tokens.*strip_punctuation: true"):
        load_config(tiny_config, overrides)
    assert load_config(tiny_config, overrides[:1] + overrides[2:]).preprocessing.split_punctuation


def test_tagging_refuses_split_punctuation_with_the_key_to_change(tiny_config):
    """Splitting at punctuation adds tokens, so tags would no longer line up with words."""
    overrides = [
        "task=tagging",
        "model.attention.type=none",
        "preprocessing.strip_punctuation=false",
        "preprocessing.split_punctuation=true",
    ]
    with pytest.raises(ConfigError, match="preprocessing.split_punctuation must be false"):
        load_config(tiny_config, overrides)
