"""Tables the way data people keep them: `seqcls predict` writes Parquet as it writes CSV
(the input's columns in order, then predict's), and the Python API takes and gives
pandas DataFrames."""

import csv
import dataclasses
import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

import seqcls
from seqcls.cli import app
from seqcls.errors import UsageError
from seqcls.inference.rows import arrow_table, write_rows

runner = CliRunner()
# Text-looking cells pandas' defaults would turn into NaN or numbers stay text.
INPUT = {
    "id": ["007", "a2", "NA", "a4"],
    "text": ["i lost my card", "exchange rate for euros", "", "my top up failed"],
    "note": ["null", "1e5", "n/a", "None"],
}


@pytest.fixture(scope="module")
def classifier(trained_run):
    return seqcls.load(trained_run[1])


@pytest.fixture(scope="module")
def outputs(trained_run, tmp_path_factory):
    """The same input predicted to CSV and to Parquet, with top-k and attention."""
    folder = tmp_path_factory.mktemp("tables")
    source = folder / "input.csv"
    with open(source, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(INPUT)
        writer.writerows(zip(*INPUT.values()))
    written = {}
    for name in ("out.csv", "out.parquet"):
        options = ["--top-k", "2", "--with-attention", "-o", str(folder / name)]
        result = runner.invoke(app, ["predict", str(trained_run[1]), str(source), *options])
        assert result.exit_code == 0, result.output
        written[name] = folder / name
    return written


def test_parquet_output_reads_back_as_the_csv_output(outputs):
    with open(outputs["out.csv"], newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    frame = pd.read_parquet(outputs["out.parquet"])
    header = ["id", "text", "note", "predicted_label", "predicted_probability"]
    header += ["top1_label", "top1_probability", "top2_label", "top2_probability", "attention"]
    assert list(frame.columns) == list(rows[0]) == header
    assert len(frame) == len(rows) == 4
    for column in ("id", "text", "note", "predicted_label", "top1_label"):
        assert pd.api.types.is_string_dtype(frame[column])
        assert frame[column].tolist() == [row[column] for row in rows]
    for column in ("predicted_probability", "top1_probability", "top2_probability"):
        assert frame[column].dtype == np.float64
        assert frame[column].tolist() == [float(row[column]) for row in rows]
    # Attention: a list of {token, weight} structs, the CSV's [token, weight] pairs.
    schema = pq.read_schema(outputs["out.parquet"])
    assert schema.field("attention").type == pa.list_(
        pa.struct([("token", pa.string()), ("weight", pa.float64())])
    )
    for cell, row in zip(frame["attention"], rows):
        assert [[pair["token"], pair["weight"]] for pair in cell] == json.loads(row["attention"])
    assert frame["attention"][2].tolist() == []  # the empty text has no tokens


def test_parquet_to_stdout_is_a_usage_error(trained_run, tmp_path):
    source = tmp_path / "in.csv"
    source.write_text("text\nmy card\n", encoding="utf-8")
    for options in (["--format", "parquet"], ["--format", "parquet", "-o", "-"]):
        result = runner.invoke(app, ["predict", str(trained_run[1]), str(source), *options])
        assert result.exit_code == UsageError.exit_code == 2
        assert "--format parquet writes a file, not stdout" in result.output
        assert "--output FILE.parquet" in result.output and "Traceback" not in result.output
    result = runner.invoke(app, ["predict", str(trained_run[1]), str(source), "-o", "p.xlsx"])
    assert result.exit_code == 2 and ".parquet name or pass --format" in result.output


def test_parquet_columns_keep_order_and_type_nested_jsonl_values(tmp_path):
    columns = ["z", "nested", "mixed", "empty", "absent", "predicted_label", "attention"]
    rows = [
        {"z": "a", "nested": {"k": 1, "v": [1, 2]}, "mixed": 1, "empty": {}},
        {"z": "b", "nested": {"k": 2, "v": []}, "mixed": "x", "empty": {}, "absent": None},
    ]
    for row, label in zip(rows, ("yes", "no")):
        row.update(predicted_label=label, attention=[["tok", 0.5], ["en", 0.5]])
    target = tmp_path / "out.parquet"
    target.write_bytes(b"an older file")
    write_rows(columns, rows, str(target), "parquet", token_weights=["attention"])
    assert [path.name for path in tmp_path.iterdir()] == ["out.parquet"]  # no temporary left
    frame = pd.read_parquet(target)
    assert list(frame.columns) == columns
    nested = pq.read_table(target).column("nested")
    assert nested.type == pa.struct([("k", pa.int64()), ("v", pa.list_(pa.int64()))])
    assert nested.to_pylist() == [{"k": 1, "v": [1, 2]}, {"k": 2, "v": []}]
    # What Arrow cannot type holds the CSV output's text; no value at all: nulls.
    assert frame["mixed"].tolist() == ["1", "x"]
    assert frame["empty"].tolist() == ["{}", "{}"]
    assert frame["absent"].isna().all() and arrow_table(columns, rows)["absent"].type == "string"
    assert [pair["weight"] for pair in frame["attention"][0]] == [0.5, 0.5]


def test_api_takes_a_dataframe_by_its_text_column(classifier):
    frame = pd.DataFrame(INPUT, index=["r1", "r2", "r3", "r4"])
    expected = classifier.predict_proba(INPUT["text"])
    np.testing.assert_array_equal(classifier.predict_proba(frame), expected)
    assert classifier.predict(frame, top_k=2) == classifier.predict(INPUT["text"], top_k=2)
    renamed = frame.rename(columns={"text": "body"})
    np.testing.assert_array_equal(classifier.predict_proba(renamed, text_column="body"), expected)
    # Several text columns are joined by the run's data.text_separator, as training does.
    data = classifier.config.data.model_copy(
        update={"text_column": ["head", "body"], "text_separator": " | "}
    )
    config = classifier.config.model_copy(update={"data": data})
    two = seqcls.Classifier(dataclasses.replace(classifier.run, config=config))
    parts = pd.DataFrame({"head": ["i lost", "top up"], "body": ["my card", "failed"]})
    np.testing.assert_array_equal(
        two.predict_proba(parts), classifier.predict_proba(["i lost | my card", "top up | failed"])
    )


def test_predict_frame_adds_predicts_columns_after_the_frames_own(classifier, outputs):
    frame = pd.DataFrame(INPUT, index=[10, 20, 30, 40])
    before = frame.copy()
    result = classifier.predict_frame(frame, top_k=2, attention=True)
    pd.testing.assert_frame_equal(frame, before)  # the caller's frame is left as it was
    assert result.index.tolist() == [10, 20, 30, 40]
    # The frame seqcls predict's Parquet file reads back as, cell for cell.
    written = pd.read_parquet(outputs["out.parquet"])
    assert list(result.columns) == list(written.columns)
    pd.testing.assert_frame_equal(
        result.drop(columns="attention").reset_index(drop=True),
        written.drop(columns="attention"),
        check_dtype=False,
    )
    assert [cell for cell in result["attention"]] == [list(cell) for cell in written["attention"]]
    plain = classifier.predict_frame(frame)
    assert list(plain.columns) == [*INPUT, "predicted_label", "predicted_probability"]
    with pytest.raises(
        UsageError, match=r"already has column\(s\) \['predicted_label', 'predicted_probability'\]"
    ):
        classifier.predict_frame(plain)
    with pytest.raises(UsageError, match="predict_frame takes a pandas DataFrame, got list"):
        classifier.predict_frame(INPUT["text"])


@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda clf: clf.predict(pd.DataFrame({"sentence": ["x"], "id": [1]})),
            r"text column 'text' \(the run's data.text_column\) not found in the DataFrame; "
            r"its columns are \['sentence', 'id'\]; pass text_column=",
        ),
        (
            lambda clf: clf.predict_frame(pd.DataFrame({"text": ["x"]}), text_column="body"),
            r"text column 'body' \(text_column\) not found .* its columns are \['text'\]",
        ),
        (
            lambda clf: clf.predict_proba(
                pd.DataFrame({"text": ["fine", pd.NA]}, index=["a", "b"], dtype="string")
            ),
            r"text column 'text', row 1 \(index 'b'\) is a missing value, not a string",
        ),
        (
            lambda clf: clf.predict(pd.DataFrame({"text": ["fine", None, np.nan]})),
            r"text column 'text', row 1 \(index 1\) is a missing value",
        ),
        (
            lambda clf: clf.predict(pd.DataFrame({"text": [1, 2]})),
            r"text column 'text', row 0 \(index 0\) is a value of type int",
        ),
        (
            lambda clf: clf.predict(["a text"], text_column="text"),
            "text_column picks a DataFrame's column; texts is a list",
        ),
    ],
)
def test_api_dataframe_mistakes_name_the_column(classifier, call, message):
    with pytest.raises(UsageError, match=message):
        call(classifier)


def test_predict_refuses_a_parquet_text_column_of_numbers(trained_run, tmp_path):
    source = tmp_path / "numbers.parquet"
    pd.DataFrame({"text": [1, 2, 3]}).to_parquet(source, index=False)
    result = runner.invoke(app, ["predict", str(trained_run[1]), str(source)])
    assert result.exit_code == 3, result.output
    assert "text column 'text' has type int64; expected a string column" in result.output
    with pytest.raises(
        seqcls.errors.UsageError, match=r"type int, not a string.*convert it with str\(\)"
    ):
        seqcls.load(trained_run[1]).predict([1, 2])
