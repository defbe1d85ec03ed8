"""The tf.data pipelines: shuffled, length-bucketed training batches and deterministic
evaluation batches, padded on the right (per-token weights for tagging).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from seqcls.text.lengths import bucket_boundaries
from seqcls.text.tokens import PADDING_ID


def _padded_shapes(targets: Any) -> tuple:
    # Ragged targets (tagging) are padded per batch like the ids.
    # A list, not a tuple: tf.data reads a tuple as a nested structure.
    return ([None], [None] if _is_ragged(targets) else list(targets.shape[1:]))


def _is_ragged(values: Any) -> bool:
    import tensorflow as tf

    return isinstance(values, tf.RaggedTensor)


def _with_token_weights(dataset):
    """Add per-step sample weights: 1 on real tokens, 0 on padding (tagging's loss mask)."""
    import tensorflow as tf

    return dataset.map(lambda ids, targets: (ids, targets, tf.cast(ids != PADDING_ID, tf.float32)))


def training_dataset(
    ids, targets, batch_size: int, seed: int, per_token: bool = False, bucketing: bool = True
):
    """Shuffled batches padded on the right to each batch's longest text; with `bucketing`,
    batches are formed from texts of similar length (far less padding to compute)."""
    import tensorflow as tf

    lengths = ids.row_lengths().numpy()
    if not _is_ragged(targets):
        targets = tf.constant(targets)
    # Shuffle row indices, then look rows up: slicing a ragged tensor row gives
    # a dense 1-D tensor, which padded batching needs.
    dataset = tf.data.Dataset.range(len(lengths))
    dataset = dataset.shuffle(len(lengths), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.map(lambda row: (ids[row], targets[row]))
    boundaries = bucket_boundaries(lengths) if bucketing else None
    return batch_by_length(
        dataset, boundaries, batch_size, _padded_shapes(targets), seed, per_token
    )


def batch_by_length(
    dataset, boundaries, batch_size: int, padded_shapes, seed: int, per_token: bool = False
):
    """(ids, target) elements -> padded batches; with `boundaries`, of texts of similar
    length (one bucket per boundary interval), else in arrival order."""
    import tensorflow as tf

    if boundaries is not None:
        dataset = dataset.bucket_by_sequence_length(
            element_length_func=lambda sequence, _: tf.shape(sequence)[0],
            bucket_boundaries=boundaries,
            bucket_batch_sizes=[batch_size] * (len(boundaries) + 1),
            padded_shapes=padded_shapes,
        )
    else:
        dataset = dataset.padded_batch(batch_size, padded_shapes=padded_shapes)
    if per_token:
        dataset = _with_token_weights(dataset)
    # Buckets fill at different rates; shuffling batches keeps epochs from
    # sweeping short-to-long.
    dataset = dataset.shuffle(64, seed=seed, reshuffle_each_iteration=True)
    return dataset.prefetch(tf.data.AUTOTUNE)


def evaluation_dataset(ids, targets, batch_size: int, per_token: bool = False):
    """Deterministic batches of similar length (sorted), for validation during training."""
    import tensorflow as tf

    order = np.argsort(ids.row_lengths().numpy(), kind="stable")
    ids = tf.gather(ids, order)
    if _is_ragged(targets):
        sorted_targets = tf.gather(targets, order)
    else:
        sorted_targets = tf.constant(targets[order])
    dataset = tf.data.Dataset.range(len(order)).map(lambda row: (ids[row], sorted_targets[row]))
    dataset = dataset.padded_batch(batch_size, padded_shapes=_padded_shapes(targets))
    if per_token:
        dataset = _with_token_weights(dataset)
    return dataset.cache().prefetch(tf.data.AUTOTUNE)
