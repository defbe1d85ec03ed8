"""Bad files are reported with file, line and reason (exit 3); `validate` reports the data."""

import json
import shutil
from pathlib import Path

import pytest
from conftest import code_rows, labelled_rows, write_csv
from typer.testing import CliRunner

from seqcls.cli import app

BAD = Path(__file__).parent.parent / "bad_data"
runner = CliRunner()


def validate(tmp_path, train: str, valid: str = "good.csv", extra: str = "", *args):
    for name in {train, valid}:
        shutil.copy(BAD / name, tmp_path / name)
    config = tmp_path / "config.yaml"
    config.write_text(f"data: {{train: {train}, valid: {valid}}}\n{extra}", encoding="utf-8")
    return runner.invoke(app, ["validate", str(config), *args])


@pytest.mark.parametrize(
    ("train", "valid", "extra", "expected"),
    [
        (
            "wrong_field_count.csv",
            "good.csv",
            "",
            ["wrong_field_count.csv, line 3", "expected 2 fields", "found 3"],
        ),
        ("unclosed_quote.csv", "good.csv", "", ["unclosed_quote.csv, line 3", "never closed"]),
        ("bad_utf8.csv", "good.csv", "", ["bad_utf8.csv, line 3", "not valid UTF-8", "byte 0xff"]),
        ("empty_text.csv", "good.csv", "", ["empty_text.csv, line 3", "text ('text') is empty"]),
        (
            "missing_label.csv",
            "good.csv",
            "",
            ["missing_label.csv, line 3", "label ('label') is empty"],
        ),
        (
            "good.csv",
            "unseen_label.csv",
            "",
            ["unseen_label.csv, line 3", "label 'greeting' does not occur"],
        ),
        (
            "missing_column.csv",
            "good.csv",
            "",
            ["label column 'label' not found", "['text', 'intent']", "data.label_column"],
        ),
        ("header_only.csv", "good.csv", "", ["header_only.csv", "no data rows"]),
        ("bad_json.jsonl", "good.csv", "", ["bad_json.jsonl, line 2", "not valid JSON"]),
        (
            "tag_mismatch.csv",
            "good.csv",
            "task: tagging\npreprocessing: {strip_punctuation: false}\nmodel: {attention: {type: none}}\n",
            ["tag_mismatch.csv, line 3", "3 tokens in 'text' but 2 tags"],
        ),
        ("multiline_then_bad.csv", "good.csv", "", ["multiline_then_bad.csv, line 5", "found 3"]),
    ],
)
def test_validate_bad_file_is_reported_with_line_and_reason(
    tmp_path, train, valid, extra, expected
):
    result = validate(tmp_path, train, valid, extra)
    assert result.exit_code == 3, result.output
    assert "Traceback" not in result.output
    for fragment in expected:
        assert fragment in result.output


def test_validate_lists_at_most_20_problems_and_the_total(tmp_path):
    rows = "".join(f"text {i},\n" for i in range(30))
    (tmp_path / "many.csv").write_text("text,label\nok,a\nfine,b\n" + rows, encoding="utf-8")
    shutil.copy(BAD / "good.csv", tmp_path / "good.csv")
    config = tmp_path / "c.yaml"
    config.write_text("data: {train: many.csv, valid: good.csv}\n", encoding="utf-8")
    result = runner.invoke(app, ["validate", str(config)])
    assert result.exit_code == 3
    assert "30 bad row(s)" in result.output and "... and 10 more" in result.output
    assert "on_bad_rows: skip" in result.output


def test_validate_skip_leaves_bad_rows_out_and_counts_them(tmp_path):
    for name in ("wrong_field_count.csv", "good.csv"):
        shutil.copy(BAD / name, tmp_path / name)
    config = tmp_path / "config.yaml"
    config.write_text(
        "data: {train: wrong_field_count.csv, valid: good.csv, on_bad_rows: warn}\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["validate", str(config), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    # Train loses its 3-field row; valid loses the row whose label train no longer has.
    assert report["bad_rows"] == {
        "train": {"wrong field count": 1},
        "valid": {"label not in train": 1},
    }
    assert report["rows"] == {"train": 2, "valid": 2}
    assert any("left out 1 bad row" in note for note in report["notes"])


def test_validate_report_counts_labels_lengths_leaks_and_duplicates(tmp_path):
    (tmp_path / "train.csv").write_text(
        "text,label\nlost card,card\nlost card,card\nLost  card,rate\nthe rate today,rate\n"
        "what rate,rate\nrate now,rate\n",
        encoding="utf-8",
    )
    (tmp_path / "valid.csv").write_text(
        "text,label\nlost card,card\nnew words here,rate\n", encoding="utf-8"
    )
    config = tmp_path / "c.yaml"
    config.write_text(
        "data: {train: train.csv, valid: valid.csv}\ntraining: {class_weight: balanced}\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["validate", str(config), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["labels"] == {"rate": 4, "card": 2} and report["imbalance_ratio"] == 2.0
    assert report["class_weight"] == {"card": 1.5, "rate": 0.75}
    assert report["duplicates"] == {
        "repeated_texts": 1,
        "extra_copies": 2,
        "with_conflicting_labels": 1,
    }
    assert report["shared_with_train"] == {"valid": 1}
    assert report["oov_rate"]["valid"] == pytest.approx(3 / 5)
    assert report["length_percentiles"]["train"]["p100"] == 3
    assert any("leak" in warning for warning in report["warnings"])
    table = runner.invoke(app, ["validate", str(config)])
    assert table.exit_code == 0 and "ready to train" in table.output


def test_validate_config_only_needs_no_data(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("data: {train: missing.csv}\n", encoding="utf-8")
    result = runner.invoke(app, ["validate", str(config), "--config-only"])
    assert result.exit_code == 0 and "merge_mode: concat" in result.stdout
    assert runner.invoke(app, ["validate", str(config)]).exit_code == 3


# preprocessing.tokenizer: char is suggested for a word config on data `seqcls init`
# would give char tokens, or with many unseen words (seqcls.data.checks.CHAR_OOV).


def validate_json(tmp_path, train_rows, valid_rows, extra=""):
    write_csv(tmp_path / "train.csv", train_rows)
    write_csv(tmp_path / "valid.csv", valid_rows)
    config = tmp_path / "c.yaml"
    config.write_text(f"data: {{train: train.csv, valid: valid.csv}}\n{extra}", encoding="utf-8")
    result = runner.invoke(app, ["validate", str(config), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout), config


def test_validate_suggests_char_tokens_for_single_token_texts(tmp_path):
    report, config = validate_json(tmp_path, code_rows(60), code_rows(15, seed=1))
    assert report["tokenizer_choice"]["tokenizer"] == "char"
    assert report["tokenizer_choice"]["single_token_share"] == 1.0
    # Every valid code is new to train: attached to the OOV warning, with the figures.
    assert report["oov_rate"]["valid"] == 1.0
    assert report["tokenizer_suggestion"] == (
        "in train, 100% of texts are a single token with no spaces: set "
        "preprocessing.tokenizer: char to read the texts character by character"
    )
    assert (
        "valid: 100.0% of tokens are outside the vocabulary built from train; in train, 100% "
        "of texts are a single token with no spaces: set preprocessing.tokenizer: char"
    ) in report["warnings"][0]
    table = runner.invoke(app, ["validate", str(config)])
    assert table.exit_code == 0 and "set preprocessing.tokenizer: char to read" in table.output
    # With char tokens, nothing to suggest; auto max_length is init's figure (20).
    report, _ = validate_json(
        tmp_path, code_rows(60), code_rows(15, seed=1), "preprocessing: {tokenizer: char}\n"
    )
    assert report["tokenizer_suggestion"] is None and report["max_length"] == 20
    assert not any("tokenizer" in warning for warning in report["warnings"])


def test_validate_suggests_char_tokens_for_chinese_even_without_an_oov_warning(tmp_path):
    texts = ["我喜欢这部电影", "这个手机很好用", "服务太差了", "今天天气很好"]
    rows = [(texts[index % 4], "ab"[index % 2]) for index in range(24)]
    report, _ = validate_json(tmp_path, rows, rows[:4])
    assert report["oov_rate"]["valid"] == 0.0
    assert report["warnings"][0] == (
        "in train, 100% of letters are Han, a script written without spaces: set "
        "preprocessing.tokenizer: char to read the texts character by character"
    )


def test_validate_suggests_no_char_tokens_for_ordinary_sentences_or_tagging(tmp_path):
    report, _ = validate_json(tmp_path, labelled_rows(60), labelled_rows(15, seed=1))
    assert report["tokenizer_choice"]["tokenizer"] == "word"
    assert report["tokenizer_suggestion"] is None
    assert not any("tokenizer" in warning for warning in report["warnings"])
    # Tags belong to words: single-token texts with unseen codes, and still no char.
    tagged = [(text, "B-" + label) for text, label in code_rows(30)]
    report, _ = validate_json(
        tmp_path,
        tagged,
        [(text, "B-" + label) for text, label in code_rows(6, seed=1)],
        "task: tagging\npreprocessing: {strip_punctuation: false}\n"
        "model: {attention: {type: none}}\n",
    )
    assert report["oov_rate"]["valid"] == 1.0 and report["tokenizer_suggestion"] is None


def test_validate_suggests_char_tokens_for_many_unseen_words_or_common_single_tokens(tmp_path):
    """Under init's thresholds, a word config still gets the suggestion when valid has
    25% unseen words, or 10% with a quarter of train texts a single token."""
    sentences = labelled_rows(45)
    unseen = [
        (f"{text} zq{index} xv{index} wk{index}", label)
        for index, (text, label) in enumerate(labelled_rows(12, seed=1))
    ]
    report, _ = validate_json(tmp_path, sentences, unseen)
    assert 0.25 <= report["oov_rate"]["valid"] and report["tokenizer_choice"]["tokenizer"] == "word"
    assert report["tokenizer_suggestion"].startswith("that many unseen words")
    assert any(
        warning.startswith("valid: ")
        and warning.endswith(
            " of tokens are outside the vocabulary built from train; that many unseen words "
            "all map to one unknown token: try preprocessing.tokenizer: char to read the texts "
            "character by character"
        )
        for warning in report["warnings"]
    )
    # 30% of train texts are codes; valid's 4 codes are new, its 8 3-word texts not.
    short = [(" ".join(text.split()[:3]), label) for text, label in labelled_rows(36)]
    mixed = short[:28] + code_rows(12)
    report, _ = validate_json(tmp_path, mixed, short[28:] + code_rows(4, seed=1))
    assert 0.10 < report["oov_rate"]["valid"] < 0.25
    assert report["tokenizer_suggestion"] == (
        "30% of train texts are a single token with no spaces: try preprocessing.tokenizer: "
        "char to read the texts character by character"
    )
