"""Hostile configs (issue 13): each is refused at load time, fast, with a short message
that names the key. tests/bad_configs/ holds one file per case (see its README.md)."""

import re
import subprocess
import sys
import time
import typing
from pathlib import Path

import annotated_types
import pytest
import yaml
from pydantic.fields import FieldInfo

from seqcls.config import (
    MAX_CONFIG_BYTES,
    MAX_PARAMETERS,
    MAX_YAML_VALUES,
    AtMost,
    Config,
    config_to_yaml,
    estimate_parameters,
    load_config,
    validate_config,
)
from seqcls.errors import ConfigError

BAD_CONFIGS = Path(__file__).parent.parent / "bad_configs"
CASES = sorted(BAD_CONFIGS.glob("*.yaml"))


def header(path: Path) -> dict[str, str]:
    """The `# key:` and `# error:` comments a corpus file starts with."""
    found = {}
    for line in path.read_text(encoding="utf-8").splitlines()[:2]:
        name, _, value = line.removeprefix("# ").partition(": ")
        found[name] = value
    return found


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def refused(path: Path, overrides: list[str] | None = None) -> tuple[str, float]:
    """The message of the ConfigError that loading raises, and the seconds it took."""
    start = time.perf_counter()
    with pytest.raises(ConfigError) as error:
        load_config(path, overrides)
    return str(error.value), time.perf_counter() - start


def bomb(levels: int) -> str:
    """A "billion laughs" list: each level repeats the one before nine times."""
    items = ['&l0 ["x","x","x","x","x","x","x","x","x"]']
    items += [f"&l{i} [" + ",".join([f"*l{i - 1}"] * 9) + "]" for i in range(1, levels)]
    return "[" + ", ".join(items) + "]"


def test_corpus_readme_lists_every_file_with_exit_code_2():
    readme = (BAD_CONFIGS / "README.md").read_text(encoding="utf-8")
    listed = re.findall(r"^\| `([^`]+\.yaml)` \| (.+) \| (\d) \|$", readme, re.M)
    assert sorted(name for name, _, _ in listed) == [path.name for path in CASES]
    assert {code for _, _, code in listed} == {str(ConfigError.exit_code)} == {"2"}
    assert len(CASES) >= 30


@pytest.mark.parametrize("path", CASES, ids=[path.stem for path in CASES])
def test_bad_config_is_refused_naming_the_key(path):
    expected = header(path)
    message, seconds = refused(path)
    assert expected["key"] in message, message
    assert expected["error"] in message, message
    assert str(path) in message  # where: the file
    assert len(message) < 1000, message  # no echo of a huge value
    assert seconds < 2, seconds


def test_cli_refuses_the_alias_bomb_fast_with_exit_code_2():
    start = time.perf_counter()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "seqcls",
            "validate",
            "--config-only",
            BAD_CONFIGS / "alias_bomb.yaml",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    seconds = time.perf_counter() - start
    assert result.returncode == 2, result.stderr
    assert "data.text_column" in result.stderr and "YAML aliases" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stdout) + len(result.stderr) < 2000
    assert seconds < 30  # interpreter start included; refused in milliseconds, not minutes


def test_nine_level_alias_bomb_is_refused_in_well_under_a_second(tmp_path):
    path = write(tmp_path, f"data:\n  train: a.csv\n  text_column: {bomb(9)}\n")
    assert len(path.read_bytes()) < 500
    message, seconds = refused(path)
    assert seconds < 1, seconds
    assert "data.text_column[5] (line 3)" in message
    assert f"more than the {MAX_YAML_VALUES:,}" in message and len(message) < 400


def test_alias_bomb_in_a_set_value_is_refused(tmp_path):
    path = write(tmp_path, "data: {train: a.csv}\n")
    message, seconds = refused(path, [f"data.text_column={bomb(9)}"])
    assert seconds < 1, seconds
    assert message.startswith("--set 'data.text_column=")
    assert "YAML aliases" in message and len(message) < 500


def test_aliases_within_the_limit_still_work(tmp_path):
    text = (
        "data: {train: a.csv, valid: &file b.csv, test: *file, text_column: &cols [title, body]}\n"
        "model: {head: {hidden: &sizes [16, 8]}}\n"
    )
    config = load_config(write(tmp_path, text))
    assert config.data.text_column == ["title", "body"]
    assert config.data.valid == config.data.test == (tmp_path / "b.csv").resolve()
    assert config.model.head.hidden == [16, 8]


def test_merge_keys_may_be_overridden_without_a_duplicate_key_error(tmp_path):
    text = "data: {train: a.csv}\ntraining:\n  <<: {epochs: 3, batch_size: 8}\n  epochs: 5\n"
    config = load_config(write(tmp_path, text))
    assert (config.training.epochs, config.training.batch_size) == (5, 8)


def test_too_many_values_without_aliases_are_refused_while_composing(tmp_path):
    values = ",".join(["1"] * (MAX_YAML_VALUES + 10))
    path = write(tmp_path, f"data: {{train: a.csv}}\nmodel: {{head: {{hidden: [{values}]}}}}\n")
    message, _ = refused(path)
    assert "model.head.hidden" in message and f"more than {MAX_YAML_VALUES:,} values" in message


def test_a_config_file_larger_than_the_limit_is_refused_before_reading(tmp_path):
    path = write(tmp_path, "data: {train: a.csv}\n" + "#" * MAX_CONFIG_BYTES + "\n")
    message, _ = refused(path)
    assert "bytes, more than the" in message and str(path) in message


def test_duplicate_key_in_a_set_value_is_refused(tmp_path):
    path = write(tmp_path, "data: {train: a.csv}\n")
    message, _ = refused(path, ["training={epochs: 1, epochs: 500}"])
    assert "epochs" in message and "appears twice" in message


@pytest.mark.parametrize(
    ("override", "key", "expected"),
    [
        ("seed=-1", "seed", "greater than or equal to 0"),
        ("seed=4294967296", "seed", "at most 4,294,967,295"),
        ("training.class_weight={a: .nan}", "training.class_weight.a", "finite number"),
        ("model.embedding.dim=1000000", "model.embedding.dim", "at most 65,536"),
        ("data.encoding=base64", "data.encoding", "not a text encoding"),
        ("data.label_column=text", "data.label_column", "also a text column"),
        ("data.valid=''", "data.valid", "an empty path"),
        ("training.learning_rate=-.inf", "training.learning_rate", "finite number"),
    ],
)
def test_hostile_set_values_are_refused_like_file_values(tmp_path, override, key, expected):
    message, _ = refused(write(tmp_path, "data: {train: a.csv}\n"), [override])
    assert key in message and expected in message, message


def test_seed_limits_are_accepted_and_round_trip(tmp_path):
    for seed in (0, 2**32 - 1):
        config = load_config(write(tmp_path, f"seed: {seed}\ndata: {{train: a.csv}}\n"))
        assert config.seed == seed
        assert validate_config(yaml.safe_load(config_to_yaml(config))) == config


def test_text_encodings_are_accepted(tmp_path):
    for encoding in ("utf-8", "UTF8", "latin-1", "cp1252", "utf-16", "utf-8-sig"):
        config = validate_config({"data": {"train": "a.csv", "encoding": encoding}})
        assert config.data.encoding == encoding


@pytest.mark.parametrize("encoding", ["rot13", "hex", "zlib", "base64", "undefined", "utf-9"])
def test_codecs_that_cannot_read_text_are_config_errors(encoding):
    with pytest.raises(ConfigError, match=r"data\.encoding: got '") as error:
        validate_config({"data": {"train": "a.csv", "encoding": encoding}})
    assert "utf-8" in str(error.value)  # how to fix


def test_error_messages_cut_echoed_values():
    huge = {"data": {"train": "a.csv"}, "model": {"encoder": {"units": "9" * 4000}}}
    with pytest.raises(ConfigError) as error:
        validate_config(huge)
    assert "model.encoder.units: got '999" in str(error.value)
    assert len(str(error.value)) < 300
    # Thousands of bad entries: the first errors, then a count.
    many = {
        "data": {"train": "a.csv"},
        "training": {"class_weight": {f"l{i}": -1.0 for i in range(500)}},
    }
    with pytest.raises(ConfigError) as error:
        validate_config(many)
    assert "training.class_weight.l0: got -1.0" in str(error.value)
    assert "... and 480 more errors" in str(error.value)
    assert len(str(error.value)) < 3000


def test_non_string_keys_and_nul_in_keys_are_named(tmp_path):
    message, _ = refused(write(tmp_path, 'data: {train: a.csv, "text\\0column": x}\n'))
    assert "data: a key 'text\\x00column' contains a NUL character" in message


# The model size estimate matches modeling/build.py exactly (checked against Keras' count_params
# for LSTM/GRU, stacked, bidirectional with a separate backward layer, merge modes, both
# attentions, hidden layers and tagging); here, its arithmetic on known configs.
def test_parameter_estimate_counts_each_part():
    config = validate_config(
        {
            "data": {"train": "a.csv"},
            "preprocessing": {"max_tokens": 1000},
            "model": {
                "embedding": {"dim": 10},
                "encoder": {"units": 4, "num_layers": 2},
                "attention": {"type": "additive"},
                "head": {"hidden": [3]},
            },
        }
    )
    parts = estimate_parameters(config)
    lstm = lambda inputs, units: 4 * units * (inputs + units + 1)  # noqa: E731
    assert list(parts.values()) == [
        1000 * 10,
        2 * lstm(10, 4) + 2 * lstm(8, 4),
        8,  # additive attention: one weight per feature
        (8 + 1) * 3,
    ]


def test_largest_model_within_the_limit_is_accepted():
    # 65,536 units in one direction: about 34 billion parameters; a wide but real model
    # (a 4,096-unit BiLSTM over 300-dimensional embeddings of 200,000 words) passes.
    wide = {
        "data": {"train": "a.csv"},
        "preprocessing": {"max_tokens": 200_000},
        "model": {"embedding": {"dim": 300}, "encoder": {"units": 4096, "num_layers": 2}},
    }
    config = validate_config(wide)
    assert sum(estimate_parameters(config).values()) < MAX_PARAMETERS


def _bounds(annotation, metadata) -> list[tuple[object, list]]:
    """(type, constraints) for every leaf type of a field, looking inside unions, lists,
    dicts and Annotated."""
    if typing.get_origin(annotation) is typing.Annotated:
        inner, *extra = typing.get_args(annotation)
        return _bounds(inner, [*metadata, *extra])
    args = typing.get_args(annotation)
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return []
    if args:
        found = []
        for index, arg in enumerate(args):
            # A list's constraints (max_length) are not its items'.
            inherited = metadata if origin not in (list, dict) else []
            if origin is dict and index == 0:
                continue
            found += _bounds(arg, inherited)
        return found
    return [(annotation, metadata)]


def _sections():
    seen, pending = [], [Config]
    while pending:
        model = pending.pop()
        if model in seen:
            continue
        seen.append(model)
        for field in model.model_fields.values():
            for leaf, _ in _bounds(field.annotation, field.metadata):
                if isinstance(leaf, type) and hasattr(leaf, "model_fields"):
                    pending.append(leaf)
    return seen


def test_every_integer_in_the_schema_has_an_upper_bound_and_floats_are_finite():
    checked = 0
    for model in _sections():
        assert model.model_config.get("allow_inf_nan") is False, model.__name__
        for name, field in model.model_fields.items():
            for leaf, metadata in _bounds(field.annotation, field.metadata):
                if leaf is not int:
                    continue
                checked += 1
                # Field(le=...) inside Annotated keeps its constraints in FieldInfo.metadata.
                metadata = [
                    part
                    for item in metadata
                    for part in (item.metadata if isinstance(item, FieldInfo) else [item])
                ]
                validators = [getattr(item, "func", None) for item in metadata]
                assert any(isinstance(v, AtMost) for v in validators) or any(
                    isinstance(item, (annotated_types.Le, annotated_types.Lt)) for item in metadata
                ), f"{model.__name__}.{name} has no upper bound"
    assert checked >= 15


# Sanity limits (sizes, the model's size, the label column among the text columns) hold
# for a user's config. A run directory's own config.yaml, written before a limit existed,
# stays readable: its model can still predict, be evaluated, exported and resumed.
OLD_RUN_CONFIG = {
    "name": "r" * 230,
    "data": {"train": "a.csv", "text_column": ["title", "label"], "label_column": "label"},
    "preprocessing": {"max_tokens": 500_000_000, "max_length": 5_000_000},
    "model": {"encoder": {"units": 100_000}},
    "training": {"class_weight": {"refund": 1e7}},
}


def test_sanity_limits_apply_to_new_configs_not_to_run_directories(tmp_path):
    from seqcls.run import artifacts, readers

    path = write(tmp_path, yaml.safe_dump(OLD_RUN_CONFIG))
    message, _ = refused(path)
    for key in ("name", "data", "max_tokens", "max_length", "units", "refund"):
        assert key in message, message
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / artifacts.CONFIG_FILE).write_text(yaml.safe_dump(OLD_RUN_CONFIG))
    config = readers.read_run_config(run_dir)
    assert config.model.encoder.units == 100_000
    assert config.training.class_weight == {"refund": 1e7}


def test_hard_limits_apply_to_run_directories_too():
    # What crashes (seeds NumPy refuses, non-finite floats, NUL in paths) can never have
    # trained, so it is refused everywhere.
    for hostile in (
        {"seed": -1},
        {"training": {"learning_rate": float("nan")}},
        {"data": {"train": "a\x00.csv"}},
        {"data": {"train": "a.csv", "encoding": "rot13"}},
    ):
        raw = {"data": {"train": "a.csv"}, **hostile}
        with pytest.raises(ConfigError):
            validate_config(raw)


def test_yaml_limits_are_yaml_errors_for_readers_of_run_files():
    # readers.read_run_yaml turns a yaml.YAMLError into "damaged run file" advice.
    from seqcls.config import yaml_load

    for text in (f"text_column: {bomb(9)}\n", "epochs: 1\nepochs: 2\n"):
        with pytest.raises(yaml.YAMLError) as error:
            yaml_load(text)
        assert isinstance(error.value, ConfigError) and error.value.problem == str(error.value)
