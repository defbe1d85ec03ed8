"""What a training can check of its input files before it makes a run directory or
starts TensorFlow: every data path names files (a pattern matches some) that exist, are
files and can be read, a CSV/TSV file's header has the columns the config names, and
the pretrained vectors are there too.

A mistake found here costs a second instead of TensorFlow's start-up, and leaves nothing
behind: no run directory is made or named (`session.start_training`). Training reads
every file again in full; this only answers early what it would answer late.
"""

from __future__ import annotations

from contextlib import closing
from pathlib import Path
from typing import Any

from seqcls.data.paths import expand_paths
from seqcls.data.reading import column_list, detect_format, stream_file
from seqcls.errors import DataError

__all__ = ["check_input_files"]


def check_input_files(config: Any) -> None:
    """A DataError (exit 3) naming the config key for the first input file of `config`
    that training could not read (see the module docstring)."""
    data = config.data
    needed = [(column, "data.text_column") for column in column_list(data.text_column)]
    needed.append((data.label_column, "data.label_column"))
    for split in ("train", "valid", "test"):
        path = getattr(data, split)
        if path is None:
            continue
        key = f"data.{split}"
        for match in expand_paths(path, key):
            _check_readable(match, key, "data file")
            _check_header(match, data, needed)
    pretrained = config.model.embedding.pretrained
    if pretrained is not None:
        _check_readable(Path(pretrained), "model.embedding.pretrained", "pretrained vectors")


def _check_readable(path: Path, key: str, what: str) -> None:
    if path.is_dir():
        raise DataError(
            f"{key}: {path} is a folder, not a file; name a file, or the files in it with a "
            f"pattern such as {path / '*.csv'}"
        )
    if not path.is_file():
        raise DataError(f"{key}: {what} not found: {path}; fix {key} in the config")
    try:
        with open(path, "rb") as handle:
            handle.read(1)
    except OSError as error:
        reason = error.strerror or str(error)
        raise DataError(f"{key}: cannot read {path} ({reason}); fix its permissions") from None


def _check_header(path: Path, data: Any, needed: list[tuple[str, str]]) -> None:
    """The header of a CSV/TSV file names the columns (JSONL has none: a column is known
    only once every row is read, which training does)."""
    if detect_format(path, data.format) == "jsonl":
        return
    with closing(stream_file(path, data, needed)) as rows:
        next(rows, None)
