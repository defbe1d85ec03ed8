"""The Python API (seqcls.load, seqcls.train): the same predictions as `seqcls predict`,
every kind of text sequence, and the CLI's errors."""

import json
import shutil

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import seqcls
from seqcls.cli import app
from seqcls.errors import DataError, UsageError

TEXTS = [
    "my card was lost yesterday",
    "what is the exchange rate for euros?",
    "Top up my account, please!",
    "",
    "café ☕ 東京 🙂",
    "a " * 40,
]


@pytest.fixture(scope="module")
def classifier(trained_run):
    return seqcls.load(trained_run[1])


def cli_predictions(run_dir, tmp_path, texts, *options):
    source = tmp_path / "input.csv"
    pd.DataFrame({"text": texts}).to_csv(source, index=False)
    target = tmp_path / "out.jsonl"
    result = CliRunner().invoke(
        app, ["predict", str(run_dir), str(source), "-o", str(target), *options]
    )
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]


def test_api_predict_equals_seqcls_predict_to_the_last_digit(classifier, trained_run, tmp_path):
    rows = cli_predictions(trained_run[1], tmp_path, TEXTS, "--top-k", "2", "--with-attention")
    records = classifier.predict(TEXTS, top_k=2, attention=True)
    assert len(records) == len(rows) == len(TEXTS)
    for record, row in zip(records, rows):
        assert record["label"] == row["predicted_label"]
        assert record["probability"] == row["predicted_probability"]
        assert record["top_k"] == [
            {"label": row["top1_label"], "probability": row["top1_probability"]},
            {"label": row["top2_label"], "probability": row["top2_probability"]},
        ]
        assert record["attention"] == row["attention"]


def test_api_accepts_any_sequence_of_strings(classifier):
    expected = classifier.predict_proba(TEXTS)
    assert expected.shape == (len(TEXTS), len(classifier.labels))
    np.testing.assert_allclose(expected.sum(axis=1), 1.0, rtol=1e-5)
    for texts in (
        tuple(TEXTS),
        np.array(TEXTS),
        np.array(TEXTS, dtype=object),
        pd.Series(TEXTS),
        pd.Series(TEXTS, dtype="string"),
        pd.Index(TEXTS),
        (text for text in TEXTS),
    ):
        np.testing.assert_array_equal(classifier.predict_proba(texts), expected)
    labels = [record["label"] for record in classifier.predict(pd.Series(TEXTS))]
    assert labels == [classifier.labels[i] for i in expected.argmax(axis=1)]
    assert classifier.predict([]) == []
    assert classifier.predict_proba([]).shape == (0, len(classifier.labels))


@pytest.mark.parametrize(
    "texts, message",
    [
        ("one text", "wrap a single text in a list"),
        (b"bytes", "wrap a single text in a list"),
        (["fine", 3], r"texts\[1\] is a value of type int"),
        (["fine", None], r"texts\[1\] is a missing value"),
        (pd.Series(["fine", np.nan]), r"texts\[1\] is a missing value"),
        (42, "got int"),
        ({"a text": 1}, "got a dict: its order would not be yours"),
        ({"a", "b"}, "got a set"),
        (pd.Series(["fine", pd.NA], dtype="string"), r"texts\[1\] is a missing value"),
    ],
)
def test_api_refuses_what_is_not_a_sequence_of_strings(classifier, texts, message):
    with pytest.raises(UsageError, match=message):
        classifier.predict(texts)


def test_api_explain_gives_tokens_and_their_weights(classifier):
    explained = classifier.explain("My card was LOST, yesterday")
    assert explained["tokens"] == ["my", "card", "was", "lost", "yesterday"]
    assert len(explained["weights"]) == len(explained["tokens"])
    assert sum(explained["weights"]) == pytest.approx(1.0, abs=1e-4)
    assert explained["label"] == classifier.predict(["My card was LOST, yesterday"])[0]["label"]
    with pytest.raises(UsageError, match="one text"):
        classifier.explain(["a list"])


def test_api_options_the_run_cannot_honour_are_the_clis_errors(classifier):
    with pytest.raises(UsageError, match="^top_k must be between 1 and the number of labels"):
        classifier.predict(["x"], top_k=len(classifier.labels) + 1)
    with pytest.raises(UsageError, match="^threshold applies to multilabel runs"):
        classifier.predict(["x"], threshold=0.3)
    # The server's types, strictly: no float or bool top_k, no truthy string for attention.
    for options, message in (
        ({"top_k": 2.5}, "top_k must be an int"),
        ({"top_k": True}, "top_k must be an int"),
        ({"attention": "yes"}, "attention must be True or False"),
        ({"threshold": "0.5"}, "threshold must be a number"),
    ):
        with pytest.raises(UsageError, match=message):
            classifier.predict(["x"], **options)


def cli_error(*args):
    result = CliRunner().invoke(app, ["predict", *map(str, args), "-"], input="a text\n")
    return result.exit_code, result.output


def test_api_load_errors_are_the_clis(trained_run, tmp_path):
    missing = tmp_path / "no-such-run"
    code, output = cli_error(missing)
    with pytest.raises(UsageError) as error:
        seqcls.load(missing)
    assert code == UsageError.exit_code and str(error.value).split(";")[0] in output

    damaged = tmp_path / "damaged"
    shutil.copytree(trained_run[1], damaged)
    model = damaged / "model.keras"
    model.write_bytes(model.read_bytes()[:500])
    code, output = cli_error(damaged)
    with pytest.raises(DataError, match="not a readable Keras model") as error:
        seqcls.load(damaged)
    assert code == DataError.exit_code and "not a readable Keras model" in output


def test_api_unsafe_model_is_the_clis_error(trained_run, tmp_path):
    import keras

    unsafe = tmp_path / "unsafe"
    shutil.copytree(trained_run[1], unsafe)
    inputs = keras.Input((3,))
    keras.Model(inputs, keras.layers.Lambda(lambda x: x * 2)(inputs)).save(unsafe / "model.keras")
    code, output = cli_error(unsafe)
    with pytest.raises(DataError, match="asks to run arbitrary code"):
        seqcls.load(unsafe)
    assert code == DataError.exit_code and "asks to run arbitrary code" in output


@pytest.mark.slow  # moved out of the default suite (over 5 s): .ci/run runs it
def test_api_train_takes_a_mapping_and_overrides_by_section(tiny_data, tmp_path, monkeypatch):
    import yaml
    from conftest import TINY_CONFIG

    raw = yaml.safe_load(TINY_CONFIG)
    monkeypatch.chdir(tmp_path)  # the mapping's relative data paths are from here
    trained = seqcls.train(
        raw,
        output_dir=tmp_path / "run",
        training={"epochs": 1},
        model={"attention": {"concat_pooling": ["mean", "max"]}},
    )
    assert trained.run_dir == tmp_path / "run"
    assert trained.epochs_run == 1
    assert 0.0 <= trained.metrics["test"]["accuracy"] <= 1.0
    saved = yaml.safe_load((trained.run_dir / "config.yaml").read_text())
    assert saved["model"]["attention"]["concat_pooling"] == ["mean", "max"]
    assert saved["data"]["train"] == str(tmp_path / "data" / "train.csv")
    assert trained.load().predict(["my card"])[0]["label"] in trained.load().labels
