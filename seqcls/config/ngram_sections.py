"""The model's n-gram options: subword n-grams in the embedding, and the linear n-gram
branch blended with the network."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, model_validator

from seqcls.config.fields import SIZE, Count, Section

NgramLength = Count(20, "n-grams of more characters are rarer than the words they come from")
Buckets = Count(10_000_000, SIZE)


class SubwordConfig(Section):
    """fastText-style subword features: each vocabulary token's character n-grams (of the
    token wrapped in < and >) are hashed into `buckets` vectors, which are added to the
    token's own vector (`sum`) or averaged with it (`mean`). Rare words, typos and word
    forms then share statistics. A token outside the vocabulary keeps the unknown-token
    vector only."""

    min_n: NgramLength = 3
    max_n: NgramLength = 5
    buckets: Buckets = 20000
    combine: Literal["sum", "mean"] = "mean"

    @model_validator(mode="after")
    def _range(self) -> SubwordConfig:
        if self.min_n > self.max_n:
            raise ValueError(
                f"min_n ({self.min_n}) is larger than max_n ({self.max_n}); "
                "set model.embedding.subwords.min_n <= max_n"
            )
        return self


def _weight_value(value: object) -> object:
    if isinstance(value, str) and value != "auto":
        raise ValueError(
            f"got {value!r}; set model.linear.weight to auto (chosen on valid) or a number "
            "from 0 (the linear model alone) to 1 (the network alone)"
        )
    return value


def linear_setting(value: object) -> object:
    """model.linear: a mapping (`{}` for the defaults) or null; true/false say how."""
    if isinstance(value, bool):
        raise ValueError(
            f"got {value}; write `linear: {{}}` for the defaults (or set its keys, e.g. "
            "`linear: {ngrams: 2}`), or `linear: null` for no linear branch"
        )
    return value


class LinearConfig(Section):
    """A linear model on TF-IDF n-grams of the model's own tokens (token ids 1..n in a
    row: words for the word tokenizer, characters for char), fitted once the network is
    trained: a linear SVM (scikit-learn's LinearSVC) on the train split, its scores made
    probabilities by a temperature fitted on valid, then blended with the network's
    probabilities, with the weight that scores best on valid (averaged with its
    neighbours). With word tokens, the tokens' character n-grams are features too. The
    branch is part of the saved model (model.keras, SavedModel and ONNX exports): predict, eval and serve use
    the blend. n-grams longer than one token are hashed into `buckets` rows; only those
    seen in training keep weights."""

    ngrams: Count(5, "longer n-grams are rarer than the shorter ones they contain") = 2
    # Word tokens: each token's character n-grams of these lengths (of "<token>", hashed
    # as model.embedding.subwords hashes them) are features too; null: none. Ignored
    # with char tokens, whose `ngrams` already are character n-grams.
    char_ngrams: Annotated[list[NgramLength], Field(min_length=2, max_length=2)] | None = Field(
        default_factory=lambda: [3, 5]
    )
    buckets: Buckets = 262_144
    # The SVM's regularisation: larger fits the training data more closely.
    c: float = Field(default=1.0, gt=0.0, le=1000.0)
    # The network's weight in the blend: `auto` picks the best of 0, 0.05, ... 1 on valid.
    weight: Annotated[Literal["auto"] | float, BeforeValidator(_weight_value)] = "auto"

    @model_validator(mode="after")
    def _weight(self) -> LinearConfig:
        if self.char_ngrams is not None and self.char_ngrams[0] > self.char_ngrams[1]:
            raise ValueError(
                f"char_ngrams is {self.char_ngrams}; set model.linear.char_ngrams to "
                "[shortest, longest], e.g. [3, 5], or null"
            )
        if not isinstance(self.weight, str) and not 0.0 <= self.weight <= 1.0:
            raise ValueError(
                f"weight is {self.weight}; set model.linear.weight to auto or a number "
                "from 0 (the linear model alone) to 1 (the network alone)"
            )
        return self
