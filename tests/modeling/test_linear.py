"""model.linear: the TF-IDF n-gram linear branch, on real Keras layers and a real
scikit-learn LinearSVC."""

import json
from types import SimpleNamespace

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import cli_train

from seqcls.config import validate_config
from seqcls.errors import ConfigError
from seqcls.modeling.linear import LinearNgrams, feature_count, layer_weights, ngram_features
from seqcls.modeling.outputs import PROBABILITIES
from seqcls.modeling.subwords import ngram_table

ROWS = [[5, 6, 7, 5, 6], [9], [3, 3, 3, 3], [1, 8, 1, 8, 2, 4], [2, 4]]


def ragged(rows):
    return tf.ragged.constant(rows, dtype=tf.int64)


def numpy_scores(rows, layer, coefficients, squared_idf, bias, char_table=None):
    """The documented scores, feature by feature: a text's ids, its hashed n-grams
    (ngram_features) and each token's character n-gram rows (V + buckets + row); the sum
    of their coefficients over sqrt(sum of their squared idf), plus the bias."""
    ids = ragged(rows)
    found_rows, features = ngram_features(
        ids.flat_values.numpy(),
        ids.row_splits.numpy(),
        layer.vocab_size,
        layer.ngrams,
        layer.buckets,
    )
    expected = np.tile(bias, (len(rows), 1)).astype(np.float64)
    for row, tokens in enumerate(rows):
        picked = list(features[found_rows == row])
        if char_table is not None:
            offset = layer.vocab_size + layer.buckets
            picked += [offset + r for token in tokens for r in char_table[token] if r > 0]
        norm = np.sqrt(squared_idf[picked].sum())
        expected[row] += coefficients[picked].sum(axis=0) / max(norm, 1e-12)
    return expected


@pytest.mark.parametrize(("ngrams", "chars"), [(1, False), (2, False), (3, False), (2, True)])
def test_linear_layer_scores_equal_the_numpy_features(ngrams, chars):
    """In the model, on right-padded ids, the branch computes what the features say: rows
    shorter than n have no n-grams, padding (0) is never part of one; each token's
    character n-grams count once per occurrence of the token (folded into its row)."""
    vocab_size, buckets, units = 10, 17, 3
    generator = np.random.default_rng(0)
    char_table = None
    if chars:
        tokens = ["", "[UNK]", "card", "cards", "top", "up", "x", "pin", "pins", "atm"]
        char_table = ngram_table(tokens, 2, 3, buckets)
    count = feature_count(vocab_size, buckets, char_table)
    coefficients = generator.normal(size=(count, units))
    squared_idf = generator.uniform(1, 4, size=count)
    bias = generator.normal(size=units).astype(np.float32)
    used = np.arange(1, count)  # every feature but padding's (id 0) has weights
    ngram_rows = int(np.sum((used >= vocab_size) & (used < vocab_size + buckets)))
    layer = LinearNgrams(vocab_size, ngrams, buckets, ngram_rows if ngrams > 1 else 0, units)
    if ngrams == 1:
        used = used[(used < vocab_size) | (used >= vocab_size + buckets)]
    weights = layer_weights(used, coefficients[used], squared_idf[used], layer, char_table)
    layer.set_weights([*weights, bias])
    got = keras.ops.convert_to_numpy(layer.scores(ragged(ROWS).to_tensor()))
    expected = numpy_scores(ROWS, layer, coefficients, squared_idf, bias, char_table)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    # The n-gram features of the documented hash, for the first row's first bigram.
    _, features = ngram_features(np.array([5, 6]), np.array([0, 2]), vocab_size, 2, buckets)
    assert features.tolist() == [5, 6, vocab_size + ((5 * 1_000_003 + 6) % 2_147_483_647) % buckets]


def prepared_for(texts_ids, labels, valid_ids, valid_labels, vocab_size, binary=False):
    """What attach_linear reads of training.prepare's Prepared."""

    def targets(values):
        values = np.asarray(values)
        return values.reshape(-1, 1).astype("float32") if binary else values

    tokens = ["", "[UNK]"] + [f"w{index}" for index in range(2, vocab_size)]
    return SimpleNamespace(
        vocabulary=SimpleNamespace(size=vocab_size, tokens=tokens),
        ids={"train": ragged(texts_ids), "valid": ragged(valid_ids)},
        targets={"train": targets(labels), "valid": targets(valid_labels)},
        notes=[],
        keras_class_weight=lambda: None,
    )


def make_data(labels_count, rows=60, seed=0):
    """Rows whose label shows in their ids: label k's rows hold ids 2 + 3k .. 4 + 3k."""
    generator = np.random.default_rng(seed)
    ids, labels = [], []
    for index in range(rows):
        label = index % labels_count
        words = generator.integers(2 + 3 * label, 5 + 3 * label, size=generator.integers(1, 6))
        ids.append([int(w) for w in words] + [int(generator.integers(20, 25))])
        labels.append(label)
    return ids, labels


@pytest.mark.parametrize(("labels_count", "units"), [(2, 1), (3, 3), (2, 3)])
def test_linear_branch_reproduces_the_svm_and_blends_as_chosen(labels_count, units):
    """attach_linear fits LinearSVC on the TF-IDF of the train ids; the layer's scores are
    its decision_function (binary: one sigmoid unit; a label train lacks: no weights),
    and the blended core returns weight * network + (1 - weight) * linear."""
    from seqcls.training.linear_branch import _normalised, _tfidf_counts, attach_linear

    vocab_size = 30
    train, labels = make_data(labels_count)
    valid, valid_labels = make_data(labels_count, rows=30, seed=1)
    prepared = prepared_for(train, labels, valid, valid_labels, vocab_size, binary=units == 1)
    ids = keras.Input(shape=(None,), dtype="int64")
    embedded = keras.layers.Embedding(vocab_size, 4, mask_zero=True)(ids)
    pooled = keras.layers.GlobalAveragePooling1D()(embedded)
    activation = "sigmoid" if units == 1 else "softmax"
    network = keras.layers.Dense(units, activation=activation)(pooled)
    core = keras.Model(ids, {PROBABILITIES: network}, name="seqcls_core")
    settings = SimpleNamespace(ngrams=2, char_ngrams=[1, 2], buckets=64, c=1.0, weight="auto")
    config = SimpleNamespace(
        model=SimpleNamespace(linear=settings),
        preprocessing=SimpleNamespace(tokenizer="word"),
        seed=0,
    )
    reports = []
    blended, info = attach_linear(config, prepared, core, reports.append)
    assert blended.name == "seqcls_core" and blended.get_layer("network") is core
    assert 0.0 <= info["weight"] <= 1.0 and info["features_seen"] > 0
    assert "linear n-grams" in reports[0]
    assert info["valid_accuracy"]["linear"] == 1.0  # the labels show in the ids

    from sklearn.svm import LinearSVC

    table = ngram_table(prepared.vocabulary.tokens, 1, 2, 64)
    counts = _tfidf_counts(ragged(train), vocab_size, config.model.linear, table)
    df = np.bincount(counts.indices, minlength=counts.shape[1])
    used = np.flatnonzero(df)
    idf = np.log((1.0 + counts.shape[0]) / (1.0 + df[used])) + 1.0
    svm = LinearSVC(C=1.0, random_state=0, max_iter=5000).fit(
        _normalised(counts[:, used], idf), labels
    )
    valid_counts = _tfidf_counts(ragged(valid), vocab_size, config.model.linear, table)[:, used]
    decision = np.atleast_2d(svm.decision_function(_normalised(valid_counts, idf)).T).T
    linear = blended.get_layer("linear_ngrams")
    padded = ragged(valid).to_tensor()
    scores = keras.ops.convert_to_numpy(linear.scores(padded))
    if units == 1:
        np.testing.assert_allclose(scores[:, 0], decision[:, 0], atol=1e-4)
    elif labels_count == 2:
        np.testing.assert_allclose(scores[:, 1] - scores[:, 0], decision[:, 0], atol=1e-4)
        assert (scores[:, 2] < scores[:, :2].min(axis=1) - 20).all()  # label 2 is not in train
    else:
        np.testing.assert_allclose(scores, decision, atol=1e-4)

    got = keras.ops.convert_to_numpy(blended(padded)[PROBABILITIES])
    own = keras.ops.convert_to_numpy(core(padded)[PROBABILITIES])
    branch = keras.ops.convert_to_numpy(linear(padded))
    np.testing.assert_allclose(got, info["weight"] * own + (1 - info["weight"]) * branch, atol=1e-6)


def test_linear_is_refused_where_it_cannot_blend():
    for extra, says in [
        ({"task": "multilabel"}, "model.linear needs a multiclass or binary task"),
        ({"data": {"train": "a.csv", "valid": "b.csv", "streaming": True}}, "data.streaming True"),
    ]:
        raw = {"data": {"train": "a.csv"}, "model": {"linear": {"ngrams": 2}}, **extra}
        with pytest.raises(ConfigError, match=says):
            validate_config(raw)
    with pytest.raises(ConfigError, match=r"model.linear.char_ngrams to \[shortest, longest\]"):
        validate_config({"data": {"train": "a.csv"}, "model": {"linear": {"char_ngrams": [5, 3]}}})
    with pytest.raises(ConfigError, match=r"model.linear: got True; write `linear: \{\}`"):
        validate_config({"data": {"train": "a.csv"}, "model": {"linear": True}})
    with pytest.raises(
        ConfigError, match="model.linear.weight: got 'best'; set model.linear.weight to auto"
    ):
        validate_config({"data": {"train": "a.csv"}, "model": {"linear": {"weight": "best"}}})
    with pytest.raises(ConfigError, match="model.linear.weight"):
        validate_config({"data": {"train": "a.csv"}, "model": {"linear": {"weight": 1.5}}})


@pytest.mark.slow  # a training run: about 15 s
def test_linear_run_saves_the_blend_and_predicts_with_it(tiny_config, tmp_path):
    """A trained run with model.linear and two ensemble members: model.keras reloads the
    branch, and its probabilities are the recorded blend of network and branch."""
    from seqcls.run import artifacts

    run_dir = tmp_path / "run"
    result = cli_train(tiny_config, run_dir, "model.linear.ngrams=2", "model.ensemble=2")
    assert result.exit_code == 0, result.output
    assert "linear n-grams:" in result.output
    manifest = json.loads((run_dir / artifacts.MANIFEST_FILE).read_text())
    weight = manifest["linear"]["weight"]
    model = artifacts.load_model(run_dir / artifacts.MODEL_FILE)
    outputs = model(keras.ops.convert_to_tensor(["alpha beta gamma", "delta", ""]))
    core = model.get_layer("seqcls_core")
    ids = outputs["token_ids"]
    network = keras.ops.convert_to_numpy(core.get_layer("network")(ids)[PROBABILITIES])
    branch = keras.ops.convert_to_numpy(core.get_layer("linear_ngrams")(ids))
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(outputs[PROBABILITIES]),
        weight * network + (1 - weight) * branch,
        atol=1e-6,
    )
    metrics = json.loads((run_dir / "metrics.json").read_text())
    # The saved model's valid accuracy is the blend's (float32 against float64: a row
    # at a near tie may fall either way).
    blend = manifest["linear"]["valid_accuracy"]["blend"]
    assert metrics["valid"]["accuracy"] == pytest.approx(blend, abs=1 / metrics["valid"]["rows"])
    from typer.testing import CliRunner

    from seqcls.cli import app

    summary = CliRunner().invoke(app, ["summary", str(run_dir)])
    assert summary.exit_code == 0, summary.output
    assert f"{weight:g} x network" in summary.output and "2 ensemble members" in summary.output
    card = (run_dir / "MODEL_CARD.md").read_text()
    assert (
        "**Linear branch**: a linear SVM on TF-IDF n-grams of 1 to 2 tokens and the tokens' character 3-5 grams"
        in card
    )


def test_every_module_with_saved_layers_is_registered_before_loading():
    """load_model imports each module that registers Keras objects, so that a fresh
    process (seqcls predict, summary, serve) can read a model using any of them."""
    import inspect
    from pathlib import Path

    import seqcls
    from seqcls.run import artifacts

    source = inspect.getsource(artifacts.load_model)
    package = Path(seqcls.__file__).parent
    registering = [
        ".".join(path.relative_to(package.parent).with_suffix("").parts)
        for path in sorted(package.rglob("*.py"))
        if "register_keras_serializable" in path.read_text(encoding="utf-8")
    ]
    assert "seqcls.modeling.linear" in registering
    missing = [name for name in registering if f"import {name}" not in source]
    assert not missing, f"load_model does not import {missing}"


def test_linear_weight_is_chosen_on_smoothed_valid_accuracy():
    """auto: the grid weight whose accuracy, averaged with its neighbours', is best; a
    fixed weight is used as given."""
    from seqcls.training.linear_branch import _choose_weight

    truth = np.array([0, 0, 1, 1])
    # The network is right on rows 0-1, the branch on rows 2-3, each sure of itself.
    network = np.array([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.6, 0.4]])
    linear = np.array([[0.4, 0.6], [0.4, 0.6], [0.1, 0.9], [0.1, 0.9]])
    weight, accuracies = _choose_weight(network, linear, truth, "auto")
    assert accuracies == {"network": 0.5, "linear": 0.5, "blend": 1.0}
    blend = weight * network + (1 - weight) * linear
    assert (blend.argmax(axis=1) == truth).all() and 0.35 < weight < 0.65
    weight, accuracies = _choose_weight(network, linear, truth, 1.0)
    assert weight == 1.0 and accuracies["blend"] == 0.5


def test_linear_temperature_minimises_the_valid_log_loss():
    from seqcls.training.linear_branch import TEMPERATURES, _fit_temperature, _softmax

    generator = np.random.default_rng(0)
    logits = generator.normal(size=(4000, 3))
    truth = np.array([generator.choice(3, p=p) for p in _softmax(logits * 4.0)])
    fitted = _fit_temperature(logits, truth)
    assert fitted in TEMPERATURES and 3.0 <= fitted <= 5.5


def test_linear_with_one_train_label_is_skipped_with_a_note():
    from seqcls.training.linear_branch import attach_linear

    prepared = prepared_for([[2, 3], [3, 4]], [0, 0], [[2]], [0], vocab_size=6)
    settings = SimpleNamespace(ngrams=2, char_ngrams=None, buckets=8, c=1.0, weight="auto")
    config = SimpleNamespace(model=SimpleNamespace(linear=settings), seed=0)
    reports = []
    core = object()
    assert attach_linear(config, prepared, core, reports.append) == (core, {})
    assert "train has one label only" in prepared.notes[0] and len(reports) == 1


def test_linear_settings_cannot_be_searched_by_tune():
    raw = {
        "data": {"train": "a.csv"},
        "model": {"linear": {}},
        "tune": {"space": {"model.linear.c": {"low": 0.1, "high": 10}}},
    }
    with pytest.raises(ConfigError, match="tune.space.model.linear.c: the linear branch is fitted"):
        validate_config(raw)
