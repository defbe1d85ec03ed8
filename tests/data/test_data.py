import csv
import io
import json
import re
from collections import Counter

import pytest
from conftest import labelled_rows, write_csv
from hypothesis import given, settings
from hypothesis import strategies as st

from seqcls.config import DataConfig
from seqcls.data.bad_rows import apply_policy
from seqcls.data.reading import parse_table, read_table
from seqcls.data.splits import (
    Split,
    labelled_split,
    read_split,
    stratified_split,
    unknown_label_problems,
)
from seqcls.errors import DataError


def test_data_reads_csv_with_quoted_commas_and_newlines_and_tracks_lines(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text('text,label\n"hello, world",a\n"two\nlines",b\nplain,NA\n', encoding="utf-8")
    table = read_table(path)
    assert [row["text"] for row in table.rows] == ["hello, world", "two\nlines", "plain"]
    assert list(table.lines) == [2, 3, 5]
    # "NA" is a label like any other: nothing is guessed to be missing.
    assert table.rows[2]["label"] == "NA"


def test_data_reads_tsv(tmp_path):
    path = write_csv(tmp_path / "d.tsv", [("a, b, c", "x"), ("d", "y")], delimiter="\t")
    split = read_split("train", path, DataConfig(train=path))
    assert split.texts == ["a, b, c", "d"]
    assert split.labels == ["x", "y"]


def test_data_reads_jsonl_with_integer_labels(tmp_path):
    path = tmp_path / "d.jsonl"
    rows = [{"id": 1, "text": "good", "label": 1}, {"id": 2, "text": "bad", "label": 0}]
    path.write_text("\n".join(json.dumps(row) for row in rows) + "\n\n", encoding="utf-8")
    split = read_split("train", path, DataConfig(train=path))
    assert split.labels == ["1", "0"]
    assert split.lines == [1, 2]


def test_data_wrong_field_count_row_is_recorded_with_file_and_line(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("text,label\nfine,a\nnot, fine,b\n", encoding="utf-8")
    table = read_table(path)
    assert [row["text"] for row in table.rows] == ["fine"]
    [problem] = table.problems
    assert problem.reason == "wrong field count"
    assert re.search(r"d\.csv, line 3: expected 2 fields .* found 3", str(problem))


def test_data_missing_column_lists_columns_and_config_key(tmp_path):
    path = write_csv(tmp_path / "d.csv", [("x", "a")], header=("text", "intent"))
    with pytest.raises(DataError) as error:
        read_split("train", path, DataConfig(train=path))
    message = str(error.value)
    assert "label column 'label' not found" in message
    assert "['text', 'intent']" in message
    assert "set data.label_column" in message


def test_data_empty_label_names_line(tmp_path):
    path = write_csv(tmp_path / "d.csv", [("x", "a"), ("y", " ")])
    split = read_split("train", path, DataConfig(train=path))
    assert split.texts == ["x"]
    with pytest.raises(DataError, match=r"line 3: the label \('label'\) is empty"):
        apply_policy(split.problems, "error", str(path))


def test_data_invalid_utf8_names_line(tmp_path):
    path = tmp_path / "d.csv"
    path.write_bytes(b"text,label\nok,a\nbad \xff byte,b\n")
    with pytest.raises(DataError, match=r"line 3: not valid UTF-8"):
        read_table(path)


def test_data_unknown_suffix_asks_for_format(tmp_path):
    path = tmp_path / "d.txt"
    path.write_text("text,label\nx,a\n", encoding="utf-8")
    with pytest.raises(DataError, match="set data.format"):
        read_table(path)
    assert read_table(path, "csv").rows == [{"text": "x", "label": "a"}]


def test_data_missing_file_and_header_only_file(tmp_path):
    with pytest.raises(DataError, match="data file not found"):
        read_table(tmp_path / "nope.csv")
    (tmp_path / "h.csv").write_text("text,label\n", encoding="utf-8")
    with pytest.raises(DataError, match="no data rows"):
        read_table(tmp_path / "h.csv")


def test_data_stratified_split_is_seeded_and_keeps_label_shares(tmp_path):
    rows = labelled_rows(90) + [("lonely text", "singleton")]
    split = labelled_split(
        "train", read_table(write_csv(tmp_path / "d.csv", rows)), "text", "label"
    )
    train, valid = stratified_split(split, 0.2, seed=7)
    again_train, again_valid = stratified_split(split, 0.2, seed=7)
    assert valid.texts == again_valid.texts and train.texts == again_train.texts
    assert len(train) + len(valid) == len(split)
    assert Counter(valid.labels) == {"card_lost": 6, "exchange_rate": 6, "top_up": 6}
    assert "singleton" in train.labels and "singleton" not in valid.labels
    # Line numbers follow the rows to their new split.
    assert all(split.texts[line - 2] == text for text, line in zip(valid.texts, valid.lines))


def test_data_unseen_label_is_an_error_naming_file_and_line():
    split = Split("test", ["a", "b"], ["x", "z"], "test.csv", [2, 3])
    with pytest.raises(DataError, match=r"test\.csv, line 3: label 'z' does not occur"):
        apply_policy(unknown_label_problems(split, ["x", "y"])[1], "error", split.source)


def test_data_load_splits_holds_out_valid_when_no_file(tmp_path):
    from seqcls.config import DataConfig
    from seqcls.data.splits import load_splits

    train = write_csv(tmp_path / "train.csv", labelled_rows(60))
    test = write_csv(tmp_path / "test.csv", labelled_rows(9) + [("new", "never_seen")])
    config = DataConfig(train=train, valid_split=0.2)
    splits = load_splits(config, seed=0)
    assert (len(splits.train), len(splits.valid)) == (48, 12)
    assert splits.labels == ["card_lost", "exchange_rate", "top_up"]
    with pytest.raises(DataError, match="label 'never_seen' does not occur"):
        load_splits(DataConfig(train=train, test=test), seed=0)
    # A smoke run drops rows with unseen labels instead of failing.
    smoke = load_splits(DataConfig(train=train, test=test), seed=0, smoke_rows=30)
    assert len(smoke.train) + len(smoke.valid) == 30
    assert "never_seen" not in smoke.test.labels


CELL = st.text(alphabet=st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(CELL, CELL, CELL), min_size=1, max_size=15))
def test_data_any_csv_written_by_the_csv_module_reads_back_identically(rows):
    buffer = io.StringIO()
    writer = csv.writer(buffer)  # the module's defaults (RFC 4180 line ends)
    writer.writerow(["id", "text", "label"])
    writer.writerows(rows)
    table = parse_table(buffer.getvalue(), "csv")
    assert not table.problems
    assert [(row["id"], row["text"], row["label"]) for row in table.rows] == rows


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(CELL, CELL), min_size=1, max_size=15))
def test_data_any_jsonl_reads_back_identically(rows):
    text = "".join(json.dumps({"text": t, "label": lab}) + "\n" for t, lab in rows)
    table = parse_table(text, "jsonl")
    assert [(row["text"], row["label"]) for row in table.rows] == rows


def test_data_tsv_quotes_are_characters_unless_configured(tmp_path):
    path = tmp_path / "d.tsv"
    path.write_text('text\tlabel\n"quoted" start\ta\nplain\tb\n', encoding="utf-8")
    split = read_split("train", path, DataConfig(train=path))
    assert split.texts == ['"quoted" start', "plain"]


def test_data_several_text_columns_are_joined_and_encoding_is_configurable(tmp_path):
    path = tmp_path / "d.csv"
    path.write_bytes("title,body,label\nCaf\xe9,ferm\xe9,a\n".encode("latin-1"))
    config = DataConfig(
        train=path, text_column=["title", "body"], text_separator=" | ", encoding="latin-1"
    )
    split = read_split("train", path, config)
    assert split.texts == ["Café | fermé"]
    with pytest.raises(DataError, match="not valid UTF-8"):
        read_split("train", path, DataConfig(train=path, text_column=["title", "body"]))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(CELL, CELL), min_size=1, max_size=10))
def test_data_prediction_tables_read_back_identically(rows):
    from seqcls.inference.rows import format_rows

    written = [{"text": text, "predicted_label": label} for text, label in rows]
    table = parse_table(format_rows(["text", "predicted_label"], written, "csv"), "csv")
    assert table.rows == written
