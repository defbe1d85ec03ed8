"""Training, after the network: model.linear's branch (seqcls.modeling.linear).

A linear SVM (scikit-learn's LinearSVC, liblinear) is fitted on the train split's TF-IDF
n-grams of the token ids the network trained on; its scores become probabilities
through a temperature that minimises the valid split's log loss; the blend weight is the
one of 0, 0.05, ..., 1 with the best valid accuracy (averaged with its neighbours on the
grid; ties: the lower log loss), unless model.linear.weight fixes it. A TF-IDF linear
model is strong on a few thousand texts, where a network varies from seed to seed, and
the two make different mistakes.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from seqcls.modeling.outputs import PROBABILITIES
from seqcls.tasks.calibration import nll
from seqcls.training.prepare import Prepared

WEIGHTS = np.round(np.linspace(0.0, 1.0, 21), 2)
TEMPERATURES = np.geomspace(0.25, 64.0, 33)


def attach_linear(config: Any, prepared: Prepared, core: Any, report: Any) -> tuple[Any, dict]:
    """The core to save: `core` blended with a fitted linear branch when model.linear is
    set, else `core` itself. Returns it and what the manifest records of the branch."""
    settings = config.model.linear
    if settings is None:
        return core, {}
    from seqcls.messages import note
    from seqcls.modeling.linear import blended_core

    labels = _label_indices(prepared, "train")
    if len(np.unique(labels)) < 2:
        prepared.notes.append("model.linear: train has one label only; no linear branch fitted")
        report(note(prepared.notes[-1]))
        return core, {}
    started = time.perf_counter()
    units = int(core.output[PROBABILITIES].shape[-1])
    linear, valid_scores, features = _fit_branch(config, prepared, labels, units)
    truth = _label_indices(prepared, "valid")
    logits = _logits(valid_scores, units)
    linear.temperature = _fit_temperature(logits, truth)
    network = _two_columns(_predict_valid(core, prepared.ids["valid"]))
    branch = _softmax(logits * linear.temperature)
    weight, accuracies = _choose_weight(network, branch, truth, settings.weight)
    megabytes = sum(value.nbytes for value in linear.get_weights()) / 2**20
    info = {
        "ngrams": settings.ngrams,
        "char_ngrams": settings.char_ngrams if _reads_characters(config) else None,
        "buckets": settings.buckets,
        "features_seen": features,
        "c": settings.c,
        "temperature": round(float(linear.temperature), 4),
        "weight": float(weight),
        "weight_setting": settings.weight,
        "valid_accuracy": accuracies,
        "megabytes": round(megabytes, 1),
        "seconds": round(time.perf_counter() - started, 2),
    }
    report(
        f"linear n-grams: {features:,} features ({megabytes:,.1f} MB in the model); valid "
        f"accuracy network {accuracies['network']:.4f}, linear {accuracies['linear']:.4f}, "
        f"blend {accuracies['blend']:.4f} (network weight {weight:g}, {info['seconds']:.1f} s)"
    )
    if weight in (0.0, 1.0):
        alone = "the linear branch" if weight == 0.0 else "the network"
        prepared.notes.append(
            f"model.linear: the blend weight is {weight:g}: predictions come from {alone} "
            "alone" + (" (attention weights are still the network's)" if weight == 0.0 else "")
        )
        report(note(prepared.notes[-1]))
    return blended_core(core, linear, float(weight)), info


def _fit_branch(config: Any, prepared: Prepared, labels: np.ndarray, units: int):
    """The fitted LinearNgrams (temperature 1), its scores on valid, and the number of
    features seen in train."""
    from seqcls.modeling.linear import LinearNgrams, layer_weights

    settings = config.model.linear
    vocab_size, buckets = prepared.vocabulary.size, settings.buckets
    char_table = _char_table(config, prepared)
    train = _tfidf_counts(prepared.ids["train"], vocab_size, settings, char_table)
    df = np.bincount(train.indices, minlength=train.shape[1])  # one count per row: deduplicated
    used = np.flatnonzero(df)
    idf = np.log((1.0 + train.shape[0]) / (1.0 + df[used])) + 1.0
    svm = _fit_svm(_normalised(train[:, used], idf), labels, settings, prepared, config.seed)
    coefficients, bias = _coefficients(svm, units)
    valid = _tfidf_counts(prepared.ids["valid"], vocab_size, settings, char_table)
    valid_scores = _normalised(valid[:, used], idf) @ coefficients + bias
    ngram_rows = int(np.sum((used >= vocab_size) & (used < vocab_size + buckets)))
    linear = LinearNgrams(
        vocab_size, settings.ngrams, buckets, ngram_rows, units, name="linear_ngrams"
    )
    weights = layer_weights(used, coefficients * idf[:, None], idf**2, linear, char_table)
    linear.set_weights([*weights, bias.astype(np.float32)])
    return linear, valid_scores, int(len(used))


def _predict_valid(core: Any, ids: Any, batch_size: int = 256) -> np.ndarray:
    """The core's probabilities for ragged ids, in row order, batched by length (each
    batch padded to its own longest row)."""
    import tensorflow as tf

    order = np.argsort(ids.row_lengths().numpy(), kind="stable")
    parts = []
    for start in range(0, len(order), batch_size):
        batch = tf.gather(ids, order[start : start + batch_size]).to_tensor()
        parts.append(np.asarray(core(batch, training=False)[PROBABILITIES], dtype=np.float64))
    probabilities = np.concatenate(parts)
    restored = np.empty_like(probabilities)
    restored[order] = probabilities
    return restored


def _reads_characters(config: Any) -> bool:
    """Whether the branch reads the tokens' character n-grams: word tokens only (char
    tokens' `ngrams` already are character n-grams)."""
    return config.model.linear.char_ngrams is not None and config.preprocessing.tokenizer != "char"


def _char_table(config: Any, prepared: Prepared) -> np.ndarray | None:
    """The vocabulary's character n-gram rows (word tokens with model.linear.char_ngrams)."""
    if not _reads_characters(config):
        return None
    from seqcls.modeling.subwords import ngram_table

    settings = config.model.linear

    shortest, longest = settings.char_ngrams
    return ngram_table(prepared.vocabulary.tokens, shortest, longest, settings.buckets)


def _tfidf_counts(ids: Any, vocab_size: int, settings: Any, char_table: np.ndarray | None):
    """The split's feature counts, a CSR matrix (rows, features): ids and hashed n-grams,
    then the tokens' character n-grams (the unigram counts times char_matrix)."""
    from scipy import sparse

    from seqcls.modeling.linear import char_matrix, ngram_features

    values, splits = ids.flat_values.numpy(), ids.row_splits.numpy()
    rows, features = ngram_features(values, splits, vocab_size, settings.ngrams, settings.buckets)
    shape = (len(splits) - 1, vocab_size + settings.buckets)
    counts = sparse.csr_matrix((np.ones(len(rows)), (rows, features)), shape=shape)
    counts.sum_duplicates()
    if char_table is None:
        return counts
    chars = counts[:, :vocab_size] @ char_matrix(char_table, settings.buckets)
    return sparse.hstack([counts, chars], format="csr")


def _normalised(counts: Any, idf: np.ndarray):
    """TF-IDF rows divided by sqrt(sum of count * idf^2), as LinearNgrams divides."""
    from scipy import sparse

    weighted = counts @ sparse.diags(idf)
    norm = np.sqrt(np.asarray(counts @ (idf**2)).ravel())
    return sparse.diags(1.0 / np.maximum(norm, 1e-12)) @ weighted


def _fit_svm(features: Any, labels: np.ndarray, settings: Any, prepared: Prepared, seed: int):
    """LinearSVC on the TF-IDF rows (liblinear; training.class_weight applies). Not
    converging within max_iter leaves a usable model, which valid then weighs."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.svm import LinearSVC

    weights = prepared.keras_class_weight()
    svm = LinearSVC(
        C=settings.c, class_weight=weights, dual="auto", random_state=seed % 2**31, max_iter=5000
    )

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return svm.fit(features, labels)


def _coefficients(svm: Any, units: int) -> tuple[np.ndarray, np.ndarray]:
    """The SVM's coefficients (features, units) and bias (units,) as the network's output
    columns: one sigmoid unit takes a binary SVM's scores; a softmax over two labels takes
    them as -s/2 and s/2 (its probabilities are then the sigmoid of s); a label train
    lacks gets no weights and a bias far below the others."""
    coef, intercept = np.atleast_2d(svm.coef_), np.asarray(svm.intercept_, dtype=np.float64)
    if units == 1:
        return coef.T, intercept
    if len(svm.classes_) == 2:
        coef, intercept = (
            np.vstack([-coef / 2, coef / 2]),
            np.concatenate([-intercept, intercept]) / 2,
        )
    coefficients = np.zeros((coef.shape[1], units))
    bias = np.full(units, float(intercept.min()) - 30.0)
    coefficients[:, svm.classes_], bias[svm.classes_] = coef.T, intercept
    return coefficients, bias


def _label_indices(prepared: Prepared, split: str) -> np.ndarray:
    """Each row's label index (binary: 0 or 1) from the split's training targets."""
    targets = np.asarray(prepared.targets[split])
    return targets.reshape(len(targets), -1)[:, 0].astype(np.int64)


def _two_columns(probabilities: np.ndarray) -> np.ndarray:
    """Probabilities (rows, labels); a binary model's one sigmoid column becomes two."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if probabilities.shape[1] == 1:
        return np.hstack([1.0 - probabilities, probabilities])
    return probabilities


def _logits(scores: np.ndarray, units: int) -> np.ndarray:
    """Scores whose softmax is the branch's probabilities: one sigmoid unit's score s
    becomes the two columns (0, s)."""
    scores = np.asarray(scores, dtype=np.float64)
    if units == 1:
        return np.hstack([np.zeros_like(scores), scores])
    return scores


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def _fit_temperature(logits: np.ndarray, truth: np.ndarray) -> float:
    """The multiplier of the SVM's scores with the lowest valid log loss (a log grid)."""
    losses = [nll(_softmax(logits * value), truth) for value in TEMPERATURES]
    return float(TEMPERATURES[int(np.argmin(losses))])


def _choose_weight(
    network: np.ndarray, linear: np.ndarray, truth: np.ndarray, setting: Any
) -> tuple[float, dict[str, float]]:
    """The network's weight in the blend, and the valid accuracies of both and the blend."""

    def accuracy(probabilities: np.ndarray) -> float:
        return float(np.mean(probabilities.argmax(axis=1) == truth))

    candidates = WEIGHTS if setting == "auto" else np.array([float(setting)])
    blends = [weight * network + (1.0 - weight) * linear for weight in candidates]
    accuracies = np.array([accuracy(blend) for blend in blends])
    # Each weight scores the mean accuracy of itself and its neighbours on the grid: one
    # valid row more or less right should not pick a weight on its own.
    smoothed = np.convolve(np.pad(accuracies, 1, mode="edge"), np.ones(3) / 3, mode="valid")
    scored = [
        (-round(float(value), 9), nll(blend, truth), float(weight))
        for value, blend, weight in zip(smoothed, blends, candidates)
    ]
    weight = min(scored)[2]
    blend = weight * network + (1.0 - weight) * linear
    return weight, {
        "network": round(accuracy(network), 4),
        "linear": round(accuracy(linear), 4),
        "blend": round(accuracy(blend), 4),
    }
