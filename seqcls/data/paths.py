"""The files a data path names: a file, or the shards a glob pattern matches."""

from __future__ import annotations

import hashlib
from pathlib import Path

from seqcls.errors import DataError

GLOB_CHARACTERS = set("*?[")
LISTED_MATCHES = 10


def expand_paths(path: str | Path, config_key: str | None = None) -> list[Path]:
    """The files a data path names: a path that exists is always that file, whatever its
    characters (`data[1].csv` is not a pattern when it exists). Only a path that does not
    exist and holds *, ? or [ is a glob pattern (`data/part-*.csv`): the sorted files it
    matches. Folders of the pattern that exist as written are literal too, so
    `runs[1]/part-*.csv` globs inside the folder `runs[1]`. A pattern that matches no
    file is a DataError naming `config_key` (data.train, data.valid, data.test)."""
    path = Path(path)
    if path.exists() or not GLOB_CHARACTERS & set(str(path)):
        return [path]
    anchor, rest = _literal_prefix(path)
    if not rest or not GLOB_CHARACTERS & set("".join(rest)):
        return [path]  # a missing file whose folder exists as written: "not found" later
    matches = sorted(p for p in anchor.glob(str(Path(*rest))) if p.is_file())
    if not matches:
        raise DataError(
            f"{config_key + ': ' if config_key else ''}no file matches the pattern {path} "
            "(and no file has that exact name); check the folder and the name (in a pattern, "
            "* ? and [ are wildcards: write [[] for a literal [, [*] for *, [?] for ?)"
        )
    return matches


def _literal_prefix(path: Path) -> tuple[Path, tuple[str, ...]]:
    """The longest leading part of `path` that exists as written, and the parts after it."""
    parts = path.parts
    for cut in range(len(parts), 0, -1):
        prefix = Path(*parts[:cut])
        if prefix.exists():
            return prefix, parts[cut:]
    return Path(), parts


def match_note(config_key: str, path: str | Path, paths: list[Path]) -> str | None:
    """What a glob pattern matched, to report (None for a plain file)."""
    if paths == [Path(path)]:
        return None
    anchor, _ = _literal_prefix(Path(path))
    names = [str(p.relative_to(anchor)) if p.is_relative_to(anchor) else str(p) for p in paths]
    shown = ", ".join(names[:LISTED_MATCHES])
    if len(names) > LISTED_MATCHES:
        shown += f", ... and {len(names) - LISTED_MATCHES} more"
    where = "" if str(anchor) == "." else f" in {anchor}"
    return (
        f"{config_key}: pattern {path} matched {len(paths)} file{'s' if len(paths) > 1 else ''}"
        f"{where}: {shown}"
    )


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
