"""The data a config names, read once for training and for `seqcls validate`: the splits
(in memory, or the streamed train split's counts), the resolved task and the vocabulary
built from train."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from seqcls.config import Config
from seqcls.data.splits import Split, Splits, load_splits
from seqcls.tasks import Task, get_task


@dataclass
class Data:
    """The splits as read, the resolved task, and the vocabulary built from train."""

    config: Config
    task: str
    splits: Splits
    vocabulary: Any  # text.Vocabulary
    # Streamed train data (data.streaming): its scan and how to read it again.
    streamed: Any = None

    @property
    def kind(self) -> Task:
        """The task object (`task` is its name, as the run's files keep it)."""
        return get_task(self.task)

    @property
    def labels(self) -> list[str]:
        return self.splits.labels

    @property
    def label_counts(self) -> Split | dict[str, int]:
        """What class weights are computed from: the train split, or its label counts."""
        return self.streamed.label_counts if self.streamed is not None else self.splits.train


def read_data(config: Config, limit: int | None = None, stream: bool | None = None) -> Data:
    """Read the data `config` names (each split cut to `limit` rows when given: a smoke
    run) and build the vocabulary from train. Train is streamed (counted, not held) as
    data.streaming says, unless `stream` says otherwise (validate reads it whole)."""
    import seqcls.tasks as tasks
    import seqcls.text as text

    stream = config.data.streaming if stream is None else stream
    if stream and limit is None:
        from seqcls.data import streaming

        # Larger than memory: one pass counts labels and tokens; training reads the files.
        streamed = streaming.prepare(config, config.task)
        splits, vocabulary = streamed.splits, streamed.vocabulary
    else:
        streamed = None
        splits = load_splits(config.data, config.seed, limit, config.task)
        vocabulary = text.build_vocabulary(splits.train.texts, config.preprocessing)
    task = tasks.resolve_task(config.task, splits.labels, config.data.train)
    unknown = config.abstention.unknown_label
    if get_task(task).abstains and unknown in splits.labels:
        from seqcls.errors import ConfigError

        raise ConfigError(
            f"abstention.unknown_label {unknown!r} is one of the labels of {config.data.train}: "
            "predict --abstain could not tell an abstention from that label; set "
            "abstention.unknown_label to a name no row has"
        )
    return Data(config, task, splits, vocabulary, streamed)
