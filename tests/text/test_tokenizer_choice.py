"""choose_tokenizer: char for mostly single-token texts or scripts written without
spaces, word otherwise; the thresholds are "most" (at least half)."""

import pytest

from seqcls.text.tokenizer_choice import (
    NO_SPACE_SCRIPT_SHARE,
    SAMPLE_TEXTS,
    SINGLE_TOKEN_SHARE,
    choose_tokenizer,
)


def test_half_the_texts_a_single_token_is_the_threshold():
    assert SINGLE_TOKEN_SHARE == 0.5
    codes, sentences = ["AB-123", "example.com"], ["my card is lost", "top up now"]
    at = choose_tokenizer(codes + sentences)
    assert (at.tokenizer, at.single_token_share) == ("char", 0.5)
    assert at.reason == "50% of texts are a single token with no spaces"
    under = choose_tokenizer(codes + sentences + ["what rate today"])
    assert (under.tokenizer, under.reason) == (
        "word",
        "most texts are several words (40% are a single token)",
    )


def test_half_the_letters_in_a_no_space_script_is_the_threshold():
    assert NO_SPACE_SCRIPT_SHARE == 0.5
    # Four Han letters and four Latin ones, in texts of several tokens.
    at = choose_tokenizer(["北京 ab 上海", "c d"])
    assert (at.tokenizer, at.no_space_script_share, at.scripts) == ("char", 0.5, {"Han": 4})
    assert at.reason == "50% of letters are Han, a script written without spaces"
    under = choose_tokenizer(["北京 abc 上海", "c d"])
    assert under.tokenizer == "word" and under.reason.endswith("; 44% of letters are Han)")


@pytest.mark.parametrize(
    ("text", "script"),
    [
        ("สวัสดีครับ ยินดีต้อนรับ", "Thai"),
        ("ສະບາຍດີ ຍິນດີຕ້ອນຮັບ", "Lao"),
        ("សួស្តី សូមស្វាគមន៍", "Khmer"),
        ("မင်္ဂလာပါ ကြိုဆိုပါတယ်", "Myanmar"),
        ("བཀྲ་ཤིས་བདེ་ལེགས། ཡོང་བ་ལེགས།", "Tibetan"),
        ("コーヒー ショップ", "Katakana"),
        ("ｺｰﾋｰ ｼｮｯﾌﾟ", "Katakana"),  # half-width
        ("ありがとう ございます", "Hiragana"),
        ("中文 汉字", "Han"),
    ],
)
def test_each_no_space_script_is_recognised(text, script):
    choice = choose_tokenizer([text])
    assert choice.tokenizer == "char" and list(choice.scripts) == [script]
    # Combining vowel signs are not letters: the share stays a share of letters.
    assert choice.no_space_script_share == 1.0


def test_korean_is_written_with_spaces_and_keeps_word_tokens():
    choice = choose_tokenizer(["카드를 잃어버렸어요 도와주세요", "환율이 얼마인가요 오늘"])
    assert choice.tokenizer == "word" and choice.scripts == {}


def test_empty_texts_do_not_count_and_large_inputs_are_sampled():
    assert choose_tokenizer([]).tokenizer == "word"
    assert choose_tokenizer(["  ", "AB-1", "two words", "CD-2"]).single_token_share == 2 / 3
    texts = ["AB-1", "a few words"] * (SAMPLE_TEXTS + 1)
    choice = choose_tokenizer(texts)
    assert choice.texts <= SAMPLE_TEXTS and choice.single_token_share == pytest.approx(0.5, 0.01)
