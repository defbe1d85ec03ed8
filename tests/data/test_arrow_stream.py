"""The streaming scan through Arrow (data.reader auto) finds what the exact scan finds: the
same token and length counts (Arrow compute standing in for TensorFlow's string ops), the
same labels, and the same bad rows with the same file and line, whatever the file holds
(quoted cells over several lines, blank lines, wrong field counts, bad bytes, Parquet
nulls)."""

import csv
import io

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seqcls.config import DataConfig, PreprocessingConfig
from seqcls.data import arrow_stream, streaming
from seqcls.errors import DataError
from seqcls.text import TextCounts
from seqcls.text.arrow_counts import token_counts

TRICKY_TEXTS = [
    "Hello, WORLD! émoji 🙂 and   spaces",
    "",
    "   ",
    "\t\n\x0b\x0c\r",
    "a\u00a0b c\u2028d \x1ce\x1d \x85f \u3000g",  # not ASCII white space: inside tokens
    "İSTANBUL ß ẞ Σ ǅ ÀÉ",  # not ASCII letters: lowercase leaves them
    "!!! ... --- ? a-b a--b (x) [UNK] [unk] {}|~` ",
    "\x00 nul\x00byte",
    "👩\u200d👩\u200d👧 e\u0301 ！ 。 ＡＢＣ 𝔘𝔫𝔦",
    "don't it's O'Neil \\back\\slash `tick` ^hat~",
    " leading and trailing ",
    "tab\tsep\r\nline\n\nend",
]
PREPROCESSING = [
    PreprocessingConfig(
        tokenizer=tokenizer, lowercase=lower, strip_punctuation=strip, split_punctuation=split
    )
    for tokenizer in ("word", "char")
    for lower in (True, False)
    for strip in (True, False)
    for split in (False, True)
    if not (tokenizer == "char" and split and not strip)  # refused by the config
]
CHARACTERS = st.characters(blacklist_categories=("Cs",))
TEXT = st.text(
    alphabet=st.one_of(CHARACTERS, st.sampled_from(list(" \t\n\r\x0b\x0c\u00a0\u2028!?.,-'\"Aa"))),
    max_size=24,
)


def same_token_counts(texts: list[str]) -> None:
    # A slice, as batches are sliced when the lossy cap is near.
    array = pa.array(["pad", *texts, "pad"]).slice(1, len(texts))
    for preprocessing in PREPROCESSING:
        expected = TextCounts.of_texts(texts, preprocessing)
        tokens, lengths = token_counts(array, preprocessing)
        assert tokens == dict(expected.tokens), preprocessing
        assert lengths == dict(expected.lengths), preprocessing


def test_arrow_counts_tricky_texts_as_tensorflow_does():
    same_token_counts(TRICKY_TEXTS)
    same_token_counts([])


@settings(max_examples=40, deadline=None)
@given(texts=st.lists(TEXT, min_size=1, max_size=8))
def test_arrow_counts_any_texts_as_tensorflow_does(texts):
    same_token_counts(texts)


def scans(paths, data: DataConfig, preprocessing=None, task="multiclass"):
    """The scan of `paths` with each reader (or the DataError each raised)."""
    preprocessing = preprocessing or PreprocessingConfig()
    found = {}
    for reader in ("exact", "auto"):
        try:
            found[reader] = streaming.scan(
                paths, data.model_copy(update={"reader": reader}), preprocessing, task
            )
        except DataError as error:
            found[reader] = str(error)
    return found["exact"], found["auto"]


def same_scan(paths, data, preprocessing=None, task="multiclass"):
    exact, auto = scans(paths, data, preprocessing, task)
    if isinstance(exact, str):
        assert auto == exact
        return exact
    assert auto.counts == exact.counts
    assert auto.problems == exact.problems
    assert auto.problem_counts == exact.problem_counts
    return auto


def write(path, text: str, encoding="utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


def test_multi_line_cells_blank_lines_and_bad_rows_keep_their_lines(tmp_path):
    one = write(
        tmp_path / "a.csv",
        'text,label\r\n"one\r\ntwo",x\r\n"  ",y\r\nplain,\r\n"x\ny\nz",x\r\nlast,y\r\n',
    )
    two = write(tmp_path / "b.csv", 'text,label\n\n"a\nb",x\n\nok,y\n" ",x\n\n\n"c",\n')
    data = DataConfig(train=one, on_bad_rows="skip")
    scan = same_scan([one, two], data)
    assert [problem.where for problem in scan.problems] == [
        f"{one}, line 4",
        f"{one}, line 5",
        f"{two}, line 7",
        f"{two}, line 10",
    ]
    assert scan.counts.rows == 5


def test_wrong_field_counts_hand_the_rest_of_the_file_to_the_exact_reader(tmp_path, monkeypatch):
    # Small blocks: Arrow has handed on several batches when it meets the bad rows.
    monkeypatch.setattr(arrow_stream, "BLOCK_BYTES", 256)
    rows = [f'"text number {i}\nspans lines",label{i % 3}\n' for i in range(60)]
    rows[3] = '" ",label0\n'
    rows[40] = "a,b,c\n"
    rows[45] = "only one field\n"
    rows[50] = ",label1\n"
    path = write(tmp_path / "d.csv", "text,label\n" + "".join(rows))
    exact_from = []
    exact = arrow_stream._exact

    def recorded(path, data, columns, skip=0, *args, **kwargs):
        exact_from.append(skip)
        return exact(path, data, columns, skip, *args, **kwargs)

    monkeypatch.setattr(arrow_stream, "_exact", recorded)
    scan = same_scan([path], DataConfig(train=path, on_bad_rows="skip"))
    assert len(exact_from) == 1 and 0 < exact_from[0] <= 40
    assert [problem.where for problem in scan.problems] == [
        f"{path}, line {line}" for line in (8, 81, 90, 99)
    ]
    assert scan.problem_counts == {"empty text": 2, "wrong field count": 2}


def test_bad_bytes_and_unclosed_quotes_are_reported_as_the_exact_reader_does(tmp_path, monkeypatch):
    monkeypatch.setattr(arrow_stream, "BLOCK_BYTES", 256)
    good = "".join(f"row {i},l{i % 2}\n" for i in range(80)).encode()
    bad_bytes = tmp_path / "bytes.csv"
    bad_bytes.write_bytes(b"text,label\n" + good + b"caf\xe9,l0\n" + good)
    message = same_scan([bad_bytes], DataConfig(train=bad_bytes))
    assert "not valid UTF-8" in message
    unclosed = write(tmp_path / "quote.csv", "text,label\n" + good.decode() + '"open,l1\nx,l0\n')
    assert "malformed row" in same_scan([unclosed], DataConfig(train=unclosed))


def test_many_bad_rows_over_files_list_the_first_in_order(tmp_path):
    paths = []
    for index in range(3):
        bad = 3 if index == 1 else 1  # one file with more bad rows than are listed
        lines = [f"t{index} {i},{'' if i % 4 < bad else 'l' + str(i % 2)}\n" for i in range(40)]
        paths.append(write(tmp_path / f"p{index}.csv", "text,label\n" + "".join(lines)))
    scan = same_scan(paths, DataConfig(train=paths[0], on_bad_rows="skip"))
    assert scan.problem_counts == {"empty label": 50}
    assert len(scan.problems) == 20 and scan.problems[-1].where == f"{paths[1]}, line 14"


def test_bare_carriage_returns_bom_latin1_and_a_header_only_file(tmp_path):
    returns = write(tmp_path / "cr.csv", "text,label\rone,a\r\r,b\rtwo,a\r")
    bom = write(tmp_path / "bom.csv", "\ufefftext , label\nNA,null\n  ,x\n1e5,007\n")
    empty = write(tmp_path / "empty.csv", "text,label\n")
    same_scan([returns, bom, empty], DataConfig(train=returns, on_bad_rows="skip"))
    latin = write(tmp_path / "latin.csv", "text,label\ncafé crème,a\n,b\nthé,b\n", "latin-1")
    same_scan([latin], DataConfig(train=latin, encoding="latin-1", on_bad_rows="skip"))
    with pytest.raises(DataError, match="no data rows"):
        streaming.scan([empty], DataConfig(train=empty), PreprocessingConfig(), "multiclass")


def test_tsv_with_and_without_quoting(tmp_path):
    text = 'text\tlabel\n"quoted\ttab"\tx\nit\'s "fine\ty\n\t\tz\n"a\nb"\tx\n'
    path = write(tmp_path / "d.tsv", text)
    same_scan([path], DataConfig(train=path, on_bad_rows="skip"))
    same_scan([path], DataConfig(train=path, on_bad_rows="skip", tsv_quoting=True))


def test_several_text_columns_multilabel_and_jsonl(tmp_path):
    path = write(tmp_path / "d.csv", "title,body,tags\nHi,there,a|b\n , ,a\nx,,|\nOK,go,b| a |b\n")
    data = DataConfig(train=path, text_column=["title", "body"], label_column="tags")
    same_scan([path], data.model_copy(update={"on_bad_rows": "skip"}), task="multilabel")
    jsonl = write(
        tmp_path / "d.jsonl",
        '{"text": "a b", "label": 1}\n{"text": null, "label": "x"}\n\n[1]\n{"text": "c", "label": true}\n',
    )
    same_scan([jsonl], DataConfig(train=jsonl, on_bad_rows="skip"))


def test_parquet_shards_with_nulls_numbers_and_encoded_text(tmp_path):
    first = tmp_path / "p-0.parquet"
    pd.DataFrame({"text": ["A b", None, "  ", "c, d!", "e"], "label": [1, 2, None, 1, 2]}).astype(
        {"label": "Int64"}
    ).to_parquet(first)
    second = tmp_path / "p-1.parquet"
    table = pa.table(
        {
            "text": pa.array(["x y", "x", "", "y z"], pa.large_string()).dictionary_encode(),
            "label": pa.array(["1", " 2 ", "1", ""]),
        }
    )
    pq.write_table(table, second, row_group_size=2)
    scan = same_scan([first, second], DataConfig(train=first, on_bad_rows="skip"))
    assert [problem.where for problem in scan.problems] == [
        f"{first}, row 2",
        f"{first}, row 3",
        f"{second}, row 3",
        f"{second}, row 4",
    ]
    floats = tmp_path / "f.parquet"
    pd.DataFrame({"text": [1.5], "label": ["a"]}).to_parquet(floats)
    assert "text column 'text' has type double" in same_scan([floats], DataConfig(train=floats))


def test_the_lossy_count_cap_prunes_where_the_exact_scan_prunes(tmp_path, monkeypatch):
    monkeypatch.setattr(arrow_stream, "BLOCK_BYTES", 512)
    monkeypatch.setattr(streaming, "COUNT_CHUNK_ROWS", 7)
    monkeypatch.setattr(streaming, "SCAN_TOKEN_CAP", 25)
    paths = []
    for index in range(2):
        lines = [f"common w{i % 17} r{(i * 7919 + index) % 101},l{i % 2}\n" for i in range(150)]
        paths.append(write(tmp_path / f"p{index}.csv", "text,label\n" + "".join(lines)))
    scan = same_scan(paths, DataConfig(train=paths[0]))
    assert scan.counts.pruned_at >= 1


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=st.lists(
        st.tuples(TEXT, st.sampled_from(["a", "b", "", " ", "c"]), st.booleans()),
        min_size=1,
        max_size=12,
    ),
    ending=st.sampled_from(["\n", "\r\n"]),
    blank_after=st.sets(st.integers(0, 12), max_size=2),
    block=st.sampled_from([64, 256, arrow_stream.BLOCK_BYTES]),
)
def test_the_arrow_scan_equals_the_exact_scan_on_any_csv(
    tmp_path, monkeypatch, rows, ending, blank_after, block
):
    # Small blocks: bad rows met after batches were handed on, rows over a block's end.
    monkeypatch.setattr(arrow_stream, "BLOCK_BYTES", block)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator=ending)
    writer.writerow(["text", "label"])
    for index, (text, label, extra_field) in enumerate(rows):
        writer.writerow([text, label, "extra"] if extra_field and index % 5 == 4 else [text, label])
        if index in blank_after:
            buffer.write(ending)
    path = tmp_path / "d.csv"
    path.write_bytes(buffer.getvalue().encode("utf-8"))
    same_scan([path], DataConfig(train=path, on_bad_rows="skip"))
