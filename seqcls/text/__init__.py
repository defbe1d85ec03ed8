"""Tokenization, the vocabulary, and the tf.data pipelines.

Tokenization is Keras' own TextVectorization, so the exact same code turns text into
ids at training time and inside the exported inference model: its built-in standardize
modes, or with split_punctuation seqcls's registered standardize functions (which
load_model imports, so the `.keras` file loads in safe mode).

Texts in memory and streamed files go one way: their counts (`TextCounts`: tokens,
the length histogram, rows, labels) make the vocabulary (`vocabulary_from_counts`);
a length histogram makes the length buckets and the batches per epoch
(`bucket_boundaries`, `steps_per_epoch`); `clip_ids` and `clipped_lengths` are the
one clipping rule, on ids and on a length histogram.

Modules: tokens (vectorizer, ids, clipping), lengths (histograms, buckets, steps),
vocabulary (counts and the vocabulary), batches (tf.data pipelines), tokenizer_choice
(word or char for a set of texts: `seqcls init`'s choice and `seqcls validate`'s advice,
plain Python), arrow_counts (the same counts from Arrow string arrays, for the streaming
scan). The names below are re-exported so `from seqcls import text` reads as
one API.
"""

from seqcls.text.batches import (
    batch_by_length,
    evaluation_dataset,
    training_dataset,
)
from seqcls.text.lengths import (
    NUM_BUCKETS,
    bucket_boundaries,
    clipped_lengths,
    histogram_percentile,
    histogram_quantile,
    length_histogram,
    length_percentiles,
    steps_per_epoch,
)
from seqcls.text.punctuation import KERAS_PUNCTUATION
from seqcls.text.tokens import (
    OOV_ID,
    PADDING_ID,
    RESERVED_TOKENS,
    clip_ids,
    display_tokens,
    encode,
    make_vectorizer,
    split_mode,
    standardize_mode,
    standardized_tokens,
)
from seqcls.text.vocabulary import (
    COUNT_CHUNK_ROWS,
    TextCounts,
    Vocabulary,
    build_vocabulary,
    vocabulary_from_counts,
)

__all__ = [
    "COUNT_CHUNK_ROWS",
    "KERAS_PUNCTUATION",
    "NUM_BUCKETS",
    "OOV_ID",
    "PADDING_ID",
    "RESERVED_TOKENS",
    "TextCounts",
    "Vocabulary",
    "batch_by_length",
    "bucket_boundaries",
    "build_vocabulary",
    "clip_ids",
    "clipped_lengths",
    "display_tokens",
    "encode",
    "evaluation_dataset",
    "histogram_percentile",
    "histogram_quantile",
    "length_histogram",
    "length_percentiles",
    "make_vectorizer",
    "split_mode",
    "standardize_mode",
    "standardized_tokens",
    "steps_per_epoch",
    "training_dataset",
    "vocabulary_from_counts",
]
