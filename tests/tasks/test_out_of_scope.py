"""data.out_of_scope_label: its rows are never trained on as a class; in valid they fit the
abstention threshold, in valid/test/eval they measure out-of-scope recall and AUROC."""

import json
import random

import pytest
from conftest import TINY_CONFIG, cli_train, labelled_rows, write_csv
from typer.testing import CliRunner

from seqcls.cli import app
from seqcls.config import load_config
from seqcls.errors import ConfigError

OUTSIDE = [
    "what is the weather like in paris",
    "tell me a joke about cats",
    "who won the football match",
    "play some jazz music",
    "how tall is mount everest",
    "recommend a good pizza place",
]


def with_outside(rows, count, seed):
    generator = random.Random(seed)
    extra = [(generator.choice(OUTSIDE), "oos") for _ in range(count)]
    mixed = rows + extra
    generator.shuffle(mixed)
    return mixed


@pytest.mark.slow  # a run of its own
def test_out_of_scope_rows_are_left_out_of_training_and_measured(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    write_csv(data / "train.csv", with_outside(labelled_rows(90, seed=1), 12, seed=1))
    write_csv(data / "valid.csv", with_outside(labelled_rows(24, seed=2), 8, seed=2))
    test = write_csv(data / "test.csv", with_outside(labelled_rows(24, seed=3), 8, seed=3))
    config = tmp_path / "config.yaml"
    config.write_text(TINY_CONFIG, encoding="utf-8")
    run_dir = tmp_path / "run"
    result = cli_train(config, run_dir, "data.out_of_scope_label=oos", "training.epochs=4")
    assert result.exit_code == 0, result.output
    assert "train: 12 row(s) labelled 'oos' (data.out_of_scope_label) left out" in result.output
    assert json.loads((run_dir / "labels.json").read_text())["labels"] == [
        "card_lost",
        "exchange_rate",
        "top_up",
    ]
    chosen = json.loads((run_dir / "abstention.json").read_text())
    assert chosen["out_of_scope_rows"] == 8
    metrics = json.loads((run_dir / "metrics.json").read_text())
    block = metrics["test"]["out_of_scope"]
    assert block["rows"] == 8 and block["in_scope_rows"] == 24
    assert set(block["auroc"]) == {"top_probability", "margin"}
    assert block["threshold"] == chosen["threshold"]
    assert 0.0 <= block["out_of_scope_recall"] <= 1.0
    assert metrics["test"]["rows"] == 24  # the classification metrics are in scope only
    out = tmp_path / "eval.json"
    result = CliRunner().invoke(app, ["eval", str(run_dir), str(test), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "out of scope on" in result.output
    assert json.loads(out.read_text())["out_of_scope"] == block


def test_out_of_scope_label_needs_a_single_label_task_in_memory(tmp_path, tiny_data):
    config = tmp_path / "config.yaml"
    for extra, word in (("task: multilabel\n", "multilabel"), ("", "streaming True")):
        text = TINY_CONFIG.replace("name: tiny-test\n", f"name: tiny-test\n{extra}")
        text = text.replace(
            "  test: data/test.csv\n",
            "  test: data/test.csv\n  out_of_scope_label: oos\n"
            + ("  streaming: true\n" if not extra else ""),
        )
        config.write_text(text, encoding="utf-8")
        with pytest.raises(ConfigError, match=f"out_of_scope_label needs .*{word}"):
            load_config(config)
