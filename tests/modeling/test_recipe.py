"""The training-recipe options of issue 16, on real Keras layers: subword (character
n-gram) embeddings, spatial dropout, concat pooling, label smoothing, weight decay and
learning-rate schedules."""

import json

import keras
import numpy as np
import pytest
from conftest import cli_train

from seqcls.config import Config, estimate_parameters, validate_config
from seqcls.errors import ConfigError
from seqcls.modeling.build import (
    PROBABILITIES,
    build_core_model,
    build_inference_model,
    learning_rate_schedule,
    make_optimizer,
)
from seqcls.modeling.losses import SmoothedSparseCrossentropy
from seqcls.modeling.outputs import MEMBER_PROBABILITIES
from seqcls.modeling.subwords import char_ngrams, fnv1a, ngram_table
from seqcls.tasks import get_task
from seqcls.text import make_vectorizer

TOKENS = ["", "[UNK]", "transfer", "transfers", "card", "cards", "x"]


def make_config(**sections) -> Config:
    return Config.model_validate({"data": {"train": "unused.csv"}, **sections})


# ------------------------------------------------------------------------- subwords


def test_recipe_fnv1a_is_the_32_bit_fnv1a_hash():
    # Published FNV-1a 32-bit test values.
    assert fnv1a("") == 0x811C9DC5
    assert fnv1a("a") == 0xE40C292C
    assert fnv1a("foobar") == 0xBF9CF968


def test_recipe_char_ngrams_wrap_the_token_and_keep_each_once():
    assert char_ngrams("cat", 3, 3) == ["<ca", "cat", "at>"]
    assert char_ngrams("aa", 2, 3) == ["<a", "aa", "a>", "<aa", "aa>"]
    assert char_ngrams("ab", 5, 6) == []  # "<ab>" is shorter than 5


def test_recipe_ngram_table_shares_rows_between_word_forms():
    table = ngram_table(TOKENS, 3, 5, buckets=1000)
    assert table.shape[0] == len(TOKENS) and table.dtype == np.int32
    assert not table[0].any() and not table[1].any()  # padding and unknown: none
    assert table.min() >= 0 and table.max() <= 1000
    rows = [set(row[row > 0]) for row in table]
    # "transfer" and "transfers" share every n-gram but the ones at the word's end.
    shared = rows[2] & rows[3]
    assert len(shared) >= len(char_ngrams("transfer", 3, 5)) - 3
    assert rows[6] == {1 + fnv1a("<x>") % 1000}  # "x": one 3-gram, "<x>"


def test_recipe_ngram_table_width_is_the_99th_percentile_of_counts():
    # 300 short tokens and one long one: the long one keeps its first n-grams only.
    tokens = ["", "[UNK]"] + ["w00"] * 300 + ["abcdefghijklmnopqrst"]
    table = ngram_table(tokens, 3, 3, buckets=100_000)
    assert table.shape[1] == len(char_ngrams("w00", 3, 3))  # 3 ("<w0", "w00", "00>")
    assert set(table[-1]) == {1 + fnv1a(g) % 100_000 for g in ("<ab", "abc", "bcd")}


def test_recipe_subword_layer_adds_ngram_vectors_as_documented():
    config = make_config(
        model={
            "embedding": {"dim": 4, "subwords": {"buckets": 50, "combine": "mean"}},
            "encoder": {"units": 3},
        }
    )
    core = build_core_model(config, len(TOKENS), 2, tokens=TOKENS)
    layer = core.get_layer("subwords")
    table = keras.ops.convert_to_numpy(layer.table)
    np.testing.assert_array_equal(table, ngram_table(TOKENS, 3, 5, 50))
    ids = np.array([[2, 3, 1, 0]])
    words = keras.ops.convert_to_numpy(core.get_layer("embedding")(ids))
    got = keras.ops.convert_to_numpy(layer(words, ids))
    vectors = keras.ops.convert_to_numpy(layer.ngram_vectors)
    for step, token_id in enumerate(ids[0]):
        rows = table[token_id][table[token_id] > 0]
        expected = (words[0, step] + vectors[rows].sum(axis=0)) / (1 + len(rows))
        np.testing.assert_allclose(got[0, step], expected, rtol=1e-5, atol=1e-6)
    # Unknown and padding keep their own vectors.
    np.testing.assert_allclose(got[0, 2:], words[0, 2:], atol=1e-7)


def test_recipe_subwords_survive_saving_and_the_inference_model(tmp_path):
    config = make_config(
        model={
            "embedding": {"dim": 6, "subwords": {"min_n": 2, "max_n": 4, "buckets": 97}},
            "encoder": {"units": 5},
        }
    )
    core = build_core_model(config, len(TOKENS), 3, tokens=TOKENS)
    vectorizer = make_vectorizer(config.preprocessing, TOKENS)
    inference = build_inference_model(core, vectorizer, max_length=5)
    texts = keras.ops.convert_to_tensor(["transfer cards", "card x transfers", ""])
    before = keras.ops.convert_to_numpy(inference(texts)[PROBABILITIES])
    path = tmp_path / "model.keras"
    inference.save(path)
    reloaded = keras.models.load_model(path, safe_mode=True)
    after = keras.ops.convert_to_numpy(reloaded(texts)[PROBABILITIES])
    np.testing.assert_allclose(after, before, atol=1e-6)


# ------------------------------------------------------- dropout, pooling, masking


@pytest.mark.parametrize(
    "attention",
    [
        {"type": "additive", "concat_pooling": ["mean", "max"]},
        {"type": "none", "pooling": "max", "concat_pooling": ["mean"]},
        {"type": "multihead", "concat_pooling": ["max"]},
    ],
)
@pytest.mark.parametrize("merge_mode", ["concat", "none"])
def test_recipe_options_ignore_padding(attention, merge_mode):
    config = make_config(
        model={
            "embedding": {"dim": 6, "spatial_dropout": 0.3, "subwords": {"buckets": 30}},
            "encoder": {"units": 5, "merge_mode": merge_mode},
            "attention": attention,
        }
    )
    core = build_core_model(config, len(TOKENS), 4, tokens=TOKENS)
    short = np.array([[2, 3, 4, 0], [5, 6, 0, 0]])
    long = np.pad(short, [[0, 0], [0, 7]])
    a = keras.ops.convert_to_numpy(core(short)[PROBABILITIES])
    b = keras.ops.convert_to_numpy(core(long)[PROBABILITIES])
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_recipe_concat_pooling_widens_the_head_input_and_matches_the_estimate():
    config = make_config(
        preprocessing={"max_tokens": 7},
        model={
            "embedding": {"dim": 4},
            "encoder": {"units": 3},
            "attention": {"concat_pooling": ["mean", "max"]},
            "head": {"hidden": [5]},
        },
    )
    core = build_core_model(config, vocab_size=7, num_outputs=2)
    assert tuple(core.get_layer("pooled").output.shape) == (None, 3 * 6)
    assert core.get_layer("hidden_1").count_params() == (18 + 1) * 5
    estimated = sum(estimate_parameters(config).values())
    output_layer = core.get_layer(PROBABILITIES).count_params()
    assert estimated == core.count_params() - output_layer


def test_recipe_spatial_dropout_drops_whole_channels_in_training_only():
    config = make_config(
        model={"embedding": {"dim": 64, "spatial_dropout": 0.5}, "encoder": {"units": 3}}
    )
    core = build_core_model(config, len(TOKENS), 2)
    layer = core.get_layer("spatial_dropout")
    x = np.ones((1, 5, 64), dtype="float32")
    dropped = keras.ops.convert_to_numpy(layer(x, training=True))
    # A channel is dropped for every step of the text or for none.
    assert np.all((dropped == 0).all(axis=1) | (dropped != 0).all(axis=1))
    assert 0 < (dropped[0, 0] == 0).sum() < 64
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(x, training=False)), x)


@pytest.mark.parametrize(
    ("attention", "says"),
    [
        ({"type": "none", "concat_pooling": ["mean"]}, "pooling 'last'"),
        ({"concat_pooling": ["max", "max"]}, "twice"),
        ({"type": "none", "pooling": "max", "concat_pooling": ["max"]}, "already"),
        ({"concat_pooling": ["median"]}, "concat_pooling"),
    ],
)
def test_recipe_schema_refuses_bad_concat_pooling(attention, says):
    with pytest.raises(ConfigError, match=says):
        validate_config({"data": {"train": "a.csv"}, "model": {"attention": attention}})


def test_recipe_schema_refuses_bad_subword_settings():
    with pytest.raises(ConfigError, match="min_n"):
        validate_config(
            {"data": {"train": "a.csv"}, "model": {"embedding": {"subwords": {"min_n": 6}}}}
        )
    with pytest.raises(ConfigError, match="buckets"):
        validate_config(
            {"data": {"train": "a.csv"}, "model": {"embedding": {"subwords": {"buckets": 0}}}}
        )


def test_recipe_tagging_refuses_concat_pooling():
    raw = {
        "task": "tagging",
        "data": {"train": "a.csv"},
        "preprocessing": {"strip_punctuation": False},
        "model": {"attention": {"type": "none", "pooling": "mean", "concat_pooling": ["max"]}},
    }
    with pytest.raises(ConfigError, match="concat_pooling does not apply to tagging"):
        validate_config(raw)


# ------------------------------------------------------------- loss and optimizer


def test_recipe_smoothed_sparse_crossentropy_equals_keras_on_one_hot_targets():
    rng = np.random.default_rng(0)
    probabilities = rng.dirichlet(np.ones(5), size=8).astype("float32")
    targets = rng.integers(0, 5, size=8)
    one_hot = np.eye(5, dtype="float32")[targets]
    for smoothing in (0.0, 0.1, 0.3):
        ours = SmoothedSparseCrossentropy(smoothing)(targets, probabilities)
        keras_loss = keras.losses.CategoricalCrossentropy(label_smoothing=smoothing)
        np.testing.assert_allclose(
            float(ours), float(keras_loss(one_hot, probabilities)), rtol=1e-5
        )
    restored = SmoothedSparseCrossentropy.from_config(SmoothedSparseCrossentropy(0.2).get_config())
    assert restored.label_smoothing == 0.2


def test_recipe_each_task_smooths_its_own_loss():
    assert get_task("multiclass").training_loss(0.0) == "sparse_categorical_crossentropy"
    assert isinstance(get_task("multiclass").training_loss(0.1), SmoothedSparseCrossentropy)
    assert isinstance(get_task("tagging").training_loss(0.1), SmoothedSparseCrossentropy)
    for name in ("binary", "multilabel"):
        loss = get_task(name).training_loss(0.2)
        # Binary cross-entropy against 1 - 0.2/2 for a 1 target.
        value = float(loss(np.array([[1.0]]), np.array([[0.9]], dtype="float32")))
        expected = -(0.9 * np.log(0.9) + 0.1 * np.log(0.1))
        assert value == pytest.approx(expected, rel=1e-4)


def test_recipe_warmup_must_end_before_training_does():
    raw = {"data": {"train": "a.csv"}, "training": {"epochs": 5, "warmup_epochs": 5}}
    with pytest.raises(ConfigError, match="warmup_epochs"):
        validate_config(raw, new_config=True)


def test_recipe_learning_rate_schedules():
    def training(**settings):
        return make_config(training={"learning_rate": 0.01, "epochs": 4, **settings}).training

    assert learning_rate_schedule(training(), steps_per_epoch=10) == pytest.approx(0.01)

    warm = learning_rate_schedule(training(warmup_epochs=1), steps_per_epoch=10)
    rates = [float(warm(step)) for step in (0, 5, 10, 25, 40)]
    assert rates == pytest.approx([0.0, 0.005, 0.01, 0.01, 0.01], abs=1e-7)

    cosine = learning_rate_schedule(training(schedule="cosine"), steps_per_epoch=10)
    rates = [float(cosine(step)) for step in (0, 20, 40)]
    assert rates == pytest.approx([0.01, 0.005, 0.0], abs=1e-7)

    both = learning_rate_schedule(training(schedule="cosine", warmup_epochs=2), 10)
    rates = [float(both(step)) for step in (0, 10, 20, 30, 40)]
    assert rates == pytest.approx([0.0, 0.005, 0.01, 0.005, 0.0], abs=1e-7)


def test_recipe_weight_decay_reaches_the_optimizer():
    settings = make_config(training={"optimizer": "adamw", "weight_decay": 0.05}).training
    assert make_optimizer(settings, 10).weight_decay == pytest.approx(0.05)
    default = make_config(training={"optimizer": "adamw"}).training
    assert make_optimizer(default, 10).weight_decay == pytest.approx(0.004)  # Keras' own
    assert make_optimizer(make_config().training, 10).weight_decay is None


# ------------------------------------------------------------------ end to end


@pytest.mark.slow  # moved out of the default suite (over 5 s): .ci/run runs it
def test_recipe_every_option_trains_predicts_and_reloads(tiny_config, tmp_path):
    """One training run with every option (tests/modeling/test_ensemble.py builds
    ensembles; this one trains one): the saved model predicts the members' average,
    carries the n-gram table, and holds the weight averages of the best epoch."""
    from seqcls.modeling.ensemble import member_cores
    from seqcls.run import artifacts
    from seqcls.training.checkpoints import evaluated_weights

    run_dir = tmp_path / "run"
    result = cli_train(
        tiny_config,
        run_dir,
        "model.embedding.spatial_dropout=0.2",
        "model.embedding.subwords.buckets=500",
        "model.attention.concat_pooling=[mean, max]",
        "model.ensemble=2",
        "training.optimizer=adamw",
        "training.weight_decay=0.01",
        "training.schedule=cosine",
        "training.warmup_epochs=0.5",
        "training.label_smoothing=0.1",
        "training.ema_momentum=0.9",
        "training.early_stopping.enabled=false",
        "training.epochs=2",
    )
    assert result.exit_code == 0, result.output
    history = (run_dir / artifacts.HISTORY_FILE).read_text().splitlines()
    assert "val_accuracy" in history[0] and len(history) == 1 + 2
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["test"]["rows"] == 24

    model = artifacts.load_model(run_dir / artifacts.MODEL_FILE)
    assert MEMBER_PROBABILITIES not in model.output  # predictions carry the average only
    outputs = model(keras.ops.convert_to_tensor(["alpha beta gamma", "delta"]))
    core = model.get_layer("seqcls_core")
    members = member_cores(core)
    assert len(members) == 2
    each = [keras.ops.convert_to_numpy(m(outputs["token_ids"])[PROBABILITIES]) for m in members]
    probabilities = keras.ops.convert_to_numpy(outputs[PROBABILITIES])
    np.testing.assert_allclose(probabilities, np.mean(each, axis=0), atol=1e-6)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, atol=1e-5)
    table = keras.ops.convert_to_numpy(members[0].get_layer("subwords").table)
    assert table[2:].any()  # the vocabulary's n-grams were saved with the model
    first, second = (m.get_layer("embedding").get_weights()[0] for m in members)
    assert not np.allclose(first, second)  # each member keeps its own weights
    # The saved model is the one validation chose: its valid accuracy is the best epoch's.
    rows = [line.split(",") for line in history]
    column = rows[0].index("val_accuracy")
    best = max(float(row[column]) for row in rows[1:])
    assert metrics["valid"]["accuracy"] == pytest.approx(best, abs=1e-6)

    # best.keras is the best epoch's checkpoint: raw weights plus the optimizer's
    # averages; the saved model holds the averages (what validation saw).
    best = artifacts.load_model(run_dir / artifacts.BEST_CHECKPOINT_FILE, compile=True)
    assert best.optimizer.use_ema
    averaged, raw = evaluated_weights(best), best.get_weights()
    assert any(not np.allclose(a, r) for a, r in zip(averaged, raw))
    for ours, expected in zip(core.get_weights(), averaged):
        np.testing.assert_allclose(ours, expected, rtol=1e-6, atol=1e-7)


def test_recipe_weight_averaging_is_refused_with_a_distribution_strategy():
    raw = {
        "data": {"train": "a.csv"},
        "training": {"ema_momentum": 0.99},
        "runtime": {"distribution": "mirrored"},
    }
    with pytest.raises(ConfigError, match="ema_momentum"):
        validate_config(raw)
