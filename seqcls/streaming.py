"""Training data larger than memory (`data.streaming: true`).

The training files (one file, or the shards a glob such as `data/part-*.csv` matches)
are never loaded whole:

1. One streaming pass (`scan`) reads every row with the same strict rules as the
   in-memory reader (bad rows, the on_bad_rows policy), counts labels and tokens
   (TextVectorization's standardize and split, applied to chunks of rows) and keeps a
   histogram of text lengths. Memory is bounded by the number of distinct tokens, and
   that is capped too: past SCAN_TOKEN_CAP distinct tokens the rarest are dropped
   (lossy counting), which can only affect tokens too rare to enter the vocabulary.
   The vocabulary, `max_length`, the length buckets and the batches per epoch follow
   from these counts exactly as they would from the whole data in memory.
2. Training reads the shards again through tf.data: shard order shuffled per epoch,
   rows interleaved across shards, a shuffle buffer (`data.shuffle_buffer` rows),
   tokenization in batches, then the same length bucketing as in memory.

Valid and test files are read whole (they are evaluated row by row anyway).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from seqcls.data import (
    MAX_LISTED_PROBLEMS,
    NOT_TEXT,
    Problem,
    Split,
    Splits,
    _delimited_stream,
    _jsonl_stream,
    apply_policy,
    cell_text,
    codec_for,
    detect_format,
    expand_paths,
    first_cell_problem,
    match_note,
    parse_labels,
    read_split,
    require_in,
    row_problem,
    unknown_label_problems,
)
from seqcls.errors import DataError

CHUNK_ROWS = 4096
SCAN_TOKEN_CAP = 2_000_000
TOKENIZE_BATCH = 512


class StreamedSplit(Split):
    """The training split of a streamed run: counts only, no texts in memory."""

    def __init__(self, name: str, source: str, rows: int):
        super().__init__(name, [], [], source)
        self.rows = rows

    def __len__(self) -> int:
        return self.rows


def labelled_rows(paths: list[Path], data: Any, task: str) -> Iterator[tuple[str, str] | Problem]:
    """(text, label) for each usable row of the files, in order; a Problem for each bad one
    (as the in-memory reader: a JSONL cell that holds no text is a bad row, not the end)."""
    text_columns = [data.text_column] if isinstance(data.text_column, str) else data.text_column
    needed = [*text_columns, data.label_column]
    shown = "+".join(text_columns)
    codec = codec_for(data.encoding)
    for path in paths:
        fmt = detect_format(path, data.format)
        if not path.is_file():
            raise DataError(f"data file not found: {path}")
        # CSV: the csv module finds the line ends (a quoted field may hold any); JSONL: a
        # line ends at "\n" only, so a "\r", \x85 or U+2028 inside a line stays in it.
        with open(path, encoding=codec, newline="\n" if fmt == "jsonl" else "") as handle:
            line = 0
            # JSONL has no header: a column no row has is reported as the header would be.
            seen: dict[str, None] | None = {} if fmt == "jsonl" else None
            try:
                if fmt == "jsonl":
                    stream = _jsonl_stream(path, handle)
                else:
                    delimiter = "\t" if fmt == "tsv" else ","
                    quoting = data.tsv_quoting if fmt == "tsv" else True
                    columns, stream = _delimited_stream(path, handle, delimiter, quoting)
                    for column in text_columns:
                        require_in(columns, column, "data.text_column", path)
                    require_in(columns, data.label_column, "data.label_column", path)
                for item in stream:
                    if isinstance(item, Problem):
                        yield item
                        continue
                    line, row = item
                    where = f"{path}, line {line}"
                    if seen is not None:
                        seen.update(dict.fromkeys(row))
                    unreadable = first_cell_problem(row, needed)
                    if unreadable:
                        yield Problem(where, NOT_TEXT, unreadable)
                        continue
                    text = data.text_separator.join(cell_text(row, c) for c in text_columns)
                    label = cell_text(row, data.label_column).strip()
                    problem = row_problem(
                        text, label, task, data.label_delimiter, shown, data.label_column
                    )
                    if problem:
                        yield Problem(where, *problem)
                    else:
                        yield text, label
            except UnicodeDecodeError as error:
                raise DataError(
                    f"{path}, after line {line}: not valid {data.encoding} "
                    f"(byte {error.object[error.start]:#04x}); re-save the file in that "
                    "encoding or set data.encoding"
                ) from None
            if seen:
                columns = list(seen)
                for column in text_columns:
                    require_in(columns, column, "data.text_column", path)
                require_in(columns, data.label_column, "data.label_column", path)


def histogram_percentile(histogram: dict[int, int], q: float) -> float:
    """np.percentile(values, q) (linear interpolation) of the values a histogram counts."""
    keys = np.array(sorted(histogram), dtype=np.float64)
    counts = np.array([histogram[int(k)] for k in keys], dtype=np.int64)
    total = int(counts.sum())
    position = (total - 1) * q / 100.0
    below, fraction = int(math.floor(position)), position - math.floor(position)
    ends = np.cumsum(counts)  # the value at sorted index i is keys[searchsorted(ends, i + 1)]

    def value(index: int) -> float:
        return float(keys[np.searchsorted(ends, index + 1)])

    low = value(below)
    return low if fraction == 0 else low + (value(min(below + 1, total - 1)) - low) * fraction


def histogram_boundaries(histogram: dict[int, int], num_buckets: int) -> list[int]:
    """text.bucket_boundaries for the lengths a histogram counts."""
    quantiles = [
        histogram_percentile(histogram, 100 * q) for q in np.linspace(0, 1, num_buckets + 1)[1:-1]
    ]
    return sorted({int(q) + 1 for q in quantiles if q >= 1})


@dataclass
class Scan:
    """What one pass over the training files found."""

    paths: list[Path]
    rows: int = 0
    label_counts: Counter = field(default_factory=Counter)
    token_counts: Counter = field(default_factory=Counter)  # UTF-8 bytes -> count
    lengths: Counter = field(default_factory=Counter)  # tokens per text -> texts
    problems: list[Problem] = field(default_factory=list)  # the first few
    problem_counts: Counter = field(default_factory=Counter)
    pruned_at: int = 0  # counts at or below this were dropped (lossy counting)

    def add_texts(self, texts: list[str], preprocessing: Any) -> None:
        from seqcls.text import standardized_tokens

        tokens = standardized_tokens(texts, preprocessing)
        self.lengths.update(tokens.row_lengths().numpy().tolist())
        flat = tokens.flat_values.numpy()
        if flat.size:
            unique, counts = np.unique(flat, return_counts=True)
            self.token_counts.update(dict(zip(unique.tolist(), counts.tolist())))
        if len(self.token_counts) > SCAN_TOKEN_CAP:
            self._prune()

    def _prune(self) -> None:
        while len(self.token_counts) > SCAN_TOKEN_CAP // 2:
            self.pruned_at += 1
            for token in [t for t, c in self.token_counts.items() if c <= self.pruned_at]:
                del self.token_counts[token]


def scan(paths: list[Path], data: Any, preprocessing: Any, task: str) -> Scan:
    result = Scan(paths)
    chunk: list[str] = []
    for item in labelled_rows(paths, data, task):
        if isinstance(item, Problem):
            result.problem_counts[item.reason] += 1
            if len(result.problems) < MAX_LISTED_PROBLEMS:
                result.problems.append(item)
            continue
        text, label = item
        result.rows += 1
        result.label_counts.update(parse_labels(label, task, data.label_delimiter))
        chunk.append(text)
        if len(chunk) >= CHUNK_ROWS:
            result.add_texts(chunk, preprocessing)
            chunk = []
    if chunk:
        result.add_texts(chunk, preprocessing)
    if not result.rows and not result.problem_counts:
        raise DataError(f"{data.train}: no data rows (only a header or blank lines)")
    return result


def vocabulary_from_scan(result: Scan, preprocessing: Any):
    """The Vocabulary text.build_vocabulary would build from the same rows in memory."""
    from seqcls.text import Vocabulary

    candidates = [
        (count, token.decode("utf-8"))
        for token, count in result.token_counts.items()
        if count >= preprocessing.min_frequency
    ]
    candidates.sort(key=lambda item: (-item[0], item[1]))
    kept = candidates[: preprocessing.max_tokens - 2]
    tokens = ["", "[UNK]", *(token for _, token in kept)]
    lengths = result.lengths
    percentiles = {f"p{q}": int(histogram_percentile(lengths, q)) for q in (50, 90, 95, 99, 100)}
    if preprocessing.max_length == "auto":
        max_length = max(
            1, math.ceil(histogram_percentile(lengths, preprocessing.length_percentile))
        )
        source = f"auto: {preprocessing.length_percentile:g}th percentile of train lengths"
    else:
        max_length, source = preprocessing.max_length, "config"
    total_tokens = sum(length * count for length, count in lengths.items())
    in_vocabulary = sum(count for count, _ in kept)
    truncated = sum(count for length, count in lengths.items() if length > max_length)
    return Vocabulary(
        tokens=tokens,
        max_length=int(max_length),
        max_length_source=source,
        train_length_percentiles=percentiles,
        train_oov_rate=float(1.0 - in_vocabulary / total_tokens) if total_tokens else 0.0,
        train_truncated_share=float(truncated / result.rows) if result.rows else 0.0,
        tokens_seen=len(result.token_counts),
    )


def clipped_lengths(result: Scan, max_length: int) -> Counter:
    """Lengths as the model sees them: cut at max_length, at least one token."""
    clipped: Counter = Counter()
    for length, count in result.lengths.items():
        clipped[max(1, min(length, max_length))] += count
    return clipped


def steps_per_epoch(lengths: dict[int, int], batch_size: int, boundaries: list[int] | None) -> int:
    if boundaries is None:
        return math.ceil(sum(lengths.values()) / batch_size)
    per_bucket: Counter = Counter()
    for length, count in lengths.items():
        per_bucket[int(np.searchsorted(np.asarray(boundaries), length, side="right"))] += count
    return int(sum(math.ceil(count / batch_size) for count in per_bucket.values()))


@dataclass
class Streamed:
    """What training needs from streamed data."""

    splits: Splits
    scan: Scan
    vocabulary: Any
    label_counts: dict[str, int]

    def boundaries(self, bucketing: bool) -> list[int] | None:
        from seqcls.text import NUM_BUCKETS

        lengths = clipped_lengths(self.scan, self.vocabulary.max_length)
        return histogram_boundaries(lengths, NUM_BUCKETS) if bucketing else None

    def steps(self, batch_size: int, bucketing: bool) -> int:
        lengths = clipped_lengths(self.scan, self.vocabulary.max_length)
        return steps_per_epoch(lengths, batch_size, self.boundaries(bucketing))

    def dataset(self, config: Any, vectorizer: Any, task: str):
        """Batches of (ids, targets), read from the files again every epoch."""
        import tensorflow as tf

        from seqcls.text import OOV_ID, batch_by_length

        data, labels = config.data, self.splits.labels
        index = {label: i for i, label in enumerate(labels)}
        max_length = self.vocabulary.max_length
        if task == "multilabel":
            target_spec = tf.TensorSpec((len(labels),), tf.float32)
        elif task == "binary":
            target_spec = tf.TensorSpec((1,), tf.float32)
        else:
            target_spec = tf.TensorSpec((), tf.int64)

        def target(label: str):
            if task == "multilabel":
                vector = np.zeros(len(labels), dtype=np.float32)
                vector[[index[x] for x in parse_labels(label, task, data.label_delimiter)]] = 1
                return vector
            if task == "binary":
                return np.array([index[label]], dtype=np.float32)
            return np.int64(index[label])

        def rows(path: bytes):
            for item in labelled_rows([Path(path.decode())], data, task):
                if not isinstance(item, Problem):  # the scan already applied the policy
                    yield item[0], target(item[1])

        seed = config.seed
        signature = (tf.TensorSpec((), tf.string), target_spec)
        files = tf.data.Dataset.from_tensor_slices([str(path) for path in self.scan.paths])
        files = files.shuffle(len(self.scan.paths), seed=seed, reshuffle_each_iteration=True)
        dataset = files.interleave(
            lambda path: tf.data.Dataset.from_generator(
                rows, args=(path,), output_signature=signature
            ),
            cycle_length=min(4, len(self.scan.paths)),
            block_length=16,
        )
        dataset = dataset.shuffle(data.shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
        dataset = (
            dataset.batch(TOKENIZE_BATCH)
            .map(lambda texts, targets: (vectorizer(texts), targets))
            .unbatch()
        )

        def clip(ids, targets):
            ids = ids[:max_length]
            ids = tf.cond(
                tf.size(ids) > 0, lambda: ids, lambda: tf.constant([OOV_ID], dtype=ids.dtype)
            )
            return ids, targets

        dataset = dataset.map(clip)
        shapes = ([None], list(target_spec.shape))
        return batch_by_length(
            dataset,
            self.boundaries(config.training.bucketing),
            config.training.batch_size,
            shapes,
            seed,
        )


def prepare(config: Any, task_setting: str, report: Any = None) -> Streamed:
    """Scan the training files, read valid/test, and enforce the bad-row policy."""
    data = config.data
    paths = expand_paths(data.train, "data.train")
    parse_task = task_setting if task_setting in ("multilabel", "tagging") else "multiclass"
    result = scan(paths, data, config.preprocessing, parse_task)
    notes: list[str] = []
    bad_rows: dict[str, dict[str, int]] = {}
    counts = apply_policy(
        result.problems,
        data.on_bad_rows,
        str(data.train),
        notes.append,
        dict(result.problem_counts),
    )
    if counts:
        bad_rows["train"] = counts
    labels = sorted(result.label_counts)
    if len(labels) < 2:
        raise DataError(
            f"{data.train}: found {len(labels)} distinct label(s) {labels}; "
            "a classifier needs at least two"
        )
    checked = {}
    for name, path in (("valid", data.valid), ("test", data.test)):
        if path is None:
            checked[name] = None
            continue
        split = read_split(name, path, data, parse_task)
        notes.extend(split.notes)
        problems = list(split.problems)
        kept, unknown = unknown_label_problems(split, labels, parse_task, data.label_delimiter)
        found = apply_policy(problems + unknown, data.on_bad_rows, split.source, notes.append)
        if found:
            bad_rows[name] = found
        checked[name] = kept
    if not len(checked["valid"]):
        raise DataError(f"{data.valid}: no validation rows whose labels occur in train")
    shards = f" in {len(paths)} files" if len(paths) > 1 else ""
    notes.insert(0, f"train: {result.rows:,} rows streamed{shards} (data.streaming)")
    matched = match_note("data.train", data.train, paths)
    if matched:
        notes.insert(1, matched)
    if result.pruned_at:
        notes.append(
            f"train: over {SCAN_TOKEN_CAP:,} distinct tokens; counts of tokens seen at most "
            f"{result.pruned_at} time(s) were dropped while scanning"
        )
    train = StreamedSplit("train", str(data.train), result.rows)
    splits = Splits(train, checked["valid"], checked["test"], labels, notes, bad_rows)
    vocabulary = vocabulary_from_scan(result, config.preprocessing)
    # Multilabel counts are per label occurrence; class weights apply to single labels only.
    return Streamed(splits, result, vocabulary, dict(result.label_counts))
