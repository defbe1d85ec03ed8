"""The run directory a new training writes: made new, or emptied of a previous run's files
(`--force`), locked while it trains, and put back as it was when the start fails; and the
`runs/<name>-latest` link to the last finished run of a config.

`--force` replaces only what seqcls wrote: a folder is a run when seqcls's own files say so
(outputs.is_run), the previous run's files are parked in a hidden folder until the new run
has completed an epoch, and the user's files in it are kept and named.
"""

from __future__ import annotations

import fnmatch
import os
import shutil
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import seqcls.messages as messages
from seqcls.errors import UsageError
from seqcls.run import artifacts
from seqcls.run.destinations import config_files, inside, is_run, refuse_under_a_file, same_file

# What later commands write into a run by default; stale once the model is replaced.
RUN_DERIVED_PATTERNS = ("eval-*.json", "eval-*.confusion_matrix.png")
# Where `--force` parks a previous run's files until the new run has started for real.
REPLACED_PREFIX = ".seqcls-replaced-"


LOCK_FILE = ".seqcls.lock"
# runs/<name>-latest: a link to the last run of <name> that finished in the default place.
LATEST_SUFFIX = "-latest"


class RunLock:
    """One training at a time in a run directory: an exclusive flock on `.seqcls.lock`
    inside it, taken before anything there is touched and released (the file removed)
    when the training ends. The kernel drops the lock of a killed process, so a stale
    file never blocks the next run."""

    def __init__(self, path: Path, descriptor: int | None):
        self.path = path
        self.descriptor = descriptor

    @classmethod
    def take(cls, folder: Path) -> RunLock:
        try:
            import fcntl
        except ImportError:  # not a POSIX system: no lock, as before
            return cls(folder / LOCK_FILE, None)
        path = folder / LOCK_FILE
        while True:
            descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.read(descriptor, 200).decode("utf-8", "replace").strip()
                os.close(descriptor)
                raise UsageError(
                    f"another seqcls train is writing {folder} ({holder or 'its lock is held'}); "
                    "wait for it to end, or choose another --output-dir"
                ) from None
            # The previous holder may have removed the file between our open and our lock.
            try:
                current = os.stat(path).st_ino == os.fstat(descriptor).st_ino
            except FileNotFoundError:
                current = False
            if current:
                break
            os.close(descriptor)
        os.ftruncate(descriptor, 0)
        stamp = datetime.now().strftime("%Y-%m-%d %H:%M:%S")
        os.write(descriptor, f"pid {os.getpid()}, since {stamp}".encode())
        return cls(path, descriptor)

    def release(self) -> None:
        if self.descriptor is not None:
            self.path.unlink(missing_ok=True)  # still locked: nobody takes it half-removed
            os.close(self.descriptor)
            self.descriptor = None


class RunDirectory:
    """A run directory being started: made new, or emptied of a previous run's files.

    `--force` over a previous run moves that run's files (and nothing else) aside into a
    hidden folder; `commit()` deletes them once the new run has completed an epoch, and
    `rollback()` (a failed start: no epoch completed) deletes what the new run wrote and
    puts the previous run back, so a failed start leaves the directory as it was.
    """

    def __init__(
        self,
        path: Path,
        created: list[Path],
        kept: list[str],
        parked: Path | None = None,
        moved: list[str] = (),
        lock: RunLock | None = None,
    ):
        self.path = path
        self.lock = lock
        self.created = created  # the folders made for it, innermost first
        self.kept = kept  # top-level entries that were there before and are not the run's
        self.parked = parked
        self.moved = list(moved)  # relative paths parked

    def started(self) -> bool:
        """Whether the new run completed an epoch (it can be resumed: keep it)."""
        return (self.path / artifacts.STATE_FILE).is_file()

    def release(self) -> None:
        if self.lock is not None:
            self.lock.release()

    def commit(self) -> None:
        if self.parked is not None:
            shutil.rmtree(self.parked, ignore_errors=True)
            self.parked = None

    def rollback(self) -> None:
        if not self.path.is_dir():
            return
        for entry in self.path.iterdir():
            if entry.name in self.kept or entry == self.parked or entry.name == LOCK_FILE:
                continue
            if entry.is_dir() and not entry.is_symlink():
                # A folder of the run's may hold the user's files (checkpoints/mine.keras):
                # remove only what is not theirs.
                _remove_except(entry, self.kept, entry.name)
            else:
                entry.unlink(missing_ok=True)
        if self.parked is not None:
            for relative in self.moved:
                destination = self.path / relative
                destination.parent.mkdir(parents=True, exist_ok=True)
                os.replace(self.parked / relative, destination)
            shutil.rmtree(self.parked, ignore_errors=True)
            self.parked = None
        self.release()
        for folder in self.created:
            try:
                folder.rmdir()
            except OSError:
                break


def _remove_except(folder: Path, kept: list[str], relative: str) -> None:
    for entry in folder.iterdir():
        name = f"{relative}/{entry.name}"
        if name in kept:
            continue
        if entry.is_dir() and not entry.is_symlink():
            _remove_except(entry, kept, name)
        else:
            entry.unlink(missing_ok=True)
    try:
        folder.rmdir()
    except OSError:
        pass  # it holds a kept file


def _previous_run_entries(folder: Path) -> list[str]:
    """The paths (relative to `folder`) a previous run, or a command run on it, wrote:
    its files and folders, files in checkpoints/ with a checkpoint's name, and the
    temporaries a crash in the middle of a write left. Nothing else."""
    names = []
    top = [*RUN_DERIVED_PATTERNS]
    for name in artifacts.TRAINING_WRITES:
        top += [name, *artifacts.temporary_patterns(name)]
    for entry in sorted(folder.iterdir()):
        if entry.name == LOCK_FILE:
            continue
        if entry.name == artifacts.CHECKPOINT_FOLDER and entry.is_dir():
            inner = [
                pattern
                for name in artifacts.CHECKPOINT_WRITES
                for pattern in (name, *artifacts.temporary_patterns(name))
            ]
            names += [
                f"{entry.name}/{child.name}"
                for child in sorted(entry.iterdir())
                if any(fnmatch.fnmatchcase(child.name, pattern) for pattern in inner)
            ]
        elif entry.name in artifacts.RUN_FOLDERS:
            names.append(entry.name)  # tensorboard/, export/: only seqcls writes these
        elif any(fnmatch.fnmatchcase(entry.name, pattern) for pattern in top):
            names.append(entry.name)
    return names


def _kept_entries(folder: Path, moved: list[str]) -> list[str]:
    """What stays in `folder` once `moved` is parked: top-level names, and files left in
    checkpoints/ (relative paths)."""
    kept = []
    for entry in sorted(folder.iterdir()):
        if entry.name in moved or entry.name == LOCK_FILE:
            continue
        if entry.name == artifacts.CHECKPOINT_FOLDER and entry.is_dir():
            kept += [
                f"{entry.name}/{child.name}"
                for child in sorted(entry.iterdir())
                if f"{entry.name}/{child.name}" not in moved
            ]
        else:
            kept.append(entry.name)
    return kept


def run_inputs(config_path: Path | None, config: object) -> list[tuple[str, Path]]:
    """What a training reads: its config file, data files and pretrained vectors."""
    named = [("config file", config_path)] if config_path is not None else []
    return [*named, *((f"{key} file", path) for key, path in config_files(config))]


def prepare_run_dir(
    run_dir: Path, force: bool, inputs: Iterable[tuple[str, str | Path]] = ()
) -> RunDirectory:
    """Make `run_dir` ready for a new run (see RunDirectory). Without `force` it must be
    new or empty; with `force` it may also hold a previous run, whose files are replaced;
    anything else in it is kept and named, and a folder that is not a run is refused."""
    if run_dir.is_symlink() and not run_dir.is_dir() or run_dir.exists() and not run_dir.is_dir():
        raise UsageError(
            f"--output-dir {run_dir} exists and is not a directory; choose another --output-dir"
        )
    missing = refuse_under_a_file(run_dir, f"--output-dir {run_dir}")
    if missing:
        run_dir.mkdir(parents=True)
    lock = RunLock.take(run_dir)
    try:
        return _prepare(run_dir, force, inputs, missing, lock)
    except BaseException:
        lock.release()
        for folder in missing:
            try:
                folder.rmdir()
            except OSError:
                break
        raise


def _prepare(
    run_dir: Path,
    force: bool,
    inputs: Iterable[tuple[str, str | Path]],
    missing: list[Path],
    lock: RunLock,
) -> RunDirectory:
    entries = sorted(entry.name for entry in run_dir.iterdir() if entry.name != LOCK_FILE)
    if not entries:
        return RunDirectory(run_dir, missing, [], lock=lock)
    parked_before = [name for name in entries if name.startswith(REPLACED_PREFIX)]
    if parked_before:
        raise UsageError(
            f"{run_dir / parked_before[0]} holds a previous run that an interrupted "
            f"`train --force` set aside. Put it back (mv {run_dir / parked_before[0]}/* "
            f"{run_dir}/, then remove the empty folder) or delete it, then try again"
        )
    if not force:
        raise UsageError(
            f"run directory {run_dir} exists and is not empty; choose another --output-dir"
            + (", or pass --force to replace the previous run in it" if is_run(run_dir) else "")
        )
    if not is_run(run_dir):
        shown = ", ".join(entries[:5]) + (" ..." if len(entries) > 5 else "")
        raise UsageError(
            f"--output-dir {run_dir} is not empty and holds no seqcls run ({shown}); --force "
            "replaces only a previous run's files, never other files. Choose a new or empty "
            "--output-dir"
        )
    moved = _previous_run_entries(run_dir)
    for what, source in inputs:
        for name in moved:
            entry = run_dir / name
            if source is not None and (
                same_file(entry, source) or (entry.is_dir() and inside(source, entry))
            ):
                raise UsageError(
                    f"the {what} {source} is one of the previous run's files in {run_dir}, "
                    "which --force would replace; copy it elsewhere first, or choose another "
                    "--output-dir"
                )
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    parked = run_dir / f"{REPLACED_PREFIX}{stamp}-{os.getpid()}"
    parked.mkdir()
    for name in moved:
        (parked / name).parent.mkdir(parents=True, exist_ok=True)
        os.replace(run_dir / name, parked / name)
    kept = [name for name in _kept_entries(run_dir, moved) if name != parked.name]
    return RunDirectory(run_dir, [], kept, parked, moved, lock)


@contextmanager
def new_run(
    run_dir: Path,
    force: bool,
    inputs: Iterable[tuple[str, str | Path]],
    note: Callable[[str], None],
    made_for_it: bool = False,
) -> Iterator[Path]:
    """The run directory of a new training, held (locked) inside the block. A start that
    fails before any epoch completed leaves the directory as it was (a previous run
    replaced with --force comes back), or removes it when it was made for this run
    (`made_for_it`: the caller made it, empty, such as a smoke run's temporary folder);
    a run with a completed epoch is kept, to be resumed."""
    started = prepare_run_dir(run_dir, force, inputs)
    if made_for_it and run_dir not in started.created:
        started.created.append(run_dir)
    if started.kept:
        note(
            messages.note(
                f"{started.path} also holds files that are not a seqcls run's; they are "
                "kept: " + ", ".join(started.kept)
            )
        )
    try:
        yield started.path
    except BaseException:
        if started.started():
            started.commit()
        else:
            started.rollback()
        raise
    else:
        started.commit()
    finally:
        started.release()


@contextmanager
def locked(run_dir: Path) -> Iterator[Path]:
    """A resumed run's directory, locked inside the block."""
    lock = RunLock.take(run_dir)
    try:
        yield run_dir
    finally:
        lock.release()


def link_latest(run_dir: Path, name: str) -> Path | None:
    """Point `<run_dir's folder>/<name>-latest` at `run_dir` (a relative symlink, so the
    folder of runs can move) and return the link; None where there is something else of
    that name (a folder or file of the user's is never replaced) or the file system has
    no symlinks. The new link is made under a temporary name and renamed over the old
    one, so the name always points at a whole run, never at nothing."""
    link = run_dir.parent / f"{name}{LATEST_SUFFIX}"
    if link.exists() and not link.is_symlink():
        return None
    temporary = run_dir.parent / f".{link.name}.{os.getpid()}.tmp"
    try:
        temporary.unlink(missing_ok=True)
        os.symlink(run_dir.name, temporary, target_is_directory=True)
        os.replace(temporary, link)
    except OSError:
        temporary.unlink(missing_ok=True)
        return None
    return link
