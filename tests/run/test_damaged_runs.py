"""Damaged run directories: every file of a run is checked, on its own and against the
others, when the run is loaded (predict, eval, export) or resumed. Damage is a DataError
(exit 3) that names the file, says what is wrong and what to do; never a traceback,
never silently wrong predictions.

Each test copies the shared trained run and damages one file. The JSON and YAML checks
come before the model is loaded: in those cases model.keras is replaced by garbage, so a
check that ran too late would report the model instead of the damaged file.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from seqcls.errors import DataError, UsageError
from seqcls.inference.predict import check_run_model, load_run
from seqcls.run import artifacts, readers
from seqcls.training.resume import resume_config


@pytest.fixture
def run_copy(trained_run, tmp_path) -> Path:
    _, run_dir, _ = trained_run
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    return copy


def _json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _write_json(path: Path, data) -> None:
    path.write_text(json.dumps(data), encoding="utf-8")


def _truncate(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    path.write_text(text[: len(text) // 2], encoding="utf-8")


def _cut_inside(path: Path, key: str) -> None:
    text = path.read_text(encoding="utf-8")
    path.write_text(text[: text.index(key) + len(key) // 2], encoding="utf-8")


def _truncated(name: str):
    return lambda run: _truncate(run / name)


def _edit_json(name: str, change):
    def damage(run: Path) -> None:
        data = _json(run / name)
        change(data)
        _write_json(run / name, data)

    return damage


def _edit_config(change):
    def damage(run: Path) -> None:
        data = yaml.safe_load((run / artifacts.CONFIG_FILE).read_text(encoding="utf-8"))
        change(data)
        (run / artifacts.CONFIG_FILE).write_text(yaml.safe_dump(data), encoding="utf-8")

    return damage


def _multilabel_without_thresholds(run: Path) -> None:
    _edit_json(artifacts.LABELS_FILE, lambda d: d.update(task="multilabel"))(run)
    _edit_config(lambda d: d.update(task="multilabel"))(run)


def _label_removed_from_an_auto_run(run: Path) -> None:
    _edit_config(lambda d: d.update(task="auto"))(run)
    _edit_json(artifacts.LABELS_FILE, lambda d: d["labels"].pop())(run)


# (file damaged, how, words the message must hold). The shared run: multiclass, three
# labels (card_lost, exchange_rate, top_up), config task multiclass (auto in the config it
# was trained with), max_length 12.
CHEAP_DAMAGE = {
    "labels truncated": (
        artifacts.LABELS_FILE,
        _truncated(artifacts.LABELS_FILE),
        "not valid JSON",
    ),
    "labels empty": (artifacts.LABELS_FILE, lambda r: (r / "labels.json").write_text(""), "empty"),
    "labels not UTF-8": (
        artifacts.LABELS_FILE,
        lambda r: (r / "labels.json").write_bytes(b'{"task": "\xff"}'),
        "not UTF-8",
    ),
    "labels a list": (
        artifacts.LABELS_FILE,
        lambda r: _write_json(r / "labels.json", ["card_lost", "top_up"]),
        "JSON object",
    ),
    "labels a string": (
        artifacts.LABELS_FILE,
        _edit_json(artifacts.LABELS_FILE, lambda d: d.update(labels="abc")),
        "'labels' should be a list of strings",
    ),
    "labels not strings": (
        artifacts.LABELS_FILE,
        _edit_json(artifacts.LABELS_FILE, lambda d: d.update(labels=[1, 2, 3])),
        "'labels' should be a list of strings",
    ),
    "labels none": (
        artifacts.LABELS_FILE,
        _edit_json(artifacts.LABELS_FILE, lambda d: d.update(labels=[])),
        "'labels' is empty",
    ),
    "label blank": (
        artifacts.LABELS_FILE,
        _edit_json(artifacts.LABELS_FILE, lambda d: d.update(labels=["card_lost", " ", "top_up"])),
        "label #2 is empty",
    ),
    "label repeated": (
        artifacts.LABELS_FILE,
        _edit_json(artifacts.LABELS_FILE, lambda d: d.update(labels=["top_up", "a", "top_up"])),
        "'top_up' appears more than once",
    ),
    "no task": (
        artifacts.LABELS_FILE,
        _edit_json(artifacts.LABELS_FILE, lambda d: d.pop("task")),
        "has no 'task'",
    ),
    "unknown task": (
        artifacts.LABELS_FILE,
        _edit_json(artifacts.LABELS_FILE, lambda d: d.update(task="regression")),
        "expected one of multiclass, binary, multilabel, tagging",
    ),
    "task changed": (
        artifacts.LABELS_FILE,
        _edit_json(artifacts.LABELS_FILE, lambda d: d.update(task="multilabel")),
        "says the task is 'multilabel' but",
    ),
    # Task auto (as config.yaml kept it before runs recorded the task the data decided):
    # two labels would have trained a binary model.
    "a label removed": (
        artifacts.LABELS_FILE,
        _label_removed_from_an_auto_run,
        "lists 2 labels with task 'multiclass'",
    ),
    # Since then config.yaml records the task: a removed label contradicts nothing but
    # the model's outputs (test_labels_must_match_the_models_outputs).
    "binary with three labels": (
        artifacts.LABELS_FILE,
        _edit_json(artifacts.LABELS_FILE, lambda d: d.update(task="binary")),
        "task is binary but there are 3 labels",
    ),
    "multilabel without thresholds": (
        artifacts.THRESHOLDS_FILE,
        _multilabel_without_thresholds,
        "is missing",
    ),
    "vocabulary truncated": (
        artifacts.VOCABULARY_FILE,
        _truncated(artifacts.VOCABULARY_FILE),
        "not valid JSON",
    ),
    "vocabulary empty": (
        artifacts.VOCABULARY_FILE,
        lambda r: (r / "vocabulary.json").write_text("\n"),
        "empty",
    ),
    "no max_length": (
        artifacts.VOCABULARY_FILE,
        _edit_json(artifacts.VOCABULARY_FILE, lambda d: d.pop("max_length")),
        "has no 'max_length'",
    ),
    "max_length a string": (
        artifacts.VOCABULARY_FILE,
        _edit_json(artifacts.VOCABULARY_FILE, lambda d: d.update(max_length="12")),
        "'max_length' should be a whole number >= 1",
    ),
    "tokens without padding": (
        artifacts.VOCABULARY_FILE,
        _edit_json(artifacts.VOCABULARY_FILE, lambda d: d["tokens"].pop(0)),
        "should start with the padding",
    ),
    "config bad YAML": (
        artifacts.CONFIG_FILE,
        lambda r: (r / "config.yaml").write_text("name: tiny\ndata: [train\n"),
        "not valid YAML",
    ),
    # Cut mid-line (inside the data section's first key): bad YAML, or sections missing.
    # (Cut between lines further down, the remaining sections would take their defaults.)
    "config truncated": (
        artifacts.CONFIG_FILE,
        lambda run: _cut_inside(run / artifacts.CONFIG_FILE, "  train:"),
        ("not valid YAML", "not a valid seqcls config"),
    ),
    "config empty": (artifacts.CONFIG_FILE, lambda r: (r / "config.yaml").write_text(""), "empty"),
    "config invalid": (
        artifacts.CONFIG_FILE,
        _edit_config(lambda d: d["model"]["encoder"].update(cell="lsmt")),
        "model.encoder.cell",
    ),
}


@pytest.mark.parametrize("case", sorted(CHEAP_DAMAGE))
def test_damaged_run_files_are_reported_before_the_model_is_loaded(run_copy, case):
    name, damage, words = CHEAP_DAMAGE[case]
    damage(run_copy)
    # Were the model loaded, this garbage would be reported instead of the damaged file.
    (run_copy / artifacts.MODEL_FILE).write_bytes(b"not a model")
    with pytest.raises(DataError) as caught:
        load_run(run_copy)
    message = str(caught.value)
    assert str(run_copy / name) in message
    assert any(
        alternative in message for alternative in (words if isinstance(words, tuple) else [words])
    )
    assert "restore" in message and "train" in message  # what to do
    assert artifacts.MODEL_FILE not in message.replace(str(run_copy / name), "")


def test_the_undamaged_copy_loads_and_predicts(run_copy):
    """The copy the other tests damage is a working run: they fail for the damage alone."""
    from seqcls.data.reading import Table
    from seqcls.inference.predict import predict_table

    run = load_run(run_copy)
    assert run.task == "multiclass" and run.labels == ["card_lost", "exchange_rate", "top_up"]
    assert run.max_length == 12 and run.thresholds is None
    table = Table(None, ["text"], {"text": ["i lost my card"]}, [1])
    _, [row] = predict_table(run, table, "text")
    assert row["predicted_label"] == "card_lost"


@pytest.fixture(scope="module")
def loaded(trained_run):
    """The shared run loaded once, with its vocabulary: the model checks share it."""
    _, run_dir, _ = trained_run
    return load_run(run_dir), readers.read_vocabulary(run_dir)


def test_labels_must_match_the_models_outputs(loaded):
    run, vocabulary = loaded
    labels = run.labels
    check_run_model(run.directory, run.model, "multiclass", labels, vocabulary)  # as trained
    # Fewer labels than outputs (the task set explicitly, so only the model can tell).
    with pytest.raises(DataError, match="lists 2 labels for task multiclass .* 3 outputs"):
        check_run_model(run.directory, run.model, "multiclass", labels[:2], vocabulary)
    with pytest.raises(DataError, match="lists 4 labels .* 3 outputs, expected 4"):
        check_run_model(run.directory, run.model, "multiclass", [*labels, "x"], vocabulary)
    # Binary is one sigmoid output for two labels: a three-output model is not one.
    with pytest.raises(DataError, match="expected 1 .*one sigmoid output for its two labels"):
        check_run_model(run.directory, run.model, "binary", labels[:2], vocabulary)


def test_vocabulary_must_match_the_models_embedding_and_vectorizer(loaded):
    run, vocabulary = loaded
    tokens = vocabulary["tokens"]
    shorter = {**vocabulary, "tokens": tokens[:-1]}
    with pytest.raises(DataError, match=f"has {len(tokens) - 1} tokens but the embedding"):
        check_run_model(run.directory, run.model, run.task, run.labels, shorter)
    swapped = {**vocabulary, "tokens": [*tokens[:2], tokens[3], tokens[2], *tokens[4:]]}
    with pytest.raises(DataError, match="does not match the vocabulary inside .* entry 2"):
        check_run_model(run.directory, run.model, run.task, run.labels, swapped)
    longer = {**vocabulary, "max_length": 40}
    with pytest.raises(DataError, match="says max_length 40 but .* cuts texts at 12"):
        check_run_model(run.directory, run.model, run.task, run.labels, longer)


def test_more_labels_than_outputs_is_refused_by_load_run(run_copy):
    """The model checks are part of load_run: a fourth label (same task) is refused."""
    _edit_json(artifacts.LABELS_FILE, lambda d: d["labels"].append("zzz"))(run_copy)
    with pytest.raises(DataError) as caught:
        load_run(run_copy)
    assert str(run_copy / artifacts.LABELS_FILE) in str(caught.value)
    assert "4 labels" in str(caught.value) and "3 outputs" in str(caught.value)


def test_thresholds_must_cover_exactly_the_labels(tmp_path):
    labels = ["a", "b", "c"]
    path = tmp_path / artifacts.THRESHOLDS_FILE

    def thresholds(values) -> list[float]:
        _write_json(path, {"tuned_on": "valid", "thresholds": values})
        return readers.read_thresholds(tmp_path, labels)

    assert thresholds({"c": 0.3, "a": 0.1, "b": 0.2}) == [0.1, 0.2, 0.3]  # in label order
    for values, words in [
        ({"a": 0.1, "b": 0.2}, "no threshold for 'c'"),
        ({"a": 0.1, "b": 0.2, "c": 0.3, "d": 0.4}, "labels the run does not have: ['d']"),
        ({"a": 0.1, "b": "high", "c": 0.3}, "threshold of 'b' is string"),
        ({"a": 0.1, "b": 1.5, "c": 0.3}, "between 0 and 1"),
        ([0.1, 0.2, 0.3], "'thresholds' should be an object"),
    ]:
        with pytest.raises(DataError, match="thresholds.json") as caught:
            thresholds(values)
        assert words in str(caught.value)
    _truncate(path)
    with pytest.raises(DataError, match="thresholds.json is not valid JSON"):
        readers.read_thresholds(tmp_path, labels)


def _unfinished(run: Path) -> None:
    """The state of a run stopped after an epoch (its checkpoint: any model file will do)."""
    _edit_json(
        artifacts.STATE_FILE,
        lambda d: d.update(finished=False, checkpoint=artifacts.BEST_CHECKPOINT_FILE),
    )(run)


RESUME_DAMAGE = {
    "state truncated": (artifacts.STATE_FILE, _truncated(artifacts.STATE_FILE), "not valid JSON"),
    "state empty": (
        artifacts.STATE_FILE,
        lambda r: (r / artifacts.STATE_FILE).write_text(""),
        "empty",
    ),
    "state without rows": (
        artifacts.STATE_FILE,
        _edit_json(artifacts.STATE_FILE, lambda d: d.pop("rows")),
        "has no 'rows'",
    ),
    "epochs a string": (
        artifacts.STATE_FILE,
        _edit_json(artifacts.STATE_FILE, lambda d: d.update(completed_epochs="8")),
        "'completed_epochs' should be a whole number >= 0",
    ),
    "checkpoint missing": (
        artifacts.STATE_FILE,
        lambda r: (_unfinished(r), (r / artifacts.BEST_CHECKPOINT_FILE).unlink()),
        "names the checkpoint checkpoints/best.keras, which is missing",
    ),
    "config bad YAML": (
        artifacts.CONFIG_FILE,
        lambda r: (_unfinished(r), (r / "config.yaml").write_text("data: {train: [\n")),
        "not valid YAML",
    ),
    "config invalid": (
        artifacts.CONFIG_FILE,
        lambda r: (_unfinished(r), _edit_config(lambda d: d.update(seed="zero"))(r)),
        "seed",
    ),
}


@pytest.mark.parametrize("case", sorted(RESUME_DAMAGE))
def test_resume_reports_a_damaged_state_or_config(run_copy, case):
    name, damage, words = RESUME_DAMAGE[case]
    damage(run_copy)
    with pytest.raises(DataError) as caught:
        resume_config(run_copy, None, [])
    message = str(caught.value)
    assert str(run_copy / name) in message and words in message
    assert "restore" in message


def test_resume_reads_an_undamaged_state(run_copy):
    """The shared run finished: its intact state says so (resuming is refused as usage)."""
    with pytest.raises(UsageError, match="finished training"):
        resume_config(run_copy, None, [])
    _unfinished(run_copy)
    assert resume_config(run_copy, None, []).name == "tiny-test"


def _seqcls(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run(
        [sys.executable, "-m", "seqcls", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


@pytest.mark.slow
def test_cli_predict_and_eval_exit_3_on_a_damaged_run(run_copy, trained_run):
    folder, _, _ = trained_run
    _edit_json(artifacts.LABELS_FILE, lambda d: d.update(labels="abc"))(run_copy)
    result = _seqcls("predict", str(run_copy), "-", stdin="i lost my card\n")
    assert result.returncode == 3, result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert "labels.json" in result.stderr and "list of strings" in result.stderr
    # One label fewer, the task set explicitly: only the model can tell.
    _edit_json(artifacts.LABELS_FILE, lambda d: d.update(labels=["card_lost", "exchange_rate"]))(
        run_copy
    )
    _edit_config(lambda d: d.update(task="multiclass"))(run_copy)
    result = _seqcls("eval", str(run_copy), str(folder / "data" / "test.csv"))
    assert result.returncode == 3, result.stderr
    assert "Traceback" not in result.stderr
    assert "labels.json" in result.stderr and "3 outputs" in result.stderr
