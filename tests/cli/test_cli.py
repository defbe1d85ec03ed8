"""End to end through the real command line: train on tiny files, then eval and predict."""

import csv
import io
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
from conftest import TRAINED_RUN_OVERRIDES, cli_train
from typer.testing import CliRunner

from seqcls.cli import app
from seqcls.run import artifacts

runner = CliRunner()


def invoke(*args, input=None):
    return runner.invoke(app, [str(arg) for arg in args], input=input)


def test_cli_train_writes_every_artifact(trained_run):
    folder, run_dir, result = trained_run
    for name in artifacts.RUN_FILES:
        assert (run_dir / name).is_file(), name
    assert "test" in result.output and "accuracy" in result.output
    metrics = json.loads((run_dir / artifacts.METRICS_FILE).read_text())
    # Three well-separated intents: a working pipeline learns them.
    assert metrics["test"]["accuracy"] >= 0.9
    assert len(metrics["test"]["confusion_matrix"]) == 3
    assert set(metrics["test"]["per_class"]) == {"card_lost", "exchange_rate", "top_up"}
    manifest = json.loads((run_dir / artifacts.MANIFEST_FILE).read_text())
    assert len(manifest["data"]["files"]["train"]["sha256"]) == 64
    assert manifest["versions"]["keras"] and manifest["seed"] == 0
    history = list(csv.DictReader(open(run_dir / artifacts.HISTORY_FILE)))
    assert [int(row["epoch"]) for row in history] == list(range(1, len(history) + 1))
    assert {"loss", "val_loss", "accuracy", "val_accuracy"} <= set(history[0])
    per_class = list(csv.DictReader(open(run_dir / artifacts.PER_CLASS_FILE)))
    assert {row["split"] for row in per_class} == {"valid", "test"} and len(per_class) == 6
    assert (run_dir / artifacts.CONFUSION_FILE).is_file()
    assert "worst of 3 labels" in result.output
    # The saved config is the resolved one and reloads to the same settings.
    saved = (run_dir / artifacts.CONFIG_FILE).read_text()
    assert "merge_mode: concat" in saved and "epochs: 8" in saved


def test_cli_eval_reproduces_training_metrics(trained_run):
    folder, run_dir, _ = trained_run
    output = folder / "eval.json"
    result = invoke("eval", run_dir, folder / "data" / "test.csv", "--output", output)
    assert result.exit_code == 0, result.output
    evaluated = json.loads(output.read_text())
    recorded = json.loads((run_dir / artifacts.METRICS_FILE).read_text())["test"]
    assert evaluated["accuracy"] == pytest.approx(recorded["accuracy"])
    assert evaluated["confusion_matrix"] == recorded["confusion_matrix"]


def test_cli_predict_file_to_csv_keeps_columns_and_adds_top_k(trained_run):
    folder, run_dir, _ = trained_run
    source = folder / "to_predict.csv"
    with open(source, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "text"])
        writer.writerows([["a1", "i lost my card"], ["a2", "exchange rate for euros"], ["a3", ""]])
    output = folder / "predictions.csv"
    result = invoke("predict", run_dir, source, "--output", output, "--top-k", 2)
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(open(output)))
    assert [row["id"] for row in rows] == ["a1", "a2", "a3"]
    assert rows[0]["predicted_label"] == "card_lost"
    assert rows[1]["predicted_label"] == "exchange_rate"
    for row in rows:
        assert row["top1_label"] == row["predicted_label"]
        assert float(row["top1_probability"]) >= float(row["top2_probability"])
        assert 0 < float(row["predicted_probability"]) <= 1


def test_cli_predict_stdin_to_stdout_and_jsonl(trained_run):
    folder, run_dir, _ = trained_run
    result = invoke("predict", run_dir, "-", input="my top up failed\ni lost my card\n")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [row["predicted_label"] for row in rows] == ["top_up", "card_lost"]
    output = folder / "out.jsonl"
    result = invoke("predict", run_dir, "-", "--output", output, input="exchange rate for yen\n")
    assert result.exit_code == 0, result.output
    [row] = [json.loads(line) for line in output.read_text().splitlines()]
    assert row["text"] == "exchange rate for yen" and row["predicted_label"] == "exchange_rate"


def test_cli_refuses_non_empty_run_dir_without_force(trained_run):
    folder, run_dir, _ = trained_run
    result = invoke("train", folder / "config.yaml", "--output-dir", run_dir)
    assert result.exit_code == 2
    assert "not empty" in result.output and "--force" in result.output


def test_cli_exit_codes_for_user_mistakes(tmp_path, trained_run):
    folder, run_dir, _ = trained_run
    # Config error: 2, no traceback.
    result = invoke("train", folder / "config.yaml", "--set", "model.encoder.cell=lsmt")
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "model.encoder.cell" in result.output
    # Data error: 3, names the file and the option to pass.
    bad = tmp_path / "bad.csv"
    bad.write_text("sentence,label\nx,card_lost\n")
    result = invoke("eval", run_dir, bad)
    assert result.exit_code == 3 and "Traceback" not in result.output
    assert "bad.csv" in result.output and "--text-column" in result.output
    # Unseen label at eval: 3.
    unseen = tmp_path / "unseen.csv"
    unseen.write_text("text,label\nhello,greeting\n")
    assert invoke("eval", run_dir, unseen).exit_code == 3
    # Not a run directory: 2.
    assert invoke("predict", tmp_path, "-", input="x\n").exit_code == 2


def test_cli_smoke_run_checks_every_artifact(tiny_config, tmp_path, monkeypatch):
    import os

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    result = invoke("train", tiny_config, "--smoke", "--output-dir", tmp_path / "smoke")
    assert result.exit_code == 0, result.output
    assert "every artifact loads" in result.output
    saved = (tmp_path / "smoke" / artifacts.CONFIG_FILE).read_text()
    assert "epochs: 1" in saved and "device: cpu" in saved
    # The GPUs were hidden for the smoke run only: later processes see them again.
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "0"


def test_cli_non_chief_worker_writes_and_names_no_run_directory(tiny_config, monkeypatch):
    """Another worker of a multi_worker run trains, but only the chief writes the run: the
    worker says so, creates no run directory and prints no "run directory:" line (it used
    to print a runs/<name>-worker that was never created)."""
    import seqcls.training.train
    from seqcls.training import distribute
    from seqcls.training.finish import TrainResult

    given = []

    def train(config, run_dir, **options):  # train() trains a worker in a scratch directory
        given.append(run_dir)
        return TrainResult(run_dir, {"valid": {"rows": 2, "accuracy": 1.0}}, 1, 1, 0.0)

    monkeypatch.setattr(distribute, "is_chief", lambda runtime: False)
    monkeypatch.setattr(seqcls.training.train, "train", train)
    monkeypatch.chdir(tiny_config.parent)
    result = invoke("train", tiny_config)
    assert result.exit_code == 0, result.output
    assert "not the chief" in result.output and "chief writes the run directory" in result.output
    assert "run directory:" not in result.output and "accuracy" in result.output
    assert len(given) == 1 and not given[0].exists() and not (tiny_config.parent / "runs").exists()


@pytest.mark.slow
def test_cli_smoke_run_with_several_text_columns(tmp_path):
    """The smoke check predicts the run's own (joined) texts; it used to build a table
    keyed by the list of columns and fail after training (unhashable type: 'list')."""
    from conftest import labelled_rows, write_csv

    rows = [
        (text.split()[0], " ".join(text.split()[1:]), label) for text, label in labelled_rows(60)
    ]
    write_csv(tmp_path / "train.csv", rows, header=("head", "body", "label"))
    config = tmp_path / "columns.yaml"
    config.write_text(
        "name: columns\ndata: {train: train.csv, text_column: [head, body]}\n"
        "model: {embedding: {dim: 8}, encoder: {units: 8}}\noutput: {plots: false}\n",
        encoding="utf-8",
    )
    result = invoke("train", config, "--smoke", "--output-dir", tmp_path / "smoke")
    assert result.exit_code == 0, result.output
    assert "every artifact loads" in result.output


def test_cli_version_and_module_entry_point():
    result = subprocess.run(
        [sys.executable, "-m", "seqcls", "--version"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0 and result.stdout.startswith("seqcls ")


@pytest.mark.slow
def test_cli_binary_task_trains_one_sigmoid_unit_and_predicts_two_probabilities(tmp_path):
    from conftest import labelled_rows, write_csv

    rows = [(text, "yes" if label == "card_lost" else "no") for text, label in labelled_rows(60)]
    rows.append(("a row with no label", ""))  # left out and counted under on_bad_rows: skip
    write_csv(tmp_path / "train.csv", rows)
    config = tmp_path / "binary.yaml"
    config.write_text(
        "name: binary\ndata: {train: train.csv, on_bad_rows: skip}\n"
        "model: {embedding: {dim: 8}, encoder: {units: 8, merge_mode: sum}, "
        "attention: {type: none, pooling: max}}\n"
        "training: {epochs: 4, batch_size: 16, learning_rate: 0.01, class_weight: balanced}\n"
    )
    run_dir = tmp_path / "run"
    result = invoke("train", config, "--output-dir", run_dir)
    assert result.exit_code == 0, result.output
    labels = json.loads((run_dir / artifacts.LABELS_FILE).read_text())
    assert labels == {"task": "binary", "labels": ["no", "yes"]}
    manifest = json.loads((run_dir / artifacts.MANIFEST_FILE).read_text())
    # 20 "yes" and 40 "no" in train (valid held out keeps the ratio): yes weighs twice no.
    weights = manifest["class_weight"]
    assert weights["yes"] == pytest.approx(2 * weights["no"], rel=0.05)
    assert manifest["data"]["bad_rows"] == {"train": {"empty label": 1}}
    assert json.loads((run_dir / artifacts.METRICS_FILE).read_text())["bad_rows"] == {
        "train": {"empty label": 1}
    }
    result = invoke("predict", run_dir, "-", "--top-k", 2, input="i lost my card\n")
    assert result.exit_code == 0, result.output
    [row] = list(csv.DictReader(io.StringIO(result.stdout)))
    assert {row["top1_label"], row["top2_label"]} == {"no", "yes"}
    total = float(row["top1_probability"]) + float(row["top2_probability"])
    assert total == pytest.approx(1.0, abs=1e-5)


def test_cli_predict_with_attention_writes_token_weight_pairs(trained_run):
    folder, run_dir, _ = trained_run
    output = folder / "attention.jsonl"
    source = folder / "attention_input.csv"
    source.write_text(
        'text\n"I lost my card, please!"\n""\n', encoding="utf-8"
    )  # and an empty text
    result = invoke("predict", run_dir, source, "--output", output, "--with-attention")
    assert result.exit_code == 0, result.output
    first, empty = [json.loads(line) for line in output.read_text().splitlines()]
    assert [token for token, _ in first["attention"]] == ["i", "lost", "my", "card", "please"]
    assert sum(weight for _, weight in first["attention"]) == pytest.approx(1.0, abs=1e-4)
    assert empty["attention"] == []
    # CSV cells hold the same list as JSON text.
    result = invoke("predict", run_dir, "-", "--with-attention", input="my top up failed\n")
    [row] = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [token for token, _ in json.loads(row["attention"])] == ["my", "top", "up", "failed"]


@pytest.mark.slow
def test_cli_multilabel_tunes_thresholds_and_predicts_label_sets(tmp_path):
    from conftest import write_csv

    generator = np.random.default_rng(0)
    words = {"card": "i lost my card", "rate": "the exchange rate", "top": "top up failed"}
    rows = []
    for _ in range(150):
        chosen = [key for key in words if generator.random() < 0.5] or ["card"]
        rows.append((" and ".join(words[key] for key in chosen), "|".join(chosen)))
    write_csv(tmp_path / "train.csv", rows[:120])
    write_csv(tmp_path / "valid.csv", rows[120:])
    config = tmp_path / "ml.yaml"
    config.write_text(
        "name: ml\ntask: multilabel\ndata: {train: train.csv, valid: valid.csv}\n"
        "model: {embedding: {dim: 8}, encoder: {units: 8}}\n"
        "training: {epochs: 12, batch_size: 16, learning_rate: 0.02}\n"
    )
    run_dir = tmp_path / "run"
    result = invoke("train", config, "--output-dir", run_dir)
    assert result.exit_code == 0, result.output
    thresholds = json.loads((run_dir / artifacts.THRESHOLDS_FILE).read_text())["thresholds"]
    assert set(thresholds) == {"card", "rate", "top"}
    metrics = json.loads((run_dir / artifacts.METRICS_FILE).read_text())["valid"]
    assert metrics["micro_f1"] >= 0.9 and set(metrics["per_class"]) == set(thresholds)
    result = invoke("predict", run_dir, "-", input="the exchange rate and top up failed\n")
    assert result.exit_code == 0, result.output
    [row] = list(csv.DictReader(io.StringIO(result.stdout)))
    assert set(row["predicted_labels"].split("|")) == {"rate", "top"}
    everything = invoke("predict", run_dir, "-", "--threshold", "0", input="anything\n")
    [row] = list(csv.DictReader(io.StringIO(everything.stdout)))
    assert set(row["predicted_labels"].split("|")) == {"card", "rate", "top"}
    result = invoke("eval", run_dir, tmp_path / "valid.csv", "--output", tmp_path / "e.json")
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "e.json").read_text())["micro_f1"] == pytest.approx(
        metrics["micro_f1"]
    )


@pytest.mark.slow
def test_cli_tagging_learns_token_tags_and_predicts_aligned_tags(tmp_path):
    from conftest import write_csv

    generator = np.random.default_rng(1)
    people, places = ["emma", "harriet", "knightley"], ["highbury", "london", "bath"]
    rows = []
    for _ in range(160):
        person, place = generator.choice(people), generator.choice(places)
        tokens = ["mr", person, "went", "to", place, "."]
        tags = ["B-PER", "I-PER", "O", "O", "B-LOC", "O"]
        if generator.random() < 0.5:
            tokens, tags = tokens[1:], ["B-PER", *tags[2:]]
        rows.append((" ".join(tokens), " ".join(tags)))
    write_csv(tmp_path / "train.csv", rows[:130])
    write_csv(tmp_path / "valid.csv", rows[130:])
    config = tmp_path / "tag.yaml"
    config.write_text(
        "name: tag\ntask: tagging\ndata: {train: train.csv, valid: valid.csv}\n"
        "preprocessing: {strip_punctuation: false, max_length: 6}\n"
        "model: {embedding: {dim: 16}, encoder: {units: 16}, attention: {type: none}}\n"
        "training: {epochs: 30, batch_size: 16, learning_rate: 0.02, "
        "early_stopping: {patience: 5}}\n"
    )
    run_dir = tmp_path / "run"
    result = invoke("train", config, "--output-dir", run_dir)
    assert result.exit_code == 0, result.output
    metrics = json.loads((run_dir / artifacts.METRICS_FILE).read_text())["valid"]
    assert metrics["accuracy"] >= 0.9 and metrics["span_f1"] >= 0.8
    assert set(metrics["per_class"]) == {"B-LOC", "B-PER", "I-PER", "O"}
    # max_length cuts training sequences only: every token of a longer text gets a tag.
    result = invoke("predict", run_dir, "-", input="mr emma went to london . emma went to bath .\n")
    assert result.exit_code == 0, result.output
    [row] = list(csv.DictReader(io.StringIO(result.stdout)))
    tags = row["predicted_tags"].split()
    assert len(tags) == 11
    assert tags[:6] == ["B-PER", "I-PER", "O", "O", "B-LOC", "O"]


def test_cli_diverging_training_stops_with_exit_code_4(tiny_config, tmp_path):
    result = invoke(
        "train",
        tiny_config,
        "--output-dir",
        tmp_path / "run",
        "--set",
        "training.optimizer=sgd",
        "--set",
        "training.learning_rate=1e38",
    )
    assert result.exit_code == 4, result.output
    assert "training diverged" in result.output and "clipnorm" in result.output
    assert "Traceback" not in result.output


def test_cli_predict_reports_a_corrupt_or_unsafe_model(trained_run, tmp_path):
    import keras

    _, run_dir, _ = trained_run
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    (copy / artifacts.MODEL_FILE).write_bytes(b"PK\x03\x04 not really a zip")
    result = invoke("predict", copy, "-", input="i lost my card\n")
    assert result.exit_code == 3 and "not a readable Keras model" in result.output
    inputs = keras.Input((), dtype="string")
    keras.Model(inputs, keras.layers.Lambda(lambda x: x)(inputs)).save(copy / artifacts.MODEL_FILE)
    result = invoke("eval", copy, run_dir.parent / "data" / "test.csv")
    assert result.exit_code == 3 and "arbitrary code" in result.output


@pytest.mark.slow  # two trainings: about 7 s
def test_cli_same_config_and_seed_give_identical_metrics(trained_run, tmp_path):
    """A second run of the shared run's config and seed (deterministic, with dropout), in
    the same process after other runs, gives the same metrics and per-epoch history."""
    folder, first, _ = trained_run
    second = tmp_path / "second"
    result = cli_train(folder / "config.yaml", second, *TRAINED_RUN_OVERRIDES)
    assert result.exit_code == 0, result.output
    runs = [first, second]
    metrics = [json.loads((run / artifacts.METRICS_FILE).read_text()) for run in runs]
    assert metrics[0] == metrics[1]
    histories = [(run / artifacts.HISTORY_FILE).read_text().splitlines() for run in runs]
    # Same losses and accuracies every epoch (the timing column differs).
    assert len(histories[0]) == 1 + 8
    assert [line.rsplit(",", 1)[0] for line in histories[0]] == [
        line.rsplit(",", 1)[0] for line in histories[1]
    ]
    assert json.loads((first / artifacts.MANIFEST_FILE).read_text())["deterministic"] is True


def test_cli_shell_completion_completes_commands_and_options():
    """Typer's completion: --show-completion prints a script; the completer answers."""
    import os
    from pathlib import Path

    script = Path(sys.executable).parent / "seqcls"
    shown = subprocess.run(
        [str(script), "--show-completion", "bash"], capture_output=True, text=True, timeout=60
    )
    assert shown.returncode == 0 and "_seqcls_completion" in shown.stdout

    def complete(words: str, index: int) -> list[str]:
        env = {**os.environ, "_SEQCLS_COMPLETE": "complete_bash", "COMP_WORDS": words}
        env["COMP_CWORD"] = str(index)
        answer = subprocess.run([str(script)], env=env, capture_output=True, text=True, timeout=60)
        return answer.stdout.split()

    assert complete("seqcls tr", 1) == ["train"]
    assert "--explain" in complete("seqcls predict --ex", 2)


def test_cli_prints_paths_with_brackets_as_written(trained_run, tmp_path):
    """Paths and labels are the user's text, never Rich markup: "[bold]" in a file name
    is printed, not swallowed as a style."""
    folder, run_dir, _ = trained_run
    destination = tmp_path / "out[bold].json"
    result = invoke("eval", run_dir, folder / "data" / "test.csv", "-o", destination)
    assert result.exit_code == 0, result.output
    assert destination.is_file() and f"metrics written to {destination}" in result.output


@pytest.mark.slow  # a training: about 6 s
def test_cli_train_says_it_ignores_a_tune_section(tiny_config, tmp_path):
    """A config with a search space trains as if it had none, and says so (a note, shown
    even with --quiet)."""
    result = invoke(
        "train",
        tiny_config,
        "--output-dir",
        tmp_path / "run",
        "--quiet",
        "--set",
        "training.epochs=1",
        "--set",
        "tune.metric=val_loss",
    )
    assert result.exit_code == 0, result.output
    assert "note: the tune: section is for `seqcls tune`" in result.output
    assert "tune" not in (tmp_path / "run" / artifacts.CONFIG_FILE).read_text()
