"""seqcls export: SavedModel (strings in) and ONNX (ids in), each checked on export and
here, independently, against the run's model.keras."""

import json
import shutil

import numpy as np
import pytest
from typer.testing import CliRunner

from seqcls.cli import app
from seqcls.inference import onnx_engine
from seqcls.run import artifacts, readers

runner = CliRunner()
TEXTS = ["i lost my card", "", "what is the exchange rate for euros " * 12, "top up failed"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from conftest import cli_train, write_tiny_project

    folder = tmp_path_factory.mktemp("export")
    write_tiny_project(folder)
    run_dir = folder / "run"
    result = cli_train(folder / "config.yaml", run_dir, options=("--quiet",))
    assert result.exit_code == 0, result.output
    return run_dir


def reference(run_dir, texts):
    import tensorflow as tf

    model = artifacts.load_model(run_dir / artifacts.MODEL_FILE)
    return model.predict_on_batch(tf.constant(texts))


def test_saved_model_serves_raw_strings_like_the_run(run):
    import tensorflow as tf

    result = runner.invoke(app, ["export", str(run)])
    assert result.exit_code == 0, result.output
    folder = run / "export" / "saved_model"
    summary = json.loads((folder / "export.json").read_text())
    # The valid split, the punctuation probes, an empty and a long text.
    assert summary["parity"]["texts"] == 24 + 3 + 2
    assert summary["parity"]["max_abs_difference"] <= 1e-5
    served = tf.saved_model.load(str(folder))
    got = served.serve(tf.constant(TEXTS))
    expected = reference(run, TEXTS)
    np.testing.assert_allclose(got["probabilities"].numpy(), expected["probabilities"], atol=1e-6)
    np.testing.assert_array_equal(got["token_ids"].numpy(), expected["token_ids"])
    signature = served.signatures["serving_default"]
    assert signature.structured_input_signature[1]["text"].dtype == tf.string


def test_onnx_takes_token_ids_and_matches_the_run(run, tmp_path):
    import onnxruntime

    destination = tmp_path / "onnx"
    result = runner.invoke(
        app, ["export", str(run), "--format", "onnx", "--output", str(destination)]
    )
    assert result.exit_code == 0, result.output
    assert {p.name for p in destination.iterdir()} == {
        "model.onnx",
        "vocabulary.json",
        "tokenization.json",
        "export.json",
        "labels.json",
        "README.md",
        "MODEL_CARD.md",
    }
    tokenization = json.loads((destination / "tokenization.json").read_text())
    assert tokenization["max_length"] == 12 and tokenization["padding"] == "right"
    session = onnxruntime.InferenceSession(str(destination / "model.onnx"))
    expected = reference(run, TEXTS)
    outputs = session.run(None, {session.get_inputs()[0].name: np.asarray(expected["token_ids"])})
    named = dict(zip([o.name for o in session.get_outputs()], outputs))
    np.testing.assert_allclose(named["probabilities"], expected["probabilities"], atol=1e-5)


def test_export_never_replaces_a_folder_that_is_not_an_export(run, tmp_path):
    destination = tmp_path / "taken"
    destination.mkdir()
    (destination / "keep.txt").write_text("mine")
    for force in ([], ["--force"]):
        result = runner.invoke(app, ["export", str(run), "--output", str(destination), *force])
        assert result.exit_code == 2 and "not a previous seqcls export" in result.output
        assert (destination / "keep.txt").read_text() == "mine"
    assert [p.name for p in tmp_path.iterdir()] == ["taken"]  # no staging folder left


def test_export_without_the_data_checks_probe_texts(run, tmp_path):
    copy = tmp_path / "moved-run"
    shutil.copytree(run, copy, ignore=shutil.ignore_patterns("export"))
    (copy / "config.yaml").write_text(
        (copy / "config.yaml").read_text().replace(str(run.parent / "data"), str(tmp_path / "gone"))
    )
    result = runner.invoke(app, ["export", str(copy)])
    assert result.exit_code == 0, result.output
    summary = json.loads((copy / "export" / "saved_model" / "export.json").read_text())
    assert (
        summary["parity"]["source"].startswith("probe texts") and summary["parity"]["texts"] == 205
    )


def test_export_of_a_non_run_is_a_usage_error(tmp_path):
    result = runner.invoke(app, ["export", str(tmp_path)])
    assert result.exit_code == 2 and "not a finished seqcls run" in result.output
    result = runner.invoke(app, ["export", str(tmp_path), "--format", "tflite"])
    assert result.exit_code == 2


@pytest.mark.slow  # a training run and two exports: about a minute
def test_both_exports_carry_subwords_ensembles_concat_pooling_and_linear(tmp_path):
    """The recipe options live inside the model (the n-gram tables are weights, the members
    and the linear branch are sub-models, split_punctuation a registered standardize
    function): both exports reproduce the run without extra tokenization, and the ONNX
    engine's tokenizer gives the run's ids."""
    import onnxruntime
    import tensorflow as tf
    from conftest import cli_train, write_tiny_project

    write_tiny_project(tmp_path)
    run_dir = tmp_path / "run"
    options = (
        "model.embedding.subwords.buckets=300",
        "model.attention.concat_pooling=[mean, max]",
        "model.ensemble=2",
        "model.linear.ngrams=3",
        "model.linear.weight=0.5",
        "preprocessing.split_punctuation=true",
        "training.epochs=1",
    )
    texts = [*TEXTS, "Lost--my card's (top-up)!"]
    result = cli_train(tmp_path / "config.yaml", run_dir, *options, options=("--quiet",))
    assert result.exit_code == 0, result.output
    expected = reference(run_dir, texts)
    assert runner.invoke(app, ["export", str(run_dir)]).exit_code == 0
    served = tf.saved_model.load(str(run_dir / "export" / "saved_model"))
    got = served.serve(tf.constant(texts))
    np.testing.assert_allclose(got["probabilities"].numpy(), expected["probabilities"], atol=1e-6)
    assert "member_probabilities" not in got
    destination = tmp_path / "onnx"
    exported = runner.invoke(
        app, ["export", str(run_dir), "--format", "onnx", "-o", str(destination)]
    )
    assert exported.exit_code == 0, exported.output
    record = json.loads((destination / "tokenization.json").read_text(encoding="utf-8"))
    assert record["split_punctuation"] is True
    vocabulary = readers.read_vocabulary(run_dir)
    tokenizer = onnx_engine.Tokenizer(record, vocabulary["tokens"], vocabulary["max_length"])
    np.testing.assert_array_equal(tokenizer.ids(texts), np.asarray(expected["token_ids"]))
    session = onnxruntime.InferenceSession(str(destination / "model.onnx"))
    outputs = session.run(None, {session.get_inputs()[0].name: np.asarray(expected["token_ids"])})
    named = dict(zip([o.name for o in session.get_outputs()], outputs))
    np.testing.assert_allclose(named["probabilities"], expected["probabilities"], atol=1e-5)
