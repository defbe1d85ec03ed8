import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seqcls import text
from seqcls.config import PreprocessingConfig
from seqcls.text import build_vocabulary, encode, make_vectorizer, training_dataset

TEXTS = [
    "The card, the CARD!",
    "the rate",
    "card card rate top-up",
    "a b c d e f g h i j",
]


def test_text_vocabulary_orders_by_frequency_and_applies_min_frequency_and_max_tokens():
    vocabulary = build_vocabulary(TEXTS, PreprocessingConfig(min_frequency=2))
    # card x4, the x3, rate x2; everything else is seen once.
    assert vocabulary.tokens == ["", "[UNK]", "card", "the", "rate"]
    capped = build_vocabulary(TEXTS, PreprocessingConfig(max_tokens=4))
    assert capped.tokens == ["", "[UNK]", "card", "the"]


def test_text_vectorizer_with_built_vocabulary_maps_every_train_token():
    preprocessing = PreprocessingConfig()
    vocabulary = build_vocabulary(TEXTS, preprocessing)
    ids = encode(make_vectorizer(preprocessing, vocabulary.tokens, ragged=True), TEXTS, 100)
    flat = ids.flat_values.numpy()
    assert 1 not in flat and 0 not in flat  # no OOV, no padding inside ragged rows
    assert vocabulary.train_oov_rate == 0.0
    assert ids.row_lengths().numpy().tolist() == [4, 2, 4, 10]  # "top-up" -> "topup"


def test_text_char_tokenizer_without_lowercasing():
    preprocessing = PreprocessingConfig(tokenizer="char", lowercase=False, strip_punctuation=False)
    vocabulary = build_vocabulary(["Aa!", "a"], preprocessing)
    assert vocabulary.tokens == ["", "[UNK]", "a", "!", "A"]


def test_text_auto_max_length_is_a_percentile_of_train_lengths():
    texts = ["w " * n for n in range(1, 101)]
    vocabulary = build_vocabulary(texts, PreprocessingConfig(length_percentile=90))
    assert vocabulary.max_length == 91
    assert 0.08 <= vocabulary.train_truncated_share <= 0.1
    fixed = build_vocabulary(texts, PreprocessingConfig(max_length=5))
    assert fixed.max_length == 5 and fixed.max_length_source == "config"


def test_text_encode_truncates_and_never_yields_empty_rows():
    preprocessing = PreprocessingConfig()
    vectorizer = make_vectorizer(preprocessing, ["", "[UNK]", "card"], ragged=True)
    ids = encode(vectorizer, ["card card card", "", "?!"], max_length=2)
    assert ids.to_list() == [[2, 2], [1], [1]]


def encoded_rows(texts, max_length=100):
    """Ids of `texts` under their own vocabulary, and three targets in turn."""
    preprocessing = PreprocessingConfig()
    vocabulary = build_vocabulary(texts, preprocessing)
    vectorizer = make_vectorizer(preprocessing, vocabulary.tokens, ragged=True)
    return encode(vectorizer, texts, max_length), np.arange(len(texts)) % 3


def test_text_training_batches_are_bucketed_and_right_padded():
    ids, targets = encoded_rows([("w " * (1 + i % 30)).strip() for i in range(200)])
    seen_targets = []
    widths = []
    for batch_ids, batch_targets in training_dataset(ids, targets, 16, seed=0):
        batch_ids = batch_ids.numpy()
        lengths = (batch_ids != 0).sum(axis=1)
        # Right padding: every row is its tokens followed by zeros only.
        for row, length in zip(batch_ids, lengths):
            assert np.all(row[:length] != 0) and np.all(row[length:] == 0)
        assert batch_ids.shape[1] == lengths.max()
        widths.append(lengths.max() - lengths.min())
        seen_targets.extend(batch_targets.numpy().tolist())
    assert sorted(seen_targets) == sorted(targets.tolist())  # every row exactly once
    # Buckets keep texts of similar length together: far less spread than 30.
    assert np.median(widths) <= 6


def test_text_display_tokens_line_up_with_the_ids_the_model_sees():
    from seqcls.text import display_tokens

    texts = [
        "Où est ma CARTE?!",
        "  spaces   and\ttabs\n",
        "top-up (pending) — 3 days",
        "日本語のテキスト",
        "",
        "emoji 🙂 ok",
    ]
    for preprocessing in (
        PreprocessingConfig(),
        PreprocessingConfig(lowercase=False, strip_punctuation=False),
        PreprocessingConfig(tokenizer="char"),
        PreprocessingConfig(split_punctuation=True),
        PreprocessingConfig(strip_punctuation=False, split_punctuation=True),
        PreprocessingConfig(tokenizer="char", split_punctuation=True),
    ):
        vocabulary = build_vocabulary(texts[:3], preprocessing)
        vectorizer = make_vectorizer(preprocessing, vocabulary.tokens, ragged=True)
        ids = vectorizer(texts).to_list()
        shown = display_tokens(texts, preprocessing, max_length=100)
        assert [len(row) for row in shown] == [len(row) for row in ids]
        # Tokens in the vocabulary map to their own ids.
        for row_tokens, row_ids in zip(shown, ids):
            for token, token_id in zip(row_tokens, row_ids):
                if token_id > 1:
                    assert vocabulary.tokens[token_id] == token
    assert display_tokens(["a b c d"], PreprocessingConfig(), max_length=2) == [["a", "b"]]


def test_text_scripts_beyond_ascii_tokenize_consistently():
    from seqcls.text import display_tokens

    texts = [
        "我的卡丢了",  # Chinese, no spaces: needs the char tokenizer
        "カードをなくしました",
        "mi tarjeta 💳 se perdió 😢",
        "cafe\u0301 noe\u0308l",  # combining accents
        "فقدت بطاقتي",  # right to left
    ]
    for preprocessing in (PreprocessingConfig(tokenizer="char"), PreprocessingConfig()):
        vocabulary = build_vocabulary(texts, preprocessing)
        vectorizer = make_vectorizer(preprocessing, vocabulary.tokens, ragged=True)
        ids = encode(vectorizer, texts, 100)
        # Every train token is in the vocabulary: no OOV, no empty row.
        assert vocabulary.train_oov_rate == 0.0
        assert 1 not in ids.flat_values.numpy()
        shown = display_tokens(texts, preprocessing, 100)
        assert [len(row) for row in shown] == ids.row_lengths().numpy().tolist()
    chars = display_tokens(texts[:1], PreprocessingConfig(tokenizer="char"), 100)
    assert chars == [["我", "的", "卡", "丢", "了"]]
    words = display_tokens(texts[2:3], PreprocessingConfig(), 100)
    assert words == [["mi", "tarjeta", "💳", "se", "perdió", "😢"]]


def test_text_without_bucketing_batches_are_still_right_padded_and_complete():
    ids, targets = encoded_rows([("w " * (1 + i % 30)).strip() for i in range(100)])
    spreads, seen = [], 0
    for batch_ids, batch_targets in training_dataset(ids, targets, 16, seed=0, bucketing=False):
        lengths = (batch_ids.numpy() != 0).sum(axis=1)
        assert batch_ids.shape[1] == lengths.max()
        spreads.append(lengths.max() - lengths.min())
        seen += len(batch_targets)
    assert seen == 100
    assert np.median(spreads) > 6  # unbucketed batches mix short and long texts


def test_text_vocabulary_is_built_from_counts_and_leaves_out_the_reserved_tokens():
    preprocessing = PreprocessingConfig(lowercase=False, strip_punctuation=False)
    texts = ["[UNK] b [UNK]", "a b", "", "b"]
    counts = text.TextCounts.of_texts(texts, preprocessing)
    assert counts.tokens == {b"[UNK]": 2, b"b": 3, b"a": 1}
    assert counts.lengths == {3: 1, 2: 1, 0: 1, 1: 1} and counts.rows == 4
    vocabulary = text.vocabulary_from_counts(counts, preprocessing)
    assert vocabulary == build_vocabulary(texts, preprocessing)
    # "[UNK]" written in a text is out of the vocabulary, as TextVectorization maps it.
    assert vocabulary.tokens == ["", "[UNK]", "b", "a"] and vocabulary.tokens_seen == 2
    assert vocabulary.train_oov_rate == 1.0 - 4 / 6  # [UNK] twice of six tokens


def test_text_clipping_rule_is_one_for_ids_and_for_lengths():
    import tensorflow as tf

    preprocessing = PreprocessingConfig()
    texts = ["a b c d e", "", "?!", "a", "a b c"]
    vectorizer = make_vectorizer(preprocessing, ["", "[UNK]", "a", "b"], ragged=True)
    raw = text.length_histogram(vectorizer(texts).row_lengths().numpy())
    ids = encode(vectorizer, texts, 3)
    assert ids.to_list() == [[2, 3, 1], [1], [1], [2], [2, 3, 1]]
    assert text.clipped_lengths(raw, 3) == text.length_histogram(ids.row_lengths().numpy())
    # The same rule inside tf.data (as the streamed dataset applies it).
    dataset = tf.data.Dataset.from_tensor_slices(texts).batch(2)
    dataset = dataset.map(lambda batch: text.clip_ids(vectorizer(batch), 3)).unbatch()
    assert [row.numpy().tolist() for row in dataset] == ids.to_list()


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.integers(0, 400), min_size=1, max_size=300),
    st.floats(0, 100, allow_nan=False),
)
def test_text_histogram_quantiles_are_numpys_bit_for_bit(lengths, q):
    values = np.asarray(lengths)
    histogram = text.length_histogram(values)
    for percent in (q, 50, 90, 95, 99, 99.5, 100):
        assert text.histogram_percentile(histogram, percent) == np.percentile(values, percent)
    quantiles = np.quantile(values, np.linspace(0, 1, text.NUM_BUCKETS + 1)[1:-1])
    expected = sorted({int(value) + 1 for value in quantiles if value >= 1})
    assert text.bucket_boundaries(histogram) == text.bucket_boundaries(values) == expected
    for batch_size in (1, 8, 32):
        for bucketing in (True, False):
            steps = text.steps_per_epoch(values, batch_size, bucketing)
            assert text.steps_per_epoch(histogram, batch_size, bucketing) == steps


def test_text_steps_per_epoch_is_what_the_training_dataset_yields():
    texts = [("w " * (1 + (i * 7) % 45)).strip() for i in range(300)] + ["", "?"]
    ids, targets = encoded_rows(texts, max_length=30)
    lengths = text.length_histogram(ids.row_lengths().numpy())
    for batch_size in (8, 32):
        for bucketing in (True, False):
            batches = training_dataset(ids, targets, batch_size, seed=0, bucketing=bucketing)
            assert len(list(batches)) == text.steps_per_epoch(lengths, batch_size, bucketing)


def test_text_split_punctuation_separates_words_instead_of_joining_them():
    from seqcls.text import display_tokens

    texts = ["Mind--and Elizabeth's (card)!"]
    joined = display_tokens(texts, PreprocessingConfig(), 20)
    assert joined == [["mindand", "elizabeths", "card"]]
    split = display_tokens(texts, PreprocessingConfig(split_punctuation=True), 20)
    assert split == [["mind", "and", "elizabeth", "s", "card"]]
    marks = PreprocessingConfig(strip_punctuation=False, split_punctuation=True)
    assert display_tokens(texts, marks, 20) == [
        ["mind", "-", "-", "and", "elizabeth", "'", "s", "(", "card", ")", "!"]
    ]


@pytest.mark.slow  # a fresh Python importing TensorFlow: about 5 s
def test_text_split_punctuation_model_saves_and_loads_in_safe_mode_in_a_fresh_process(tmp_path):
    """The standardize function is a registered Keras object: model.keras names it, and
    a process that imported nothing of seqcls but load_model reads it back (safe mode)."""
    import json
    import subprocess
    import sys

    import keras

    preprocessing = PreprocessingConfig(strip_punctuation=False, split_punctuation=True)
    vocabulary = build_vocabulary(["mind - and it ' s"], preprocessing)
    inputs = keras.Input(shape=(), dtype="string")
    outputs = make_vectorizer(preprocessing, vocabulary.tokens)(inputs)
    path = tmp_path / "split.keras"
    keras.Model(inputs, outputs).save(path)
    texts = ["Mind--and it's", "nothing?"]
    expected = keras.Model(inputs, outputs)(np.array(texts)).numpy().tolist()
    script = (
        "import json, sys, numpy as np\n"
        "from seqcls.run.artifacts import load_model\n"
        "model = load_model(sys.argv[1])\n"
        "print(json.dumps(np.asarray(model(np.array(json.loads(sys.argv[2])))).tolist()))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(path), json.dumps(texts)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert got == expected
    # "mind", "-", "-", "and", "it", "'", "s" are all known; "nothing" and "?" are not.
    assert all(token > 1 for token in got[0]) and got[1][:2] == [1, 1]
