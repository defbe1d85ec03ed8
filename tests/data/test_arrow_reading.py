"""CSV/TSV through Arrow give the exact reader's table (cells, lines, bad rows) or hand the
file to it; Parquet in, as text."""

import csv
import io

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seqcls.config import DataConfig
from seqcls.data.reading import read_table, stream_file
from seqcls.data.splits import load_splits, read_split
from seqcls.errors import DataError

CELL = st.text(alphabet=st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)))


def same_table(path, **options):
    """Read `path` both ways; the tables must be equal in every respect the callers see."""
    fast = read_table(path, **options)
    exact = read_table(path, reader="exact", **options)
    assert fast.columns == exact.columns
    assert fast.rows == exact.rows
    assert list(fast.lines) == list(exact.lines)
    assert [str(p) for p in fast.problems] == [str(p) for p in exact.problems]
    return fast


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=st.lists(st.tuples(CELL, CELL), min_size=1, max_size=12),
    ending=st.sampled_from(["\n", "\r\n"]),
    blank_after=st.sets(st.integers(0, 12), max_size=2),
    trailing=st.integers(0, 2),
)
def test_arrow_reads_any_csv_as_the_exact_reader_does(
    tmp_path, rows, ending, blank_after, trailing
):
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator=ending)
    writer.writerow(["text", "label"])
    for index, row in enumerate(rows):
        writer.writerow(row)
        if index in blank_after:
            buffer.write(ending)
    buffer.write(ending * trailing)
    path = tmp_path / "d.csv"
    path.write_bytes(buffer.getvalue().encode("utf-8"))
    try:
        same_table(path)
    except DataError as error:  # the exact reader's error, whichever reader ran first
        with pytest.raises(DataError) as exact:
            read_table(path, reader="exact")
        assert str(exact.value) == str(error)


def test_arrow_counts_lines_through_multi_line_cells_and_crlf(tmp_path):
    path = tmp_path / "d.csv"
    path.write_bytes(b'text,label\r\n"one\r\ntwo\r\nthree",a\r\nplain,b\r\n"x\ny",c\r\nlast,NA')
    table = same_table(path)
    assert table.reader == "arrow"
    assert list(table.lines) == [2, 5, 6, 8]
    assert table.column("label") == ["a", "b", "c", "NA"]


def test_arrow_keeps_text_as_written(tmp_path):
    path = tmp_path / "d.csv"
    path.write_bytes('\ufefftext , label\nNA,null\nNone,n/a\n1e5,007\n  spaced  ,""\n'.encode())
    table = same_table(path)
    assert table.reader == "arrow"
    assert table.columns == ["text", "label"]
    assert table.column("text") == ["NA", "None", "1e5", "  spaced  "]
    assert table.column("label") == ["null", "n/a", "007", ""]


def test_a_bad_row_after_multi_line_cells_is_reported_at_its_editor_line(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text(
        'text,label\n"a\nb\nc",x\nfine,y\n\nthree,fields,here\nok,z\n', encoding="utf-8"
    )
    table = read_table(path)
    assert table.reader.startswith("exact")
    assert [str(p) for p in table.problems] == [
        f"{path}, line 7: expected 2 fields (text, label) but found 3; quote fields that "
        "contain the delimiter (is this a TSV file? set data.format: tsv)"
    ]
    assert list(table.lines) == [2, 5, 8]


def test_blank_lines_between_rows_take_their_lines_from_the_exact_reader(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("text,label\na,x\n\nb,y\n\n\n", encoding="utf-8")
    table = same_table(path)
    assert table.reader == "arrow"  # the rows; their lines come from the exact reader
    assert list(table.lines) == [2, 4]
    lone_return = tmp_path / "r.csv"
    lone_return.write_bytes(b'text,label\n"a\rb",x\nc,y\n')
    assert list(same_table(lone_return).lines) == [2, 4]


def test_tsv_quotes_are_characters_through_arrow(tmp_path):
    path = tmp_path / "d.tsv"
    path.write_text('text\tlabel\n"quoted" start\ta\n"open\tb\n', encoding="utf-8")
    table = same_table(path)
    assert table.reader == "arrow"
    assert table.column("text") == ['"quoted" start', '"open']


def test_only_the_needed_columns_are_held(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text('id,text,notes,label\n1,hello,"a\nb",x\n2,bye,c,y\n', encoding="utf-8")
    table = read_table(path, columns=["text", "label"])
    assert table.columns == ["id", "text", "notes", "label"]
    assert set(table.data) == {"text", "label"}
    # A multi-line cell in a column not read: every column is parsed to count the lines.
    assert table.reader == "arrow"
    assert list(table.lines) == [2, 4]


def test_text_after_a_closing_quote_is_refused_by_the_exact_reader(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text('text,label\n"ab"c,x\nok,y\n', encoding="utf-8")
    assert read_table(path).column("text")[0] == "abc"  # Arrow's reading, documented
    with pytest.raises(DataError, match="line 2: malformed row"):
        read_split("train", path, DataConfig(train=path, reader="exact"))


def write_parquet(path, frame, **options):
    frame.to_parquet(path, index=False, **options)
    return path


def test_parquet_splits_read_text_and_labels(tmp_path):
    train = write_parquet(
        tmp_path / "train.parquet",
        pd.DataFrame(
            {
                "id": [1, 2, 3, 4],
                "text": ["NA", "null", "hello there", "007"],
                "label": pd.Categorical(["a", "b", "a", "b"]),
            }
        ),
    )
    valid = write_parquet(
        tmp_path / "valid.parquet",
        pd.DataFrame({"text": ["x", None, "z"], "label": ["a", "b", "b"]}),
    )
    splits = load_splits(DataConfig(train=train, valid=valid, on_bad_rows="skip"), seed=0)
    assert splits.train.texts == ["NA", "null", "hello there", "007"]
    assert splits.train.labels == ["a", "b", "a", "b"]
    assert splits.valid.texts == ["x", "z"]
    assert splits.bad_rows == {"valid": {"cell not text": 1}}
    with pytest.raises(DataError, match=r"valid.parquet, row 2: column 'text' is null"):
        load_splits(DataConfig(train=train, valid=valid), seed=0)


def test_parquet_whole_number_labels_are_labels_and_shards_glob(tmp_path):
    for shard in range(2):
        write_parquet(
            tmp_path / f"part-{shard}.parquet",
            pd.DataFrame({"text": [f"t{shard}a", f"t{shard}b"], "label": [0, 1]}),
        )
    split = read_split("train", tmp_path / "part-*.parquet", DataConfig(train="x.csv"))
    assert split.texts == ["t0a", "t0b", "t1a", "t1b"]
    assert split.labels == ["0", "1", "0", "1"]
    assert split.where(3) == f"{tmp_path / 'part-*.parquet'}, row 2"


def test_parquet_text_column_of_another_type_is_named_with_its_type(tmp_path):
    path = write_parquet(
        tmp_path / "d.parquet", pd.DataFrame({"text": [1.5, 2.5], "label": ["a", "b"]})
    )
    with pytest.raises(DataError, match=r"text column 'text' has type double; expected a string"):
        read_split("train", path, DataConfig(train=path))
    floats = write_parquet(
        tmp_path / "f.parquet", pd.DataFrame({"text": ["a", "b"], "label": [0.5, 1.0]})
    )
    with pytest.raises(DataError, match=r"label column 'label' has type double"):
        read_split("train", floats, DataConfig(train=floats))
    with pytest.raises(DataError, match=r"text column 'text' has type double"):
        list(stream_file(path, DataConfig(train=path), [("text", "data.text_column")]))


def test_parquet_streams_rows_and_refuses_a_broken_file(tmp_path):
    table = pa.table(
        {"text": pa.array(["a", "b", "c"], pa.large_string()), "label": ["x", "y", "x"]}
    )
    path = tmp_path / "d.parquet"
    pq.write_table(table, path, row_group_size=2)
    rows = list(stream_file(path, DataConfig(train=path), [("label", "data.label_column")]))
    assert rows == [
        (f"{path}, row 1", {"label": "x"}),
        (f"{path}, row 2", {"label": "y"}),
        (f"{path}, row 3", {"label": "x"}),
    ]
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"PAR1 not really")
    with pytest.raises(DataError, match="not a readable Parquet file"):
        read_table(broken)


def test_a_file_arrow_hands_to_the_exact_reader_is_named_in_the_notes(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("text,label\na,x\nb,y,extra\nc,y\n", encoding="utf-8")
    split = read_split("train", path, DataConfig(train=path, on_bad_rows="skip"))
    assert split.texts == ["a", "c"]
    assert split.notes == [
        f"train: {path} read by the csv module (1 row(s) with the wrong field count)"
    ]
    assert read_split("train", path, DataConfig(train=path, reader="exact")).notes == []
