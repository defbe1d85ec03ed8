"""Training, stage 1: the data, ready for a model.

`data.loading.read_data(config)` reads the splits (in memory, or the streamed train
split's counts), resolves the task and builds the vocabulary (`seqcls validate` stops
there). `prepare(config)` goes on to what `fit` consumes: token ids and targets, the train and
valid datasets, the number of batches per epoch and the class weights, for in-memory
and streamed data alike (and, under multi_worker, this worker's shard of the rows).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from seqcls.config import Config
from seqcls.data.loading import Data, read_data

# Rows of each split a smoke run keeps: enough for every code path, seconds to train.
SMOKE_ROWS = 48


@dataclass
class Prepared(Data):
    """Everything `fit` needs from the data."""

    vectorizer: Any = None  # ragged TextVectorization with the vocabulary
    # Token ids (ragged, cut to max_length) and targets of the splits held in memory:
    # valid, and train unless it is streamed.
    ids: dict[str, Any] = field(default_factory=dict)
    targets: dict[str, Any] = field(default_factory=dict)
    train_data: Any = None  # tf.data batches of (ids, targets[, token weights])
    valid_data: Any = None
    steps: int = 0  # batches per epoch
    # training.steps_per_epoch: the train data repeats across epoch boundaries.
    continuous: bool = False
    class_weights: dict[str, float] | None = None
    notes: list[str] = field(default_factory=list)

    def keras_class_weight(self) -> dict[int, float] | None:
        """class_weights as Keras' fit takes them: label index -> weight."""
        if not self.class_weights:
            return None
        return {i: self.class_weights[label] for i, label in enumerate(self.labels)}


def prepare(config: Config, strategy: Any = None, limit: int | None = None) -> Prepared:
    """read_data, then the datasets `fit` trains and validates on."""
    import seqcls.text as text
    from seqcls.tasks import class_weights

    data = read_data(config, limit)
    vectorizer = text.make_vectorizer(config.preprocessing, data.vocabulary.tokens, ragged=True)
    # A streamed train split is read by its dataset, never held in memory.
    splits = data.splits
    in_memory = [splits.valid] if data.streamed is not None else [splits.train, splits.valid]
    ids = {
        split.name: text.encode(vectorizer, split.texts, data.vocabulary.max_length)
        for split in in_memory
    }
    task = data.kind
    targets = {
        split.name: task.training_targets(
            split,
            data.labels,
            config.data.label_delimiter,
            ids[split.name],
            data.vocabulary.max_length,
        )
        for split in in_memory
    }
    train_data, steps = _train_dataset(config, data, vectorizer, ids, targets, strategy)
    continuous = config.training.steps_per_epoch is not None
    if continuous:
        # Epochs of a fixed number of batches: the data repeats across epoch boundaries.
        train_data = train_data.repeat()
        steps = config.training.steps_per_epoch
    valid_data = text.evaluation_dataset(
        ids["valid"], targets["valid"], config.training.batch_size, task.per_token
    )
    weights = class_weights(config.training.class_weight, data.label_counts, data.labels)
    return Prepared(
        **vars(data),
        vectorizer=vectorizer,
        ids=ids,
        targets=targets,
        train_data=train_data,
        valid_data=valid_data,
        steps=steps,
        continuous=continuous,
        class_weights=weights,
        notes=list(splits.notes),
    )


def _train_dataset(
    config: Config, data: Data, vectorizer: Any, ids: dict, targets: dict, strategy: Any
) -> tuple[Any, int]:
    """The train batches of one epoch and how many there are: read from the files
    (streamed), this worker's shard (multi_worker), or every row."""
    import tensorflow as tf

    import seqcls.text as text
    from seqcls.training import distribute

    training = config.training
    per_token = data.kind.per_token
    if data.streamed is not None:
        dataset = data.streamed.dataset(config, vectorizer, data.task)
        return dataset, data.streamed.steps(training.batch_size, training.bucketing)
    lengths = ids["train"].row_lengths().numpy()
    if config.runtime.distribution != "multi_worker":
        dataset = text.training_dataset(
            ids["train"],
            targets["train"],
            training.batch_size,
            config.seed,
            per_token,
            bucketing=training.bucketing,
        )
        return dataset, text.steps_per_epoch(lengths, training.batch_size, training.bucketing)
    # This worker's shard of the rows, in batches of its share of the global batch;
    # every worker takes the same number of steps (collectives would hang otherwise).
    worker, workers = distribute.worker_position(config.runtime)
    local_batch = distribute.local_batch_size(training.batch_size, workers, strategy)
    rows = distribute.shard_rows(len(lengths), config.seed, worker, workers)
    dataset = text.training_dataset(
        tf.gather(ids["train"], rows),
        targets["train"][rows],
        local_batch,
        config.seed,
        per_token,
        bucketing=training.bucketing,
    )
    steps = distribute.common_steps(lengths, config.seed, workers, local_batch, training.bucketing)
    return dataset.take(steps), steps
