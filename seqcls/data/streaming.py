"""Training data larger than memory (`data.streaming: true`).

The training files (one file, or the shards a glob such as `data/part-*.csv` matches)
are never loaded whole:

1. One streaming pass (`scan`) reads every row with the same strict rules as the
   in-memory reader (bad rows, the on_bad_rows policy), counts labels and tokens
   (TextVectorization's standardize and split, applied to chunks of rows) and keeps a
   histogram of text lengths. With data.reader auto, CSV/TSV blocks and Parquet row
   groups are read through Arrow a batch at a time and counted with Arrow compute
   (seqcls.data.arrow_stream, seqcls.text.arrow_counts): the same rows, bad rows (file
   and line), counts and chunks as data.reader exact, which reads row by row with the
   csv module (`labelled_rows`) and counts with TensorFlow's string ops. Memory is
   bounded by the number of distinct tokens, and that is capped too: past
   SCAN_TOKEN_CAP distinct tokens the rarest are dropped (lossy counting), which can
   only affect tokens too rare to enter the vocabulary.
   These are the counts (text.TextCounts) the in-memory path builds from its texts, and
   the vocabulary, `max_length`, the length buckets and the batches per epoch follow
   from them by the same functions (seqcls.text), so they are what the whole data in
   memory would give.
2. Training reads the shards again through tf.data (through Arrow too, unless
   data.reader is exact, in the same order): shard order shuffled per epoch, rows
   interleaved across shards, a shuffle buffer (`data.shuffle_buffer` rows),
   tokenization in batches, then the same length bucketing as in memory.

Valid and test files are read whole (they are evaluated row by row anyway).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seqcls.data.arrow_stream import Rows, labelled_batches
from seqcls.data.bad_rows import MAX_LISTED_PROBLEMS, BadRows, Problem
from seqcls.data.paths import expand_paths, match_note
from seqcls.data.reading import stream_file
from seqcls.data.splits import (
    LabelledColumns,
    Splits,
    checked_labels,
    label_counts,
    read_enforced,
    with_known_labels,
)
from seqcls.errors import DataError
from seqcls.text import (
    COUNT_CHUNK_ROWS,
    TextCounts,
    batch_by_length,
    bucket_boundaries,
    clip_ids,
    clipped_lengths,
    steps_per_epoch,
    vocabulary_from_counts,
)
from seqcls.text.arrow_counts import ArrowCounting

SCAN_TOKEN_CAP = 2_000_000
TOKENIZE_BATCH = 512


def labelled_rows(paths: list[Path], data: Any, task: str) -> Iterator[tuple[str, str] | Problem]:
    """(text, label) for each usable row of the files, in order, read as they stream; a
    Problem for each bad one, as `labelled_split` finds them in a whole table."""
    columns = LabelledColumns.of(data, task)
    for path in paths:
        for item in stream_file(path, data, columns.needed()):
            yield item if isinstance(item, Problem) else columns.read(item[1], item[0])


class StreamedSplit:
    """The training split of a streamed run: how many rows it has, never the rows (they
    are read from the files by Streamed.dataset). Not a Split: it has no texts or labels
    to hand out, and asking for them is an error rather than an empty list."""

    def __init__(self, name: str, source: str, rows: int):
        self.name, self.source, self.rows = name, source, rows

    def __len__(self) -> int:
        return self.rows

    def _not_in_memory(self, what: str) -> TypeError:
        return TypeError(
            f"the streamed {self.name} split ({self.source}) is not held in memory and has "
            f"no .{what}: Streamed.dataset reads its rows, len() counts them, and "
            "Streamed.label_counts counts its labels"
        )

    @property
    def texts(self) -> list[str]:
        raise self._not_in_memory("texts")

    @property
    def labels(self) -> list[str]:
        raise self._not_in_memory("labels")


@dataclass
class Scan:
    """What one pass over the training files found."""

    paths: list[Path]
    counts: TextCounts
    problems: list[Problem] = field(default_factory=list)  # the first few
    problem_counts: Counter = field(default_factory=Counter)


def scan(paths: list[Path], data: Any, preprocessing: Any, task: str) -> Scan:
    """Count the rows of the files in chunks: tokens, lengths and labels (TextCounts, with
    its lossy-count cap), and the bad rows. data.reader exact reads them row by row and
    counts with TensorFlow; auto, through Arrow a batch at a time, to the same Scan."""
    result = Scan(paths, TextCounts(cap=SCAN_TOKEN_CAP))
    if data.reader == "exact":
        _scan_rows(result, data, preprocessing, task)
    else:
        _scan_batches(result, data, preprocessing, task)
    if not result.counts.rows and not result.problem_counts:
        raise DataError(f"{data.train}: no data rows (only a header or blank lines)")
    return result


def _note(result: Scan, problem: Problem) -> None:
    result.problem_counts[problem.reason] += 1
    if len(result.problems) < MAX_LISTED_PROBLEMS:
        result.problems.append(problem)


def _scan_rows(result: Scan, data: Any, preprocessing: Any, task: str) -> None:
    """The exact scan: rows one at a time, counted by TextCounts.add_texts in chunks."""
    texts: list[str] = []
    labels: list[str] = []

    def count() -> None:
        result.counts.add_texts(texts, preprocessing)
        result.counts.labels.update(label_counts(labels, task, data.label_delimiter))
        texts.clear()
        labels.clear()

    for item in labelled_rows(result.paths, data, task):
        if isinstance(item, Problem):
            _note(result, item)
            continue
        texts.append(item[0])
        labels.append(item[1])
        if len(texts) >= COUNT_CHUNK_ROWS:
            count()
    if texts:
        count()


def _scan_batches(result: Scan, data: Any, preprocessing: Any, task: str) -> None:
    """The Arrow scan: batches of rows (arrow_stream), counted by ArrowCounting as
    add_texts would count the same texts in chunks of COUNT_CHUNK_ROWS."""
    columns = LabelledColumns.of(data, task)
    with ArrowCounting(result.counts, preprocessing, COUNT_CHUNK_ROWS) as counting:
        for path in result.paths:
            for item in labelled_batches(path, data, columns):
                if isinstance(item, Problem):
                    _note(result, item)
                    continue
                counting.add(item.texts)
                result.counts.labels.update(item.label_counts(columns.kind, data.label_delimiter))
                result.problem_counts.update(item.unlisted)
        counting.finish()


@dataclass
class Streamed:
    """What training needs from streamed data."""

    splits: Splits
    scan: Scan
    vocabulary: Any
    label_counts: dict[str, int]

    def lengths(self) -> Counter:
        """The train length histogram as the model sees the texts (clipped)."""
        return clipped_lengths(self.scan.counts.lengths, self.vocabulary.max_length)

    def steps(self, batch_size: int, bucketing: bool) -> int:
        return steps_per_epoch(self.lengths(), batch_size, bucketing)

    def dataset(self, config: Any, vectorizer: Any, task: str):
        """Batches of (ids, targets), read from the files again every epoch."""
        import tensorflow as tf

        from seqcls.tasks import get_task

        data, labels = config.data, self.splits.labels
        index = {label: i for i, label in enumerate(labels)}
        max_length = self.vocabulary.max_length
        kind = get_task(task)
        target_spec = tf.TensorSpec(kind.target_shape(len(labels)), kind.target_dtype())

        def rows(path: bytes):
            for item in labelled_rows([Path(path.decode())], data, task):
                if not isinstance(item, Problem):  # the scan already applied the policy
                    yield item[0], kind.encode_target(item[1], index, data.label_delimiter)

        def batches(path: bytes):
            columns = LabelledColumns.of(data, task)
            for item in labelled_batches(Path(path.decode()), data, columns, problems=False):
                if isinstance(item, Rows) and len(item):
                    yield item.texts.to_pylist(), _targets(item, kind, index, data, target_spec)

        def read(path: Any) -> Any:
            if data.reader == "exact":
                return tf.data.Dataset.from_generator(
                    rows, args=(path,), output_signature=(tf.TensorSpec((), tf.string), target_spec)
                )
            # A batch of rows at a time, then row by row: the same rows in the same order.
            batched = (
                tf.TensorSpec((None,), tf.string),
                tf.TensorSpec((None, *target_spec.shape), target_spec.dtype),
            )
            return tf.data.Dataset.from_generator(
                batches, args=(path,), output_signature=batched
            ).unbatch()

        seed = config.seed
        files = tf.data.Dataset.from_tensor_slices([str(path) for path in self.scan.paths])
        files = files.shuffle(len(self.scan.paths), seed=seed, reshuffle_each_iteration=True)
        dataset = files.interleave(read, cycle_length=min(4, len(self.scan.paths)), block_length=16)
        dataset = dataset.shuffle(data.shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
        dataset = (
            dataset.batch(TOKENIZE_BATCH)
            .map(lambda texts, targets: (clip_ids(vectorizer(texts), max_length), targets))
            .unbatch()
            # A row of a ragged batch is a dense tensor; padded batching needs it typed so.
            .map(lambda ids, targets: (tf.convert_to_tensor(ids), targets))
        )
        bucketing = config.training.bucketing
        return batch_by_length(
            dataset,
            bucket_boundaries(self.lengths()) if bucketing else None,
            config.training.batch_size,
            ([None], list(target_spec.shape)),
            seed,
        )


def _targets(rows: Rows, kind: Any, index: dict[str, int], data: Any, spec: Any) -> Any:
    """The targets of a batch's rows: each distinct label encoded once."""
    import numpy as np

    distinct = np.zeros((len(rows.labels), *spec.shape), dtype=spec.dtype.as_numpy_dtype)
    for at in np.unique(rows.index).tolist():
        distinct[at] = kind.encode_target(rows.labels[at], index, data.label_delimiter)
    return distinct[rows.index]


def prepare(config: Any, parse_task: str) -> Streamed:
    """Scan the training files, read valid/test, and enforce the bad-row policy.
    `parse_task`: the config's task setting, which says how label cells read."""
    data = config.data
    paths = expand_paths(data.train, "data.train")
    result = scan(paths, data, config.preprocessing, parse_task)
    counts = result.counts
    shards = f" in {len(paths)} files" if len(paths) > 1 else ""
    notes = [f"train: {counts.rows:,} rows streamed{shards} (data.streaming)"]
    matched = match_note("data.train", data.train, paths)
    if matched:
        notes.append(matched)
    bad_rows = BadRows(data.on_bad_rows, notes)
    bad_rows.enforce("train", str(data.train), result.problems, dict(result.problem_counts))
    labels = checked_labels(counts.labels, data.train)
    valid = read_enforced("valid", data.valid, data, parse_task, bad_rows)
    test = None
    if data.test is not None:
        test = read_enforced("test", data.test, data, parse_task, bad_rows)
    train = StreamedSplit("train", str(data.train), counts.rows)
    splits = with_known_labels(train, valid, test, labels, data, parse_task, bad_rows)
    if counts.pruned_at:
        splits.notes.append(
            f"train: over {SCAN_TOKEN_CAP:,} distinct tokens; counts of tokens seen at most "
            f"{counts.pruned_at} time(s) were dropped while scanning"
        )
    vocabulary = vocabulary_from_counts(counts, config.preprocessing)
    # Multilabel counts are per label occurrence; class weights apply to single labels only.
    return Streamed(splits, result, vocabulary, dict(counts.labels))
