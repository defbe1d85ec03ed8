"""`seqcls validate`: check a config's data without training, and say what training will see.

Reading follows the same strict path as training (so a data error here is a data
error there, exit 3). Token counts use the same TensorFlow tokenizer the model uses.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict
from typing import Any

import numpy as np

from seqcls.config import Config
from seqcls.data.splits import Split, label_counts
from seqcls.text.tokenizer_choice import TokenizerChoice, choose_tokenizer

# Thresholds above which the report warns (warnings never fail validation).
IMBALANCE_WARNING = 10.0
TRUNCATION_WARNING = 0.05
OOV_WARNING = 0.10
COVERAGE_WARNING = 0.5
# preprocessing.tokenizer: char is suggested for a word config when the train texts are
# what `seqcls init` gives char tokens (seqcls.text.tokenizer_choice), when a valid/test
# OOV rate reaches CHAR_OOV, or when one passes OOV_WARNING and at least
# COMMON_SINGLE_TOKEN of the train texts are a single token.
CHAR_OOV = 0.25
COMMON_SINGLE_TOKEN = 0.25


def _normalised(text: str) -> str:
    return " ".join(text.split()).lower()


def duplicates(train: Split) -> dict[str, int]:
    """Texts repeated within train, and those repeated with different labels."""
    labels_of: dict[str, set[str]] = {}
    counts = Counter()
    for text, label in zip(train.texts, train.labels):
        key = _normalised(text)
        counts[key] += 1
        labels_of.setdefault(key, set()).add(label)
    return {
        "repeated_texts": sum(1 for count in counts.values() if count > 1),
        "extra_copies": sum(count - 1 for count in counts.values() if count > 1),
        "with_conflicting_labels": sum(1 for labels in labels_of.values() if len(labels) > 1),
    }


def leaks(train: Split, other: Split) -> int:
    """Rows of `other` whose text (whitespace and case normalised) also occurs in train."""
    seen = {_normalised(text) for text in train.texts}
    return sum(1 for text in other.texts if _normalised(text) in seen)


def split_lengths(split: Split, vectorizer: Any, max_length: int) -> tuple[dict, float, float]:
    """Length percentiles of a split's texts in tokens, the share longer than max_length,
    and the share of its tokens outside the vocabulary."""
    from seqcls import text

    ids = vectorizer(split.texts)
    lengths = text.length_histogram(ids.row_lengths().numpy())
    flat = ids.flat_values.numpy()
    truncated = sum(texts for length, texts in lengths.items() if length > max_length)
    oov = float((flat == text.OOV_ID).mean()) if flat.size else 0.0
    return text.length_percentiles(lengths), truncated / len(split), oov


def truncation_warnings(truncated: dict[str, float], max_length: int) -> list[str]:
    """A warning for each split with many texts longer than max_length."""
    return [
        f"{name}: {share:.1%} of texts are longer than max_length {max_length} and will be cut"
        for name, share in truncated.items()
        if share > TRUNCATION_WARNING
    ]


def tokenizer_suggestion(
    config: Config, per_token: bool, choice: TokenizerChoice, oov: dict[str, float]
) -> str | None:
    """Why to set preprocessing.tokenizer: char (see CHAR_OOV), or None: never for a
    config that has char already, nor for a per-token task (tags belong to words)."""
    if config.preprocessing.tokenizer != "word" or per_token:
        return None
    worst = max((rate for name, rate in oov.items() if name != "train"), default=0.0)
    char = "preprocessing.tokenizer: char to read the texts character by character"
    if choice.tokenizer == "char":
        return f"in train, {choice.reason}: set {char}"
    if worst >= CHAR_OOV:
        return f"that many unseen words all map to one unknown token: try {char}"
    if worst > OOV_WARNING and choice.single_token_share >= COMMON_SINGLE_TOKEN:
        share = choice.single_token_share
        return f"{share:.0%} of train texts are a single token with no spaces: try {char}"
    return None


def oov_warnings(oov: dict[str, float], suggestion: str | None) -> list[str]:
    """A warning for each valid/test split with many out-of-vocabulary tokens; the
    tokenizer suggestion goes on the worst one's (on its own line when none is warned)."""
    warned = {name: rate for name, rate in oov.items() if name != "train" and rate > OOV_WARNING}
    warnings = {
        name: f"{name}: {rate:.1%} of tokens are outside the vocabulary built from train"
        for name, rate in warned.items()
    }
    if suggestion is None:
        return list(warnings.values())
    if not warnings:
        return [suggestion]
    worst = max(warned, key=warned.__getitem__)
    warnings[worst] += f"; {suggestion}"
    return list(warnings.values())


def pretrained_coverage(config: Config, vocabulary: Any) -> float | None:
    """The share of the vocabulary the pretrained vectors cover (None without them)."""
    from seqcls.modeling.build import load_pretrained_vectors

    embedding = config.model.embedding
    if embedding.pretrained is None:
        return None
    initial = np.zeros((vocabulary.size, embedding.dim), dtype=np.float32)
    _, coverage = load_pretrained_vectors(
        embedding.pretrained, vocabulary.tokens, embedding.dim, initial
    )
    return coverage


def data_report(config: Config) -> dict[str, Any]:
    from seqcls import text
    from seqcls.data.loading import read_data
    from seqcls.tasks import class_weights, get_task
    from seqcls.training.runtime import cudnn_blockers

    data = read_data(config, stream=False)
    splits, task, vocabulary = data.splits, data.task, data.vocabulary
    named = [s for s in (splits.train, splits.valid, splits.test) if s is not None]
    warnings: list[str] = [f"{note}" for note in splits.notes if "left out" in note]

    counts = label_counts(splits.train.labels, config.task, config.data.label_delimiter)
    imbalance = max(counts.values()) / min(counts.values())
    if imbalance > IMBALANCE_WARNING:
        warnings.append(
            f"train labels are imbalanced: the most frequent has {imbalance:.1f}x the rows of the "
            "least; consider training.class_weight: balanced"
        )

    vectorizer = text.make_vectorizer(config.preprocessing, vocabulary.tokens, ragged=True)
    lengths, truncated, oov = {}, {}, {}
    for split in named:
        lengths[split.name], truncated[split.name], oov[split.name] = split_lengths(
            split, vectorizer, vocabulary.max_length
        )
    # A per-token task keeps every token at prediction time: nothing is cut.
    if get_task(task).inference_max_length(vocabulary.max_length) is not None:
        warnings += truncation_warnings(truncated, vocabulary.max_length)
    choice = choose_tokenizer(splits.train.texts)
    suggestion = tokenizer_suggestion(config, get_task(task).per_token, choice, oov)
    warnings += oov_warnings(oov, suggestion)

    repeated = duplicates(splits.train)
    if repeated["with_conflicting_labels"]:
        warnings.append(
            f"train: {repeated['with_conflicting_labels']} text(s) occur with different labels"
        )
    shared = {split.name: leaks(splits.train, split) for split in named if split.name != "train"}
    for name, count in shared.items():
        if count:
            warnings.append(
                f"{name}: {count} text(s) also occur in train (a leak that inflates {name} scores)"
            )

    coverage = pretrained_coverage(config, vocabulary)
    if coverage is not None and coverage < COVERAGE_WARNING:
        warnings.append(f"pretrained vectors cover only {coverage:.1%} of the vocabulary")

    weights = None
    if get_task(task).supports_class_weight:
        weights = class_weights(config.training.class_weight, splits.train, splits.labels)

    return {
        "ok": True,
        "task": task,
        "rows": {split.name: len(split) for split in named},
        "bad_rows": splits.bad_rows,
        "notes": splits.notes,
        "labels": dict(sorted(counts.items(), key=lambda item: (-item[1], item[0]))),
        "imbalance_ratio": imbalance,
        "class_weight": weights,
        "max_length": vocabulary.max_length,
        "max_length_source": vocabulary.max_length_source,
        "length_percentiles": lengths,
        "truncated_share": truncated,
        "vocabulary_size": vocabulary.size,
        "oov_rate": oov,
        # What `seqcls init` would choose for the train texts, and the figures.
        "tokenizer_choice": asdict(choice),
        "tokenizer_suggestion": suggestion,
        "duplicates": repeated,
        "shared_with_train": shared,
        "pretrained_coverage": coverage,
        # Settings that keep the recurrent layers off the fused cuDNN kernel on a GPU.
        "cudnn_blockers": cudnn_blockers(config),
        "warnings": warnings,
    }
