"""Reading never loses or invents what the user wrote (issue 13, items 4, 10 and 11):
data paths that exist are files, not patterns; lines end at "\\n" only; long CSV fields
read; JSONL cells without text are bad rows under data.on_bad_rows; stdin must be UTF-8."""

import io
import json
import shutil
import sys
from pathlib import Path

import pytest
from conftest import TINY_CONFIG, labelled_rows, write_csv

from seqcls.config import DataConfig, load_config
from seqcls.data.bad_rows import apply_policy
from seqcls.data.paths import expand_paths
from seqcls.data.reading import parse_table
from seqcls.data.splits import load_splits, read_split
from seqcls.data.streaming import labelled_rows as streamed_rows
from seqcls.errors import DataError
from seqcls.inference.inputs import read_input
from seqcls.inference.rows import format_rows

BAD = Path(__file__).parent.parent / "bad_data"
# Characters str.splitlines treats as line ends; inside a line they are text.
NOT_LINE_ENDS = "\f\v\x1c\x1d\x1e\x85\u2028\u2029"


def rows_of(paths, data, task="multiclass"):
    return list(streamed_rows(paths, data, task))


# Item 4: a path that exists is that file; only a missing path is a pattern.


def test_existing_path_with_glob_characters_is_that_file(tmp_path):
    literal = write_csv(tmp_path / "data[1].csv", [("bracket a", "a"), ("bracket b", "b")])
    write_csv(tmp_path / "data1.csv", [("impostor", "a")])
    config = DataConfig(train=literal, valid=literal)
    splits = load_splits(config, seed=0)
    assert splits.train.texts == ["bracket a", "bracket b"]
    assert not [note for note in splits.notes if "pattern" in note]
    assert expand_paths(literal, "data.train") == [literal]
    # The streamed reader reads the same file.
    assert rows_of(expand_paths(literal), config) == [("bracket a", "a"), ("bracket b", "b")]
    # A folder named with glob characters is literal too; the pattern is only the rest.
    folder = tmp_path / "runs[1]"
    folder.mkdir()
    (tmp_path / "runs1").mkdir()
    write_csv(tmp_path / "runs1" / "part-0.csv", [("impostor", "a")])
    shards = [write_csv(folder / f"part-{i}.csv", [(f"t{i}", "a")]) for i in range(2)]
    assert expand_paths(folder / "part-*.csv") == shards


def test_missing_path_is_a_pattern_and_what_it_matched_is_reported(tmp_path):
    one = write_csv(tmp_path / "data1.csv", [("one", "a"), ("uno", "b")])
    pattern = tmp_path / "data[1].csv"  # no such file: a pattern that matches data1.csv
    split = read_split("train", pattern, DataConfig(train=pattern))
    assert split.texts == ["one", "uno"]
    assert split.notes == [f"data.train: pattern {pattern} matched 1 file in {tmp_path}: data1.csv"]
    for index in range(12):
        write_csv(tmp_path / f"part-{index:02}.csv", [(f"text {index}", "ab"[index % 2])])
    config = DataConfig(train=tmp_path / "part-*.csv", valid=one)
    splits = load_splits(config, seed=0)
    assert len(splits.train) == 12
    [note] = [note for note in splits.notes if "pattern" in note]
    assert note.startswith(f"data.train: pattern {tmp_path / 'part-*.csv'} matched 12 files")
    assert "part-00.csv, part-01.csv," in note and "... and 2 more" in note


def test_pattern_matching_nothing_names_the_config_key_and_pattern(tmp_path):
    good = write_csv(tmp_path / "good.csv", [("x", "a"), ("y", "b")])
    pattern = tmp_path / "dev-*.csv"
    with pytest.raises(DataError) as error:
        load_splits(DataConfig(train=good, valid=pattern), seed=0)
    message = str(error.value)
    assert message.startswith(f"data.valid: no file matches the pattern {pattern} ")
    assert "no file has that exact name" in message and "[[]" in message


def test_streamed_training_reports_what_its_pattern_matched(tmp_path):
    from seqcls.data import streaming

    data = tmp_path / "data"
    data.mkdir()
    rows = labelled_rows(60, seed=1)
    for index in range(2):
        write_csv(data / f"part-{index}.csv", rows[index * 30 : (index + 1) * 30])
    write_csv(data / "valid.csv", labelled_rows(24, seed=2))
    write_csv(data / "test.csv", labelled_rows(24, seed=3))
    (tmp_path / "config.yaml").write_text(TINY_CONFIG, encoding="utf-8")
    config = load_config(
        tmp_path / "config.yaml", [f"data.train={data / 'part-*.csv'}", "data.streaming=true"]
    )
    notes = streaming.prepare(config, config.task).splits.notes
    assert f"data.train: pattern {data / 'part-*.csv'} matched 2 files in {data}: " in "\n".join(
        notes
    )


# Item 11a and 10: stdin is UTF-8, one text per "\n"-ended line.


def piped(monkeypatch, raw: bytes) -> None:
    """Make `raw` the process's stdin, as a pipe would (bytes under a text stream)."""
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(raw), encoding="utf-8"))


def test_stdin_splits_on_newline_only(monkeypatch):
    texts = [f"text {i}{char}more" for i, char in enumerate(NOT_LINE_ENDS[:5])]
    piped(monkeypatch, "\n".join(texts).encode() + b"\n")
    assert [row["text"] for row in read_input("-", "text").rows] == texts
    piped(monkeypatch, "\n".join(f"a{char}b" for char in NOT_LINE_ENDS).encode())
    assert len(read_input("-", "text").rows) == len(NOT_LINE_ENDS)
    # \r\n ends a line too; a blank line is skipped (no text to classify), the others
    # keep their line numbers; a final line end adds no row.
    piped(monkeypatch, b"first\r\n\r\nthird \xef\xbb\xbfkept\n")
    table = read_input("-", "text")
    assert [row["text"] for row in table.rows] == ["first", "third \ufeffkept"]
    assert table.lines == [1, 3]


def test_stdin_that_is_not_utf8_is_a_data_error_with_line_and_offset(monkeypatch):
    piped(monkeypatch, b"fine\nna\xefve caf\xe9\n")
    with pytest.raises(DataError) as error:
        read_input("-", "text")
    message = str(error.value)
    assert message.startswith("<stdin>, line 2: not valid UTF-8")
    assert "byte offset 7" in message and "stdin is read as UTF-8" in message


def test_cli_predict_non_utf8_stdin_exits_3_without_traceback(trained_run):
    from typer.testing import CliRunner

    from seqcls.cli import app

    _, run_dir, _ = trained_run
    result = CliRunner().invoke(app, ["predict", str(run_dir), "-"], input=b"ok\n\xff\n")
    assert result.exit_code == 3, result.output
    assert "Traceback" not in result.output
    assert "<stdin>, line 2: not valid UTF-8" in result.output


# Item 11b: JSONL lines end at "\n" only.


def test_jsonl_with_unicode_line_separators_in_strings_reads_back(tmp_path):
    written = [
        {"text": f"before{char}after", "label": "ab"[i % 2]} for i, char in enumerate(NOT_LINE_ENDS)
    ]
    # What `seqcls predict --output x.jsonl` writes (ensure_ascii=False keeps U+2028 raw).
    text = format_rows(["text", "label"], written, "jsonl")
    assert "\u2028" in text
    path = tmp_path / "predictions.jsonl"
    path.write_text(text.replace("\n", "\r\n", 2), encoding="utf-8", newline="")
    assert parse_table(text, "jsonl").rows == written
    config = DataConfig(train=path)
    split = read_split("train", path, config)
    assert not split.problems
    assert split.texts == [row["text"] for row in written]
    assert split.lines == list(range(1, len(written) + 1))
    assert rows_of([path], config) == [(row["text"], row["label"]) for row in written]


def test_init_on_jsonl_with_line_separators_writes_a_config_that_loads(tmp_path):
    from seqcls.config.starter import starter_config

    rows = [
        {"text": f"text{char}{i}", "label": "ab"[i % 2]} for i, char in enumerate(NOT_LINE_ENDS * 3)
    ]
    data = tmp_path / "train.jsonl"
    data.write_text(format_rows(["text", "label"], rows, "jsonl"), encoding="utf-8")
    output = tmp_path / "config.yaml"
    output.write_text(starter_config(data, output), encoding="utf-8")
    assert f"{len(rows)} rows" in output.read_text(encoding="utf-8")
    config = load_config(output)
    assert (config.data.text_column, config.data.label_column) == ("text", "label")
    splits = load_splits(config.data, config.seed, task=config.task)
    assert len(splits.train) + len(splits.valid) == len(rows)


def test_init_reads_jsonl_labels_as_training_does(tmp_path):
    """Whole-number labels are labels, and a null cell is a bad row, not a crash."""
    from seqcls.config.starter import inspect_data

    data = tmp_path / "train.jsonl"
    lines = [json.dumps({"text": f"text {i}", "label": i % 3}) for i in range(9)]
    data.write_text("\n".join([*lines, '{"text": null, "label": 1}']) + "\n", encoding="utf-8")
    found = inspect_data(data, None)
    assert (found["text_column"], found["label_column"], found["labels"]) == ("text", "label", 3)


# Item 11c: a CSV field longer than the csv module's default limit is valid CSV.


@pytest.mark.parametrize("suffix", [".csv", ".tsv"])
def test_fields_longer_than_131072_characters_are_read(tmp_path, suffix):
    long_text = "word, " * 40_000 if suffix == ".csv" else "word " * 40_000
    assert len(long_text) > 131_072
    path = write_csv(
        tmp_path / f"long{suffix}",
        [(long_text, "a"), ("short", "b")],
        delimiter="," if suffix == ".csv" else "\t",
    )
    config = DataConfig(train=path)
    assert read_split("train", path, config).texts == [long_text, "short"]
    assert rows_of([path], config) == [(long_text, "a"), ("short", "b")]


# Item 11d: a JSONL cell that holds no text is a bad row, in memory and streamed.

BAD_CELLS = [
    ("line 2", "column 'label' is a number (1.5)"),
    ("line 3", "column 'text' is null"),
    ("line 4", "column 'label' is missing from this row"),
    ("line 5", "column 'text' is a JSON array"),
]


def test_jsonl_cells_without_text_are_bad_rows_in_memory(tmp_path):
    path = shutil.copy(BAD / "bad_cells.jsonl", tmp_path / "train.jsonl")
    split = read_split("train", Path(path), DataConfig(train=path))
    assert split.texts == ["i lost my card", "my top up failed again", "exchange rate for yen"]
    assert split.lines == [1, 6, 7]
    assert {problem.reason for problem in split.problems} == {"cell not text"}
    for problem, (line, what) in zip(split.problems, BAD_CELLS, strict=True):
        assert str(problem).startswith(f"{path}, {line}: {what}")
    with pytest.raises(
        DataError, match=r"(?s)4 bad row\(s\) .*train\.jsonl, line 3: column 'text'"
    ):
        apply_policy(split.problems, "error", str(path))
    valid = write_csv(tmp_path / "valid.csv", [("lost card", "card_lost"), ("top up", "top_up")])
    splits = load_splits(DataConfig(train=path, valid=valid, on_bad_rows="skip"), seed=0)
    assert splits.bad_rows == {"train": {"cell not text": 4}}
    assert any("left out 4 bad row(s) (cell not text: 4)" in note for note in splits.notes)


def test_jsonl_cells_without_text_are_bad_rows_when_streamed(tmp_path):
    path = Path(shutil.copy(BAD / "bad_cells.jsonl", tmp_path / "train.jsonl"))
    config = DataConfig(train=path, valid=path, on_bad_rows="skip")
    items = rows_of([path], config)
    good = [item for item in items if isinstance(item, tuple)]
    assert [text for text, _ in good] == split_texts(path, config)
    problems = [item for item in items if not isinstance(item, tuple)]
    assert [problem.where for problem in problems] == [f"{path}, {line}" for line, _ in BAD_CELLS]
    assert all(problem.reason == "cell not text" for problem in problems)
    # A column no row has is a missing column (as a CSV header would say), not N bad rows.
    with pytest.raises(DataError, match=r"text column 'body' not found in .*train\.jsonl"):
        rows_of([path], DataConfig(train=path, text_column="body"))


def split_texts(path, config):
    return read_split("train", path, config).texts


def test_predict_file_rows_without_text_follow_the_policy(tmp_path):
    path = tmp_path / "inputs.jsonl"
    path.write_text('{"text": "fine"}\n{"text": null}\n{"id": 3}\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"inputs\.jsonl, line 2: column 'text' is null"):
        read_input(str(path), "text", DataConfig(train=path))
    reported: list[str] = []
    table = read_input(
        str(path), "text", DataConfig(train=path, on_bad_rows="warn"), reported.append
    )
    assert table.rows == [{"text": "fine"}] and table.lines == [1]
    assert "left out 2 bad row(s) (cell not text: 2)" in reported[0]
    assert "line 3: column 'text' is missing from this row" in reported[1]
