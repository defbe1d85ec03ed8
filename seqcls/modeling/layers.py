"""Custom Keras layers: explicit padding masks, masked pooling and additive attention.

Every layer is backend-neutral (keras.ops only), serializable (`get_config`,
registered under the package name "seqcls") so `.keras` files load with
safe_mode=True, and takes its mask as an explicit argument: Keras does not
reliably propagate masks through RNN wrappers, so we never rely on it.

Padding convention: token id 0 is padding and padding is on the right.
"""

from __future__ import annotations

import keras
from keras import ops

PACKAGE = "seqcls"


@keras.saving.register_keras_serializable(package=PACKAGE)
class SequenceClip(keras.layers.Layer):
    """Cut token ids to `max_length` steps and give every row at least one real step.

    (batch, time) -> (batch, min(time, max_length) + 1). A row with no tokens at
    all (an empty or all-punctuation text) gets the out-of-vocabulary id 1 at
    step 0, so recurrent kernels never see a fully masked row (cuDNN rejects
    zero-length sequences). One trailing padding column is appended so that a
    batch of empty strings still has one step; it is masked like any padding.
    """

    def __init__(self, max_length: int | None, oov_id: int = 1, **kwargs):
        super().__init__(**kwargs)
        # None: keep every step (only the empty-row guarantee applies).
        self.max_length = None if max_length is None else int(max_length)
        self.oov_id = int(oov_id)

    def call(self, ids):
        if self.max_length is not None:
            ids = ids[:, : self.max_length]
        ids = ops.pad(ids, [[0, 0], [0, 1]])
        empty = ops.all(ops.equal(ids, 0), axis=1, keepdims=True)
        first = ops.where(empty, ops.cast(self.oov_id, ids.dtype), ids[:, :1])
        return ops.concatenate([first, ids[:, 1:]], axis=1)

    def compute_output_shape(self, input_shape):
        time = input_shape[1]
        if time is not None and self.max_length is not None:
            time = min(time, self.max_length)
        return (input_shape[0], None if time is None else time + 1)

    def get_config(self):
        return {**super().get_config(), "max_length": self.max_length, "oov_id": self.oov_id}


@keras.saving.register_keras_serializable(package=PACKAGE)
class PaddingMask(keras.layers.Layer):
    """(batch, time) token ids -> (batch, time) boolean mask, True on real tokens (id != 0)."""

    def call(self, ids):
        return ops.not_equal(ids, 0)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)


@keras.saving.register_keras_serializable(package=PACKAGE)
class MaskedPooling(keras.layers.Layer):
    """Pool (batch, time, features) over real steps only: `mean` or `max`.

    Padded steps never contribute. A row with no real step pools to zeros.
    """

    def __init__(self, mode: str = "mean", **kwargs):
        super().__init__(**kwargs)
        # The mask is consumed here (explicitly); nothing downstream is a sequence.
        self.supports_masking = True
        if mode not in ("mean", "max"):
            raise ValueError(f"MaskedPooling mode must be 'mean' or 'max', got {mode!r}")
        self.mode = mode

    def call(self, sequence, mask):
        weights = ops.expand_dims(ops.cast(mask, sequence.dtype), -1)  # (batch, time, 1)
        if self.mode == "mean":
            total = ops.sum(sequence * weights, axis=1)  # (batch, features)
            count = ops.maximum(ops.sum(weights, axis=1), 1.0)  # (batch, 1)
            return total / count
        lowest = ops.convert_to_tensor(-1e9, dtype=sequence.dtype)
        pooled = ops.max(ops.where(weights > 0, sequence, lowest), axis=1)
        has_tokens = ops.sum(weights, axis=1) > 0  # (batch, 1)
        return ops.where(has_tokens, pooled, ops.zeros_like(pooled))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])

    def compute_mask(self, inputs, mask=None):
        return None

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


@keras.saving.register_keras_serializable(package=PACKAGE)
class AdditiveAttention(keras.layers.Layer):
    """Attention pooling of Zhou et al. (2016), "Attention-Based Bidirectional LSTM
    Networks for Relation Classification":

        M = tanh(H);  scores = w^T M;  alpha = softmax(scores) over time;
        r = H alpha;  h* = tanh(r)

    Inputs: H (batch, time, features) and the boolean mask (batch, time).
    Returns (h*, alpha): (batch, features) and (batch, time).

    Masking happens on the scores, before the softmax, so padded steps get a
    weight of exactly 0 and each row's weights sum to 1 over its real tokens
    (a row with no real token gets all-zero weights and h* = 0).
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        # The mask is consumed here (explicitly); the outputs carry none.
        self.supports_masking = True

    def compute_mask(self, inputs, mask=None):
        return None

    def build(self, input_shape):
        features = input_shape[-1]
        # w: one score weight per feature of H.
        self.score_weights = self.add_weight(
            name="score_weights", shape=(features,), initializer="glorot_uniform"
        )

    def call(self, sequence, mask):
        scores = ops.tensordot(ops.tanh(sequence), self.score_weights, axes=1)  # (batch, time)
        real = ops.cast(mask, scores.dtype)
        lowest = ops.convert_to_tensor(-1e9, dtype=scores.dtype)
        scores = ops.where(mask, scores, lowest)
        # Multiplying by the mask makes padded weights exactly 0 even when a row
        # has no real token (softmax would spread uniformly over the -1e9s).
        weights = ops.softmax(scores, axis=-1) * real  # (batch, time)
        pooled = ops.sum(sequence * ops.expand_dims(weights, -1), axis=1)  # (batch, features)
        return ops.tanh(pooled), weights

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2]), (input_shape[0], input_shape[1])


@keras.saving.register_keras_serializable(package=PACKAGE)
class MaskedSelfAttention(keras.layers.Layer):
    """Multi-head self-attention over (batch, time, features) with padding masked out,
    then a residual connection and layer normalisation: LayerNorm(H + MHA(H, H)).

    The attention mask (batch, time, time) lets every real step attend to real
    steps only. Padded steps still produce (meaningless) outputs, so follow this
    layer with a masked pooling. Output shape equals input shape.

    With `return_token_weights`, it also returns one weight per token (batch, time):
    the attention each token receives, averaged over heads and over the real query
    steps. Each row sums to 1 over real tokens; padding gets exactly 0. It is a
    readable summary for explanations, not what the pooling uses.
    """

    def __init__(self, num_heads: int, key_dim: int, return_token_weights: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.num_heads = int(num_heads)
        self.key_dim = int(key_dim)
        self.return_token_weights = bool(return_token_weights)
        self.supports_masking = True
        self.attention = keras.layers.MultiHeadAttention(
            num_heads=self.num_heads, key_dim=self.key_dim, name="multi_head_attention"
        )
        self.norm = keras.layers.LayerNormalization(name="layer_norm")

    def build(self, input_shape):
        self.attention.build(input_shape, input_shape)
        self.norm.build(input_shape)

    def call(self, sequence, mask):
        # (batch, 1, time) & (batch, time, 1) -> (batch, time, time): real query, real key.
        pairs = ops.logical_and(ops.expand_dims(mask, 1), ops.expand_dims(mask, 2))
        if not self.return_token_weights:
            attended = self.attention(sequence, sequence, attention_mask=pairs)
            return self.norm(sequence + attended)
        attended, scores = self.attention(
            sequence, sequence, attention_mask=pairs, return_attention_scores=True
        )  # scores: (batch, heads, query, key)
        per_query = ops.mean(ops.cast(scores, "float32"), axis=1)  # (batch, query, key)
        real = ops.cast(mask, "float32")  # (batch, time)
        received = ops.sum(per_query * ops.expand_dims(real, -1), axis=1)  # (batch, key)
        queries = ops.maximum(ops.sum(real, axis=1, keepdims=True), 1.0)
        weights = received / queries * real  # padding: exactly 0
        return self.norm(sequence + attended), weights

    def compute_output_shape(self, input_shape):
        if self.return_token_weights:
            return tuple(input_shape), (input_shape[0], input_shape[1])
        return tuple(input_shape)

    def compute_mask(self, inputs, mask=None):
        return None if not self.return_token_weights else [None, None]

    def get_config(self):
        return {
            **super().get_config(),
            "num_heads": self.num_heads,
            "key_dim": self.key_dim,
            "return_token_weights": self.return_token_weights,
        }


@keras.saving.register_keras_serializable(package=PACKAGE)
class Bidirectional(keras.layers.Bidirectional):
    """Keras' Bidirectional wrapper with symbolic output shapes that respect a backward
    layer of a different width.

    Keras 3.15.1 derives the output shape from the forward layer alone (concat:
    twice its width; none: two copies of its shape), while the tensors it computes
    follow each layer's own width: LSTM(5) forward + GRU(3) backward is declared
    (batch, time, 10) but is (batch, time, 8). Layers built on the declared shape
    then fail at run time. Behaviour is otherwise exactly Keras'.
    """

    def compute_output_shape(self, sequences_shape, initial_state_shape=None):
        if self.return_state:
            return super().compute_output_shape(sequences_shape, initial_state_shape)
        forward = tuple(self.forward_layer.compute_output_shape(sequences_shape))
        backward = tuple(self.backward_layer.compute_output_shape(sequences_shape))
        if self.merge_mode == "concat":
            return forward[:-1] + (forward[-1] + backward[-1],)
        if self.merge_mode is None:
            return [forward, backward]
        return forward


@keras.saving.register_keras_serializable(package=PACKAGE)
class TimeDistributed(keras.layers.TimeDistributed):
    """Keras' TimeDistributed, correct when the number of time steps is unknown when traced.

    Keras 3.15.1 counts the steps of a dynamic time axis with the batch size
    (`ops.shape` is taken before the batch and time axes are swapped): inside a
    compiled function a (2, 5, features) batch comes out as (2, 2, k), silently
    dropping steps, and a batch larger than its length fails with "slice index
    out of bounds". Length-bucketed batches always have a dynamic time axis.
    """

    def call(self, inputs, training=None, mask=None):
        if inputs.shape[1] is not None:
            return super().call(inputs, training=training, mask=mask)
        steps_first = ops.swapaxes(inputs, 0, 1)  # (time, batch, ...)
        mask_steps_first = None if mask is None else ops.swapaxes(mask, 0, 1)

        def step(index):
            kwargs = {}
            if self.layer._call_has_mask_arg and mask_steps_first is not None:
                kwargs["mask"] = mask_steps_first[index]
            if self.layer._call_has_training_arg:
                kwargs["training"] = training
            return self.layer.call(steps_first[index], **kwargs)

        outputs = ops.vectorized_map(step, ops.arange(ops.shape(steps_first)[0]))
        return ops.swapaxes(outputs, 0, 1)  # (batch, time, ...)


@keras.saving.register_keras_serializable(package=PACKAGE)
class SubwordEmbedding(keras.layers.Layer):
    """Adds hashed character n-gram vectors to token vectors (fastText's subwords).

    Inputs: the token vectors (batch, time, dim) and the token ids (batch, time).
    `table` (vocab_size, width) lists each id's n-gram rows (1..buckets, 0: none; see
    modeling/subwords.py); it is a non-trainable weight, saved with the model. Output
    (batch, time, dim): the token vector plus the sum of its n-gram vectors (`sum`), or
    the average of the token vector and its n-gram vectors (`mean`). Ids without n-grams
    (padding, the unknown token) keep their token vector.
    """

    def __init__(self, vocab_size, width, buckets, combine="mean", table=None, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size, self.width, self.buckets = int(vocab_size), int(width), int(buckets)
        self.combine = combine
        self._initial_table = table  # set when building for training; loading restores it

    def build(self, vectors_shape, ids_shape=None):
        self.table = self.add_weight(
            name="ngram_table",
            shape=(self.vocab_size, self.width),
            dtype="int32",
            initializer="zeros",
            trainable=False,
        )
        if self._initial_table is not None:
            self.table.assign(self._initial_table)
        self.ngram_vectors = self.add_weight(
            name="ngram_vectors",
            shape=(self.buckets + 1, vectors_shape[-1]),
            initializer=keras.initializers.RandomUniform(-0.05, 0.05),
        )

    def call(self, vectors, ids):
        rows = ops.take(self.table, ops.cast(ids, "int32"), axis=0)  # (batch, time, width)
        present = ops.expand_dims(ops.cast(rows > 0, vectors.dtype), -1)
        ngrams = ops.take(self.ngram_vectors, rows, axis=0)  # (batch, time, width, dim)
        total = vectors + ops.sum(ops.cast(ngrams, vectors.dtype) * present, axis=2)
        if self.combine == "sum":
            return total
        return total / (1.0 + ops.sum(present, axis=2))

    def compute_output_shape(self, vectors_shape, ids_shape=None):
        return vectors_shape

    def get_config(self):
        return {
            **super().get_config(),
            "vocab_size": self.vocab_size,
            "width": self.width,
            "buckets": self.buckets,
            "combine": self.combine,
        }
