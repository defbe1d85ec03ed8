"""data.streaming: the streamed scan equals the in-memory reading, and training from shards
works without loading them."""

import json

import numpy as np
import pytest
from conftest import TINY_CONFIG, cli_train, labelled_rows, write_csv

from seqcls import text
from seqcls.config import load_config
from seqcls.data import streaming
from seqcls.data.paths import expand_paths
from seqcls.data.splits import label_counts, load_splits
from seqcls.errors import ConfigError, DataError


@pytest.fixture
def sharded(tmp_path):
    """The tiny training rows split over three shards, plus one file with them all."""
    data = tmp_path / "data"
    data.mkdir()
    rows = labelled_rows(90, seed=1)
    rows[5] = ("Hello, WORLD! émoji 🙂 and   spaces", rows[5][1])
    for index in range(3):
        write_csv(data / f"part-{index}.csv", rows[index * 30 : (index + 1) * 30])
    write_csv(data / "train.csv", rows)
    write_csv(data / "valid.csv", labelled_rows(24, seed=2))
    write_csv(data / "test.csv", labelled_rows(24, seed=3))
    config = tmp_path / "config.yaml"
    config.write_text(TINY_CONFIG.replace("max_length: 12", "max_length: auto"), encoding="utf-8")
    return tmp_path, config


def test_glob_expands_to_sorted_shards_and_reports_no_match(sharded):
    folder, _ = sharded
    paths = expand_paths(folder / "data" / "part-*.csv")
    assert [p.name for p in paths] == ["part-0.csv", "part-1.csv", "part-2.csv"]
    with pytest.raises(DataError, match="no file matches"):
        expand_paths(folder / "data" / "nothing-*.csv")


@pytest.mark.parametrize(
    "overrides",
    [
        [],
        ["preprocessing.tokenizer=char"],
        ["preprocessing.min_frequency=3", "preprocessing.max_tokens=20"],
    ],
)
def test_streamed_scan_builds_the_in_memory_vocabulary(sharded, overrides):
    folder, config_path = sharded
    config = load_config(config_path, overrides)
    splits = load_splits(config.data, config.seed, task=config.task)
    expected = text.build_vocabulary(splits.train.texts, config.preprocessing)
    streamed_config = load_config(
        config_path,
        [*overrides, f"data.train={folder / 'data' / 'part-*.csv'}", "data.streaming=true"],
    )
    streamed = streaming.prepare(streamed_config, streamed_config.task)
    assert streamed.vocabulary == expected
    assert streamed.splits.labels == splits.labels
    assert len(streamed.splits.train) == 90
    # Not a Split: the rows are never in memory, and asking for them says so.
    for missing in ("texts", "labels"):
        with pytest.raises(TypeError, match=f"not held in memory and has no .{missing}"):
            getattr(streamed.splits.train, missing)
    # The same counts as in memory (the lossy-count cap was never reached).
    in_memory = text.TextCounts.of_texts(splits.train.texts, config.preprocessing)
    assert streamed.scan.counts.tokens == in_memory.tokens
    assert streamed.scan.counts.lengths == in_memory.lengths
    assert streamed.scan.counts.rows == in_memory.rows == 90
    assert streamed.label_counts == label_counts(splits.train.labels, "multiclass")
    # The batch count the display is sized by matches what the dataset yields.
    vectorizer = text.make_vectorizer(config.preprocessing, expected.tokens, ragged=True)
    dataset = streamed.dataset(streamed_config, vectorizer, "multiclass")
    batches = list(dataset)
    assert len(batches) == streamed.steps(streamed_config.training.batch_size, True)
    assert sum(int(ids.shape[0]) for ids, _ in batches) == 90
    # Right-padded ids cut at max_length, never an empty row.
    for ids, _ in batches:
        ids = ids.numpy()
        assert ids.shape[1] <= expected.max_length and np.all(ids[:, 0] != 0)


def test_streamed_scan_counts_every_chunk_and_caps_distinct_tokens(monkeypatch, sharded):
    folder, config_path = sharded
    config = load_config(config_path, [f"data.train={folder / 'data' / 'part-*.csv'}"])
    splits = load_splits(config.data, config.seed, task=config.task)
    paths = expand_paths(config.data.train)
    exact = text.TextCounts.of_texts(splits.train.texts, config.preprocessing)
    # Chunks of 7 rows: the counts do not depend on the chunking.
    monkeypatch.setattr(streaming, "COUNT_CHUNK_ROWS", 7)
    result = streaming.scan(paths, config.data, config.preprocessing, "multiclass")
    assert (result.counts.tokens, result.counts.lengths) == (exact.tokens, exact.lengths)
    assert result.counts.labels == label_counts(splits.train.labels, "multiclass")
    # Past the cap, the rarest tokens go and the note says from which count.
    monkeypatch.setattr(streaming, "SCAN_TOKEN_CAP", 10)
    capped = streaming.scan(paths, config.data, config.preprocessing, "multiclass")
    assert capped.counts.pruned_at >= 1 and len(capped.counts.tokens) <= 10
    assert capped.counts.lengths == exact.lengths  # lengths are never lossy
    assert all(count <= exact.tokens[token] for token, count in capped.counts.tokens.items())


def test_streamed_bad_rows_follow_the_policy_with_true_totals(sharded):
    folder, config_path = sharded
    bad = folder / "data" / "part-1.csv"
    bad.write_text(bad.read_text() + '"a text",\n"x","y","z"\n' * 15, encoding="utf-8")
    overrides = [f"data.train={folder / 'data' / 'part-*.csv'}", "data.streaming=true"]
    config = load_config(config_path, overrides)
    with pytest.raises(DataError) as error:
        streaming.prepare(config, config.task)
    message = str(error.value)
    assert "30 bad row(s)" in message and "empty label: 15" in message
    assert "part-1.csv, line 32" in message and "... and 10 more" in message
    skipping = load_config(config_path, [*overrides, "data.on_bad_rows=skip"])
    streamed = streaming.prepare(skipping, skipping.task)
    assert streamed.splits.bad_rows["train"] == {"empty label": 15, "wrong field count": 15}
    assert len(streamed.splits.train) == 90


def test_streaming_config_needs_a_valid_file_and_a_text_level_task(tiny_config):
    with pytest.raises(ConfigError, match="data.streaming needs data.valid"):
        load_config(tiny_config, ["data.streaming=true", "data.valid=null"])
    with pytest.raises(ConfigError, match="shuffle_buffer applies to data.streaming"):
        load_config(tiny_config, ["data.shuffle_buffer=100"])


@pytest.mark.slow  # moved out of the default suite (over 5 s): .ci/run runs it
def test_cli_trains_from_shards_with_steps_per_epoch(sharded):
    folder, config_path = sharded
    run_dir = folder / "run"
    result = cli_train(
        config_path,
        run_dir,
        f"data.train={folder / 'data' / 'part-*.csv'}",
        "data.streaming=true",
        "data.shuffle_buffer=50",
        "training.epochs=8",
        "training.steps_per_epoch=5",
    )
    assert result.exit_code == 0, result.output
    assert "90 rows streamed in 3 files" in result.output
    history = (run_dir / "history.csv").read_text().splitlines()
    assert len(history) == 1 + 8  # eight epochs of five batches each
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["test"]["accuracy"] >= 0.8
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert [
        shard["path"].rsplit("/", 1)[1] for shard in manifest["data"]["files"]["train"]["shards"]
    ] == ["part-0.csv", "part-1.csv", "part-2.csv"]
    assert manifest["data"]["rows_used"]["train"] == 90


@pytest.mark.parametrize("task", ["multiclass", "binary", "multilabel"])
def test_arrow_and_exact_readers_give_the_same_scan_and_the_same_batches(sharded, task):
    folder, config_path = sharded
    relabel = {
        "multiclass": lambda label: label,
        "binary": lambda label: "yes" if label == "card_lost" else "no",
        "multilabel": lambda label: label if label != "top_up" else "top_up|card_lost",
    }[task]
    for index in range(3):
        shard = folder / "data" / f"part-{index}.csv"
        rows = [(text, relabel(label)) for text, label in labelled_rows(30, seed=index)]
        rows[4] = ("  ", rows[4][1])
        write_csv(shard, rows)
        if index == 1:
            shard.write_text(shard.read_text() + "a,b,c\n", encoding="utf-8")
    overrides = [
        f"data.train={folder / 'data' / 'part-*.csv'}",
        "data.streaming=true",
        "data.on_bad_rows=skip",
        "data.shuffle_buffer=40",
        f"task={task}",
    ]
    if task != "multiclass":
        for split in ("valid", "test"):
            path = folder / "data" / f"{split}.csv"
            write_csv(path, [(t, relabel(label)) for t, label in labelled_rows(24, seed=7)])
    found = {}
    for reader in ("exact", "auto"):
        config = load_config(config_path, [*overrides, f"data.reader={reader}"])
        streamed = streaming.prepare(config, task)
        vectorizer = text.make_vectorizer(
            config.preprocessing, streamed.vocabulary.tokens, ragged=True
        )
        batches = [
            (ids.numpy().tolist(), targets.numpy().tolist())
            for ids, targets in streamed.dataset(config, vectorizer, task)
        ]
        found[reader] = (streamed.scan, streamed.vocabulary, streamed.splits.bad_rows, batches)
    exact, auto = found["exact"], found["auto"]
    assert auto[0].counts == exact[0].counts and auto[0].problems == exact[0].problems
    assert auto[1:] == exact[1:]
    assert exact[2]["train"] == {"empty text": 3, "wrong field count": 1}
    assert sum(len(ids) for ids, _ in exact[3]) == 87
