"""A run's config.yaml records what the data decided for settings left `auto` (the task,
max_length), keeping the original in a comment; it still validates and resumes."""

import yaml

from seqcls.config import config_from_yaml_text, config_to_yaml, validate_config


def test_config_yaml_records_what_auto_became_with_the_original_in_a_comment():
    config = validate_config({"data": {"train": "t.csv"}})
    assert config.task == "auto" and config.preprocessing.max_length == "auto"
    text = config_to_yaml(config, {"task": "multiclass", "preprocessing.max_length": 37})
    assert "task: multiclass  # auto in the config trained with" in text
    assert "  max_length: 37  # auto in the config trained with" in text
    back = config_from_yaml_text(text)
    assert back.task == "multiclass" and back.preprocessing.max_length == 37
    # Only the two lines changed: everything else is the config as given.
    plain = yaml.safe_load(config_to_yaml(config))
    decided = yaml.safe_load(text)
    decided["task"], decided["preprocessing"]["max_length"] = "auto", "auto"
    assert decided == plain


def test_settings_the_config_gave_are_not_replaced():
    config = validate_config(
        {"task": "binary", "data": {"train": "t.csv"}, "preprocessing": {"max_length": 12}}
    )
    text = config_to_yaml(config, {"task": "multiclass", "preprocessing.max_length": 37})
    assert "auto in the config" not in text
    assert config_from_yaml_text(text).preprocessing.max_length == 12


def test_a_trained_run_keeps_the_decided_task(trained_run):
    _, run_dir, _ = trained_run
    text = (run_dir / "config.yaml").read_text(encoding="utf-8")
    assert "task: multiclass  # auto in the config trained with" in text
