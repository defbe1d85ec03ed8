"""What differs between tasks: targets, output layer, loss, decisions and metrics.

- multiclass: one label per text; softmax over labels.
- binary: two labels; one sigmoid unit, the probability of the second (sorted) label.
- multilabel: any number of labels per text; one sigmoid per label, and a decision
  threshold per label tuned on the validation set to maximise that label's F1.
- tagging: one tag per token; `return_sequences=True` and a softmax per step
  (TimeDistributed Dense); padding carries zero loss weight and is never scored.

Pure NumPy here; the Keras side lives in model.py and train.py.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from seqcls.data import Split, parse_labels
from seqcls.errors import DataError
from seqcls.evaluate import classification_metrics, per_class_report, precision_recall_f1

DEFAULT_THRESHOLD = 0.5
BIO_TAG = re.compile(r"^(O|[BI]-.+)$")


def resolve_task(task: str, labels: list[str], train_source: Any) -> str:
    if task == "auto":
        return "binary" if len(labels) == 2 else "multiclass"
    if task == "binary" and len(labels) != 2:
        raise DataError(
            f"{train_source}: task is binary but train has {len(labels)} labels "
            f"({labels[:10]}); set task: multiclass"
        )
    return task


def output_units(task: str, num_labels: int) -> int:
    return 1 if task == "binary" else num_labels


def output_activation(task: str) -> str:
    return "sigmoid" if task in ("binary", "multilabel") else "softmax"


def loss_name(task: str) -> str:
    if task in ("binary", "multilabel"):
        return "binary_crossentropy"
    return "sparse_categorical_crossentropy"


def label_indices(split: Split, labels: list[str], task: str, delimiter: str) -> list[list[int]]:
    index = {label: i for i, label in enumerate(labels)}
    return [[index[label] for label in parse_labels(raw, task, delimiter)] for raw in split.labels]


def dense_targets(split: Split, labels: list[str], task: str, delimiter: str) -> np.ndarray:
    """Targets for the text-level tasks (tagging's are ragged; see train.py)."""
    indices = label_indices(split, labels, task, delimiter)
    if task == "multilabel":
        targets = np.zeros((len(split), len(labels)), dtype=np.float32)
        for row, columns in enumerate(indices):
            targets[row, columns] = 1.0
        return targets
    values = np.array([row[0] for row in indices], dtype=np.int64)
    # Binary: one sigmoid unit, so the target is a (rows, 1) float.
    return values.astype(np.float32).reshape(-1, 1) if task == "binary" else values


def label_probabilities(values: Any) -> np.ndarray:
    """(rows, num_labels) from a text-level probabilities output; binary's one sigmoid unit
    (the probability of the second label) becomes two columns."""
    probabilities = np.asarray(values, dtype=np.float64)
    if probabilities.ndim == 2 and probabilities.shape[1] == 1:
        probabilities = np.concatenate([1.0 - probabilities, probabilities], axis=1)
    return probabilities


def class_weights(
    setting: Any, split: Split | dict[str, int], labels: list[str]
) -> dict[str, float] | None:
    """Effective loss weight per label, or None when every label weighs 1.

    balanced: n / (number of labels * count of the label in train), so each label
    contributes equally to the loss in total. `split` is the train split, or its label
    counts (a streamed train split is never in memory).
    """
    if setting == "none":
        return None
    if setting == "balanced":
        counts = {label: 0 for label in labels}
        if isinstance(split, Split):
            for label in split.labels:
                counts[label.strip()] += 1
        else:
            counts.update({label: int(count) for label, count in split.items()})
        total = sum(counts.values())
        return {
            label: total / (len(labels) * count) if count else 1.0
            for label, count in counts.items()
        }
    unknown = sorted(set(setting) - set(labels))
    if unknown:
        from seqcls.errors import ConfigError

        raise ConfigError(
            f"training.class_weight names label(s) {unknown} that train does not have; "
            f"labels are {labels[:20]}"
        )
    return {label: float(setting.get(label, 1.0)) for label in labels}


# ---------------------------------------------------------------- multilabel


def tune_thresholds(probabilities: np.ndarray, truth: np.ndarray) -> list[float]:
    """Per label, the threshold that maximises F1 on (validation) data.

    Candidates are the midpoints between consecutive distinct predicted
    probabilities; a label with no positive example keeps 0.5.
    """
    thresholds = []
    for column in range(truth.shape[1]):
        scores, positives = probabilities[:, column], truth[:, column] > 0
        if not positives.any():
            thresholds.append(DEFAULT_THRESHOLD)
            continue
        distinct = np.unique(scores)
        candidates = np.concatenate([[distinct[0] / 2], (distinct[:-1] + distinct[1:]) / 2])
        best_f1, best = -1.0, DEFAULT_THRESHOLD
        for threshold in candidates:
            predicted = scores >= threshold
            true_positive = np.sum(predicted & positives)
            f1 = 2 * true_positive / max(predicted.sum() + positives.sum(), 1)
            if f1 > best_f1:
                best_f1, best = f1, float(threshold)
        thresholds.append(best)
    return thresholds


def multilabel_metrics(
    truth: np.ndarray, predicted: np.ndarray, labels: list[str]
) -> dict[str, Any]:
    truth, predicted = truth.astype(bool), predicted.astype(bool)
    true_positive = (truth & predicted).sum(axis=0).astype(float)
    predicted_count = predicted.sum(axis=0).astype(float)
    support = truth.sum(axis=0).astype(float)
    precision, recall, f1 = precision_recall_f1(true_positive, predicted_count, support)
    present = (support > 0) | (predicted_count > 0)
    micro_denominator = predicted_count.sum() + support.sum()
    return {
        "rows": int(len(truth)),
        # Exact match: every label of the row right (scikit-learn's subset accuracy).
        "accuracy": float(np.mean(np.all(truth == predicted, axis=1))) if len(truth) else 0.0,
        "hamming_loss": float(np.mean(truth != predicted)) if truth.size else 0.0,
        "micro_f1": float(2 * true_positive.sum() / micro_denominator)
        if micro_denominator
        else 0.0,
        "macro_f1": float(f1[present].mean()) if present.any() else 0.0,
        "weighted_f1": float((f1 * support).sum() / max(support.sum(), 1.0)),
        "per_class": per_class_report(labels, precision, recall, f1, support),
        "labels": list(labels),
    }


# ------------------------------------------------------------------- tagging


def is_bio(tags: list[str]) -> bool:
    return bool(tags) and all(BIO_TAG.match(tag) for tag in tags) and any(t != "O" for t in tags)


def bio_spans(tags: list[str]) -> set[tuple[str, int, int]]:
    """(type, start, end) spans; an I- tag that does not continue a span of its type starts one
    (the lenient reading conlleval uses)."""
    spans, start, kind = set(), None, None
    for position, tag in enumerate([*tags, "O"]):
        prefix, _, name = tag.partition("-")
        continues = prefix == "I" and kind == name and start is not None
        if start is not None and not continues:
            spans.add((kind, start, position))
            start, kind = None, None
        if prefix in ("B", "I") and not continues:
            start, kind = position, name
    return spans


def tagging_metrics(
    true_rows: list[list[int]], predicted_rows: list[list[int]], tags: list[str]
) -> dict[str, Any]:
    """Token accuracy and per-tag precision/recall/F1 over real tokens; span F1 for BIO tags."""
    true = np.array([t for row in true_rows for t in row], dtype=np.int64)
    predicted = np.array([p for row in predicted_rows for p in row], dtype=np.int64)
    metrics = classification_metrics(true, predicted, tags)
    metrics["tokens"] = metrics.pop("rows")
    metrics["rows"] = len(true_rows)
    if is_bio(tags):
        gold_total = predicted_total = correct = 0
        for true_row, predicted_row in zip(true_rows, predicted_rows):
            gold = bio_spans([tags[i] for i in true_row])
            guess = bio_spans([tags[i] for i in predicted_row])
            gold_total, predicted_total = gold_total + len(gold), predicted_total + len(guess)
            correct += len(gold & guess)
        precision = correct / predicted_total if predicted_total else 0.0
        recall = correct / gold_total if gold_total else 0.0
        metrics["span_precision"] = precision
        metrics["span_recall"] = recall
        metrics["span_f1"] = (
            2 * precision * recall / (precision + recall) if precision + recall else 0.0
        )
    return metrics


def tags_from_outputs(probabilities: np.ndarray, token_ids: np.ndarray) -> list[int]:
    """Most probable tag of each real token (id != 0) of one text."""
    real = int(np.count_nonzero(token_ids))
    return [int(i) for i in np.asarray(probabilities)[:real].argmax(axis=-1)]


# ------------------------------------------------------------------ together


def evaluate_outputs(
    task: str,
    outputs: dict[str, list],
    split: Split,
    labels: list[str],
    delimiter: str,
    thresholds: list[float] | None = None,
) -> dict[str, Any]:
    """Metrics of the inference model's outputs for `split` (in the split's order)."""
    from seqcls.model import PROBABILITIES, TOKEN_IDS

    if task == "tagging":
        true_rows = label_indices(split, labels, task, delimiter)
        predicted_rows = []
        for row, (probabilities, ids) in enumerate(zip(outputs[PROBABILITIES], outputs[TOKEN_IDS])):
            predicted = tags_from_outputs(probabilities, ids)
            if len(predicted) != len(true_rows[row]):
                where = f"{split.source}, line {split.lines[row]}" if split.lines else split.source
                raise DataError(
                    f"{where}: the model sees {len(predicted)} tokens but the row has "
                    f"{len(true_rows[row])} tags (whitespace TensorFlow does not split on, such "
                    "as a no-break space?); normalise the whitespace"
                )
            predicted_rows.append(predicted)
        return tagging_metrics(true_rows, predicted_rows, labels)
    probabilities = label_probabilities(outputs[PROBABILITIES])
    if task == "multilabel":
        truth = dense_targets(split, labels, task, delimiter)
        cut = np.asarray(
            thresholds if thresholds is not None else [DEFAULT_THRESHOLD] * len(labels)
        )
        metrics = multilabel_metrics(truth, probabilities >= cut, labels)
        metrics["thresholds"] = dict(zip(labels, map(float, cut)))
        return metrics
    true = np.array([row[0] for row in label_indices(split, labels, task, delimiter)])
    return classification_metrics(true, probabilities.argmax(axis=1), labels)
