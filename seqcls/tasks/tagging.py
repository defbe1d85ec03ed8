"""Tagging: one tag per token. The encoder returns every step, a softmax per step
(TimeDistributed Dense) gives one tag distribution per token; padding carries zero
loss weight and is never scored. BIO tags are also scored as spans (conlleval's
lenient reading)."""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from seqcls.errors import UsageError
from seqcls.modeling.outputs import PROBABILITIES, TOKEN_IDS
from seqcls.tasks.base import Task, data_error
from seqcls.tasks.metrics import classification_metrics

BIO_TAG = re.compile(r"^(O|[BI]-.+)$")
PREDICTED_TAGS = "predicted_tags"
WHITESPACE_ADVICE = "(is there a no-break or other non-ASCII space?); normalise the whitespace"


class Tagging(Task):
    name = "tagging"
    one_label_per_cell = False
    abstains = False
    blends_linear = False
    per_token = True
    supports_class_weight = False
    supports_streaming = False
    supports_distribution = False

    def parse_labels(self, raw: str, delimiter: str = "|") -> list[str]:
        return raw.split()

    def row_problem(self, text: str, labels: list[str], shown: str, label_column: str):
        if len(labels) == len(text.split()):
            return None
        return (
            "tag count mismatch",
            f"{len(text.split())} tokens in '{shown}' but {len(labels)} tags in "
            f"'{label_column}'; tagging needs exactly one tag per whitespace-separated token",
        )

    def config_problems(self, config: Any) -> list[str]:
        needs = []
        if config.preprocessing.tokenizer != "word":
            needs.append("preprocessing.tokenizer must be word (tags belong to words)")
        if config.preprocessing.strip_punctuation:
            needs.append(
                "preprocessing.strip_punctuation must be false (stripping would delete "
                "punctuation tokens and shift every tag after them)"
            )
        if config.preprocessing.split_punctuation:
            needs.append(
                "preprocessing.split_punctuation must be false (splitting would add tokens "
                "and shift every tag after them)"
            )
        if config.model.attention.type != "none":
            needs.append(
                "model.attention.type must be none (tagging keeps one vector per token; "
                "there is nothing to pool)"
            )
        elif "pooling" in config.model.attention.model_fields_set:
            needs.append("model.attention.pooling does not apply to tagging; remove it")
        if config.model.attention.concat_pooling:
            needs.append("model.attention.concat_pooling does not apply to tagging; remove it")
        problems = super().config_problems(config)
        return [*problems, "task tagging needs: " + "; ".join(needs)] if needs else problems

    def compile_metrics(self) -> dict[str, Any]:
        # Padded steps carry zero sample weight, so the weighted accuracy is the
        # accuracy over real tokens.
        return {"weighted_metrics": ["accuracy"]}

    def inference_max_length(self, max_length: int) -> int | None:
        return None  # every token of a text gets a tag, however long the text

    def training_targets(
        self, split: Any, tags: list[str], delimiter: str, ids: Any, max_length: int
    ) -> Any:
        """Ragged tag ids, cut like the token ids; a row whose token count TensorFlow sees
        differently from the tag count is a data error naming the line."""
        import tensorflow as tf

        rows = [row[:max_length] for row in self.label_indices(split, tags, "|")]
        lengths = ids.row_lengths().numpy()
        for index, (row, length) in enumerate(zip(rows, lengths)):
            if len(row) != length:
                raise data_error(
                    split,
                    index,
                    f"TensorFlow splits the text into {length} tokens but there are "
                    f"{len(row)} tags {WHITESPACE_ADVICE}",
                )
        return tf.ragged.constant(rows, dtype=tf.int64)

    def evaluate(self, outputs, split, labels, delimiter, decisions=None) -> dict[str, Any]:
        true_rows = self.label_indices(split, labels, delimiter)
        predicted_rows = []
        for row, (probabilities, ids) in enumerate(zip(outputs[PROBABILITIES], outputs[TOKEN_IDS])):
            predicted = tags_from_outputs(probabilities, ids)
            if len(predicted) != len(true_rows[row]):
                raise data_error(
                    split,
                    row,
                    f"the model sees {len(predicted)} tokens but the row has "
                    f"{len(true_rows[row])} tags (whitespace TensorFlow does not split on, such "
                    "as a no-break space?); normalise the whitespace",
                )
            predicted_rows.append(predicted)
        return tagging_metrics(true_rows, predicted_rows, labels)

    def prediction_columns(self) -> list[str]:
        return [PREDICTED_TAGS]

    def check_prediction_options(self, top_k: int, threshold: float | None) -> None:
        if top_k:
            raise UsageError("--top-k applies to text-level tasks, not tagging")
        super().check_prediction_options(top_k, threshold)

    def calibration_rows(self, outputs, split, labels, delimiter):
        """Each real token's tag probabilities and its true tag: one temperature for all."""
        true_rows = self.label_indices(split, labels, delimiter)
        probabilities, true = [], []
        for row, (scores, ids) in enumerate(zip(outputs[PROBABILITIES], outputs[TOKEN_IDS])):
            real = min(int(np.count_nonzero(ids)), len(true_rows[row]))
            probabilities.append(np.asarray(scores, dtype=np.float64)[:real])
            true.extend(true_rows[row][:real])
        if not true:
            return None
        return np.concatenate(probabilities), np.asarray(true, dtype=np.int64)

    def calibrated(self, outputs, calibration):
        if not calibration or not len(outputs[PROBABILITIES]):
            return outputs
        from seqcls.tasks.calibration import scaled

        temperature = calibration["temperature"]
        scaled_rows = [scaled(np.asarray(row), temperature) for row in outputs[PROBABILITIES]]
        return {**outputs, PROBABILITIES: scaled_rows}

    def decide(self, outputs, labels, delimiter, decisions, top_k=0) -> list[dict[str, Any]]:
        """The most probable tag of every real token, space-separated."""
        return [
            {PREDICTED_TAGS: " ".join(labels[tag] for tag in tags_from_outputs(scores, ids))}
            for scores, ids in zip(outputs[PROBABILITIES], outputs[TOKEN_IDS])
        ]

    def mistakes_note(self) -> str | None:
        return "Tagging runs are judged per token; see the per-tag table and span F1."


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
