"""`seqcls summary` shows the seed facts of DESIGN.md for the matching configs."""

import json

import pytest
from typer.testing import CliRunner

from seqcls.cli import app

runner = CliRunner()


def summary_json(tmp_path, model_yaml: str, *extra: str) -> dict:
    path = tmp_path / "config.yaml"
    path.write_text("data: {train: unused.csv}\nmodel:\n" + model_yaml, encoding="utf-8")
    result = runner.invoke(app, ["summary", str(path), "--vocab-size", "50", "--json", *extra])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_summary_lstm_weight_shapes_for_units_10_on_30_features(tmp_path):
    result = summary_json(
        tmp_path, "  embedding: {dim: 30}\n  encoder: {units: 10, bidirectional: false}\n"
    )
    [lstm] = result["recurrent_layers"]
    shapes = {weight["name"]: tuple(weight["shape"]) for weight in lstm["weights"]}
    assert shapes == {"kernel": (30, 40), "recurrent_kernel": (10, 40), "bias": (40,)}
    assert "4 gates" in lstm["note"] and "not a number of separate blocks" in lstm["note"]
    assert lstm["parameters"] == 30 * 40 + 10 * 40 + 40


@pytest.mark.parametrize(
    ("merge_mode", "width"),
    [("concat", 20), ("sum", 10), ("mul", 10), ("ave", 10), ("none", [10, 10])],
)
def test_summary_merge_mode_width_on_15_features(tmp_path, merge_mode, width):
    result = summary_json(
        tmp_path,
        f"  embedding: {{dim: 15}}\n  encoder: {{units: 10, merge_mode: {merge_mode}}}\n"
        "  attention: {type: none, pooling: mean}\n",
    )
    [merge] = result["bidirectional_layers"]
    assert merge["merge_mode"] == merge_mode and merge["output_width"] == width
    assert "no activation is applied after merging" in merge["effect"]
    bidirectional = next(layer for layer in result["layers"] if layer["type"] == "Bidirectional")
    if merge_mode == "none":
        assert bidirectional["output_shape"] == [[None, None, 10], [None, None, 10]]
    else:
        assert bidirectional["output_shape"] == [None, None, width]
    directions = [
        (layer["direction"], layer["go_backwards"]) for layer in result["recurrent_layers"]
    ]
    assert directions == [("forward", False), ("backward", True)]


def test_summary_gru_and_table_output(tmp_path):
    result = summary_json(
        tmp_path, "  embedding: {dim: 8}\n  encoder: {cell: gru, units: 4}\n", "--num-classes", "5"
    )
    gru = result["recurrent_layers"][0]
    assert {weight["name"]: tuple(weight["shape"]) for weight in gru["weights"]} == {
        "kernel": (8, 12),
        "recurrent_kernel": (4, 12),
        "bias": (2, 12),
    }
    assert result["layers"][-1]["output_shape"] == [None, 5]
    path = tmp_path / "config.yaml"
    table = runner.invoke(app, ["summary", str(path)])
    assert table.exit_code == 0 and "recurrent_kernel" in table.stdout and "GRU" in table.stdout


def test_summary_tagging_shows_time_distributed_output_per_step(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(
        "task: tagging\ndata: {train: unused.csv}\npreprocessing: {strip_punctuation: false}\n"
        "model: {embedding: {dim: 6}, encoder: {units: 4}, attention: {type: none}, head: {hidden: [5]}}\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["summary", str(path), "--num-classes", "7", "--json"])
    assert result.exit_code == 0, result.output
    layers = {layer["name"]: layer for layer in json.loads(result.stdout)["layers"]}
    assert layers["bidirectional_1"]["output_shape"] == [None, None, 8]  # return_sequences=True
    assert layers["hidden_1"]["type"] == "TimeDistributed"
    assert layers["hidden_1"]["output_shape"] == [None, None, 5]
    assert layers["hidden_1"]["parameters"] == 8 * 5 + 5  # one Dense shared by every step
    assert layers["probabilities"]["output_shape"] == [None, None, 7]


def test_summary_of_a_config_takes_its_sizes_from_the_data(trained_run):
    project, run_dir, _ = trained_run
    manifest = json.loads((run_dir / "manifest.json").read_text())
    args = ["summary", str(project / "config.yaml"), "--json"]
    for override in ("training.epochs=8", "training.deterministic=true"):
        args += ["--set", override]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    described = json.loads(result.stdout)
    assert described["task"] == "multiclass" and described["num_classes"] == 3
    assert described["parameters"] == manifest["parameters"]
    assert described["sizes"].startswith("from the data")


def test_summary_of_a_run_directory_shows_the_trained_model(trained_run):
    _, run_dir, _ = trained_run
    manifest = json.loads((run_dir / "manifest.json").read_text())
    result = runner.invoke(app, ["summary", str(run_dir), "--json"])
    assert result.exit_code == 0, result.output
    described = json.loads(result.stdout)
    assert described["parameters"] == manifest["parameters"]
    assert described["num_classes"] == 3 and described["sizes"] == "the trained model"
    refused = runner.invoke(app, ["summary", str(run_dir), "--num-classes", "4"])
    assert refused.exit_code == 2 and "fixed" in refused.output


def test_summary_without_data_says_what_it_assumed_and_how_to_give_sizes(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("data: {train: missing.csv}\n", encoding="utf-8")
    result = runner.invoke(app, ["summary", str(path)])
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert "assumed, since the data could not be read" in said
    assert "--vocab-size N" in said and "--num-classes N" in said
    assert "seqcls summary RUN_DIR" in said
