"""`seqcls init` writes a config that validates and trains."""

import json

import pytest
import yaml
from conftest import code_rows, labelled_rows, write_csv
from typer.testing import CliRunner

from seqcls.cli import app
from seqcls.config import load_config

runner = CliRunner()


def test_init_fits_columns_task_and_length_to_the_data(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    write_csv(
        data / "train.csv",
        [(f"id{i}", *row) for i, row in enumerate(labelled_rows(60))],
        header=("id", "utterance", "intent"),
    )
    write_csv(
        data / "dev.csv",
        [(f"d{i}", *row) for i, row in enumerate(labelled_rows(12))],
        header=("id", "utterance", "intent"),
    )
    output = tmp_path / "configs" / "mine.yaml"
    output.parent.mkdir()
    result = runner.invoke(app, ["init", "--data", str(data / "train.csv"), "-o", str(output)])
    assert result.exit_code == 0, result.output
    text = output.read_text()
    assert "text_column: utterance    # picked by its name" in text
    assert "label_column: intent" in text and "3 distinct values" in text
    assert "valid: ../data/dev.csv" in text
    config = load_config(output)
    assert config.data.valid == (data / "dev.csv").resolve()
    # Ordinary sentences keep word tokens; the length is the trainer's (auto), the
    # comment says about how long.
    assert config.preprocessing.tokenizer == "word" and config.preprocessing.max_length == "auto"
    assert "tokenizer: word    # most texts are several words (0% are a single token)" in text
    assert "about 9 words here, longest 9" in text
    assert "tokenizer: word, as most texts are several words" in result.output
    # It trains (briefly) as written.
    run = runner.invoke(
        app,
        [
            "train",
            str(output),
            "--output-dir",
            str(tmp_path / "run"),
            "--set",
            "training.epochs=1",
            "--set",
            "model.embedding.dim=8",
            "--set",
            "model.encoder.units=8",
        ],
    )
    assert run.exit_code == 0, run.output
    assert json.loads((tmp_path / "run" / "labels.json").read_text())["task"] == "multiclass"
    # An existing file is not overwritten without --force.
    assert runner.invoke(app, ["init", "-o", str(output)]).exit_code == 2


def test_init_recognises_tagging_and_multilabel(tmp_path):
    write_csv(
        tmp_path / "tags.csv",
        [("emma went home", "B-PER O O"), ("mr knightley came", "B-PER I-PER O")],
    )
    output = tmp_path / "tags.yaml"
    assert (
        runner.invoke(
            app, ["init", "--data", str(tmp_path / "tags.csv"), "-o", str(output)]
        ).exit_code
        == 0
    )
    config = load_config(output)
    assert config.task == "tagging" and config.preprocessing.strip_punctuation is False
    assert config.preprocessing.split_punctuation is False  # tags stay on their words
    assert config.model.linear is None  # one label per token: no linear branch
    write_csv(tmp_path / "ml.csv", [("a", "x|y"), ("b", "y"), ("c", "x")])
    output = tmp_path / "ml.yaml"
    assert (
        runner.invoke(
            app, ["init", "--data", str(tmp_path / "ml.csv"), "-o", str(output)]
        ).exit_code
        == 0
    )
    assert load_config(output).task == "multilabel" and load_config(output).model.linear is None


def test_init_without_data_writes_a_template(tmp_path):
    output = tmp_path / "c.yaml"
    assert runner.invoke(app, ["init", "-o", str(output)]).exit_code == 0
    raw = yaml.safe_load(output.read_text())
    assert (
        raw["data"]["train"] == "data/train.csv" and raw["model"]["attention"]["type"] == "additive"
    )
    assert raw["model"]["linear"] == {"ngrams": 2}  # word 1-2 grams, char_ngrams by default
    assert raw["preprocessing"]["split_punctuation"] is True


def test_init_splits_word_tokens_at_punctuation_and_counts_lengths_so(tmp_path):
    """Word tasks but tagging split at punctuation ("card--lost" is two words), and the
    length init reports counts the words that way, as training's auto max_length does."""
    rows = [(f"my card--lost it's gone {index}", "ab"[index % 2]) for index in range(40)]
    text, config, _ = init_on(tmp_path, rows)
    assert config.preprocessing.split_punctuation is True
    assert "about 7 words here, longest 7" in text  # my card lost it s gone N
    (tmp_path / "codes").mkdir()
    _, config, _ = init_on(tmp_path / "codes", code_rows(60))
    assert config.preprocessing.split_punctuation is False  # char tokens: as before


# The tokenizer from the data (seqcls.text.tokenizer_choice): char for texts that are
# mostly one whitespace-free token or in a script written without spaces, word otherwise.


def init_on(tmp_path, rows, *args):
    data = write_csv(tmp_path / "train.csv", rows)
    output = tmp_path / "config.yaml"
    result = runner.invoke(app, ["init", "--data", str(data), "-o", str(output), *args])
    assert result.exit_code == 0, result.output
    return output.read_text(encoding="utf-8"), load_config(output), result.output


def test_init_picks_char_tokens_for_single_token_texts(tmp_path):
    text, config, output = init_on(tmp_path, code_rows(60))
    assert "  tokenizer: char    # 100% of texts are a single token with no spaces\n" in text
    assert config.preprocessing.tokenizer == "char" and config.preprocessing.max_length == "auto"
    # Characters, punctuation stripped as the config says ("shirts-3183.example.org" is
    # 20); training's auto max_length counts the same (test_validate checks it).
    assert "about 20 characters here, longest 20" in text
    assert "tokenizer: char, as 100% of texts are a single token with no spaces\n" in output
    assert config.model.linear.ngrams == 4  # characters 1 to 4 in a row


@pytest.mark.parametrize(
    ("texts", "scripts"),
    [
        (
            ("我喜欢这部电影", "这个手机很好用", "我喜欢 iPhone 手机", "服务太差了"),
            "of letters are Han, a script written without spaces",
        ),
        (
            ("今日はいい天気ですね", "このカメラは高いです", "映画を見ました", "ラーメンが好き"),
            "of letters are Hiragana/Han/Katakana, scripts written without spaces",
        ),
        (
            ("วันนี้อากาศดีมาก ฉันจะไปเที่ยว", "อาหารร้านนี้อร่อย", "บริการแย่มาก ไม่ประทับใจ", "ชอบหนังเรื่องนี้"),
            "100% of letters are Thai, a script written without spaces",
        ),
    ],
    ids=["chinese", "japanese", "thai"],
)
def test_init_picks_char_tokens_for_scripts_written_without_spaces(tmp_path, texts, scripts):
    rows = [(texts[index % 4] + "!" * (index // 4), "ab"[index % 2]) for index in range(40)]
    text, config, output = init_on(tmp_path, rows)
    assert config.preprocessing.tokenizer == "char" and config.preprocessing.max_length == "auto"
    assert scripts in text.split("tokenizer: char    # ")[1].splitlines()[0]
    assert scripts in output


def test_mixed_data_under_the_thresholds_keeps_word_tokens(tmp_path):
    """40% single-token codes among sentences, and a few Han letters among English
    ones: neither kind is the majority, so word it stays."""
    sentences = [text for text, _ in labelled_rows(36)]
    codes = [text for text, _ in code_rows(24)]
    rows = [(text, "ab"[index % 2]) for index, text in enumerate(sentences + codes)]
    text, config, _ = init_on(tmp_path, rows)
    assert config.preprocessing.tokenizer == "word"
    assert "tokenizer: word    # most texts are several words (40% are a single token)" in text
    han = [(f"{text} 北京", "ab"[index % 2]) for index, text in enumerate(sentences)]
    text, config, _ = init_on(tmp_path, han, "--force")
    assert config.preprocessing.tokenizer == "word"
    assert "(0% are a single token; " in text and "of letters are Han)" in text


def test_init_keeps_word_tokens_for_tagging(tmp_path):
    """Tags belong to whitespace-separated words: no char tokens for tagging."""
    text, config, _ = init_on(
        tmp_path, [(code, "B-" + label) for code, label in code_rows(12)], "--task", "tagging"
    )
    assert config.preprocessing.tokenizer == "word"
    assert "tokenizer: word    # tags belong to whitespace-separated words" in text
