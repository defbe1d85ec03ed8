"""Where a command may write: never over one of its inputs, never over a run's own files,
and `--force` replaces only what seqcls itself wrote before.

Every command checks its destinations here before it computes anything, so a refusal
costs nothing and leaves every file as it was (exit 2, `UsageError`). "The same file"
means the same file on disk however it is named: `./x.csv`, `dir/../x.csv`, a symlink
to it or a hard link of it.
"""

from __future__ import annotations

import fnmatch
import os
import shutil
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from seqcls import artifacts
from seqcls.errors import SeqclsError, UsageError

# What later commands write into a run by default; stale once the model is replaced.
RUN_DERIVED_PATTERNS = ("eval-*.json", "eval-*.confusion_matrix.png")
# Files that mark a directory as a seqcls run (finished or interrupted after an epoch).
RUN_MARKERS = (artifacts.MANIFEST_FILE, artifacts.LABELS_FILE, artifacts.STATE_FILE)
# Where `--force` parks a previous run's files until the new run has started for real.
REPLACED_PREFIX = ".seqcls-replaced-"

# What `seqcls export` writes: export.json in every export, then per format.
EXPORT_FILE = "export.json"
ONNX_FILE = "model.onnx"
EXPORT_ENTRIES = {
    EXPORT_FILE,
    # saved_model (what Keras' model.export writes)
    "saved_model.pb",
    "fingerprint.pb",
    "variables",
    "assets",
    # onnx
    ONNX_FILE,
    artifacts.VOCABULARY_FILE,
    "tokenization.json",
}


def same_file(first: str | Path, second: str | Path) -> bool:
    """Whether two names reach the same file: one inode, or one resolved path."""
    try:
        return os.path.samefile(first, second)
    except OSError:  # one of them does not exist (yet)
        return Path(os.path.realpath(first)) == Path(os.path.realpath(second))


def _inside(path: str | Path, folder: str | Path) -> Path | None:
    """`path` relative to `folder` when it lies inside it (symlinks resolved), else None."""
    resolved, base = Path(os.path.realpath(path)), Path(os.path.realpath(folder))
    try:
        return resolved.relative_to(base)
    except ValueError:
        return None


def is_run(folder: str | Path) -> bool:
    """Whether `folder` holds a seqcls run: a manifest.json or checkpoints/state.json that
    seqcls wrote (its keys, not just its name: a user's own labels.json does not count), or
    the start of one that was killed before its first epoch ended (a config.yaml that is a
    complete seqcls config and a labels.json as seqcls writes it)."""
    folder = Path(folder)
    for name, key in (
        (artifacts.MANIFEST_FILE, "seqcls_version"),
        (artifacts.STATE_FILE, "completed_epochs"),
    ):
        try:
            if key in artifacts.read_json(folder / name):
                return True
        except (OSError, ValueError, TypeError):
            continue
    if (
        not (folder / artifacts.CONFIG_FILE).is_file()
        or not (folder / artifacts.LABELS_FILE).is_file()
    ):
        return False
    try:
        artifacts.read_labels(folder)
        artifacts.read_run_config(folder)
    except SeqclsError:
        return False
    return True


def containing_run(path: str | Path) -> Path | None:
    """The run directory `path` lies in (itself, or up to two folders up: checkpoints/,
    export/<format>/), if any."""
    resolved = Path(os.path.realpath(path))
    for folder in [resolved, *list(resolved.parents)[:3]]:
        if folder.is_dir() and is_run(folder):
            return folder
    return None


def run_artifact(path: str | Path, run_dir: str | Path) -> bool:
    """Whether `path` is one of the files a training wrote into `run_dir`."""
    relative = _inside(path, run_dir)
    if relative is None or not relative.parts:
        return relative is not None  # the run directory itself
    if relative.parts[0] in artifacts.RUN_FOLDERS:
        return True
    return len(relative.parts) == 1 and relative.name in artifacts.TRAINING_WRITES


def config_files(config: object) -> list[tuple[str, Path]]:
    """The files a config reads, by config key: each data path (every file a pattern
    matches) and the pretrained vectors."""
    from seqcls.data import expand_paths
    from seqcls.errors import DataError

    data, embedding = config.data, config.model.embedding  # type: ignore[attr-defined]
    named = [(f"data.{key}", getattr(data, key)) for key in ("train", "valid", "test")]
    named.append(("model.embedding.pretrained", embedding.pretrained))
    files = []
    for key, path in named:
        if path is None:
            continue
        try:
            files += [(key, match) for match in expand_paths(path)]
        except DataError:  # a pattern matching nothing: nothing to protect
            continue
    return files


def run_data_files(run_dir: str | Path) -> list[tuple[str, Path]]:
    """The files a run was trained from (see config_files), by config key."""
    try:
        config = artifacts.read_run_config(Path(run_dir))
    except Exception:  # a damaged config is reported by the loader, not here
        return []
    return config_files(config)


def check_destination(
    destination: str | Path,
    option: str,
    inputs: Iterable[tuple[str, str | Path]] = (),
    run_dir: str | Path | None = None,
) -> Path:
    """Refuse (UsageError, exit 2) a destination that would destroy something.

    `inputs` are (what, path) pairs the command reads: the destination may not be any of
    them. With `run_dir`, it may not be one of the run's own files nor a data file the
    run was trained on. A destination that is a directory, or lies under a file, is
    refused too: the error comes before any work, not after it.
    """
    destination = Path(destination)
    if str(destination) == "-" and option != "--output":
        raise UsageError(f"{option} writes a file; - (stdout) is only for --output")
    for what, source in inputs:
        if source is not None and str(source) != "-" and same_file(destination, source):
            raise UsageError(
                f"{option} {destination} is the {what} ({source}); writing it would destroy "
                "that file. Choose another output file"
            )
    # The command's own run, and any run the destination lies in.
    runs = {Path(folder) for folder in (run_dir, containing_run(destination.parent)) if folder}
    for run in sorted(runs):
        if run_artifact(destination, run):
            raise UsageError(
                f"{option} {destination} is the run {run}, one of its own files or in one "
                "of its folders (checkpoints/, tensorboard/, export/); writing it would damage "
                "the run. Choose a file outside the run, or a new name at its top level"
            )
        for key, source in run_data_files(run):
            if same_file(destination, source):
                raise UsageError(
                    f"{option} {destination} is a file the run {run} was trained from "
                    f"({key}: {source}); choose another output file"
                )
    target = destination.resolve() if destination.is_symlink() else destination
    if target.is_dir():
        raise UsageError(f"{option} {destination} is a directory; give a file name")
    _refuse_under_a_file(target, f"{option} {destination}")
    return destination


def _refuse_under_a_file(path: Path, named: str) -> list[Path]:
    """Refuse a path with a file where one of its folders should be; return the folders
    that do not exist yet (innermost first), which writing it would make."""
    missing = []
    for parent in [path, *path.parents]:
        if parent.exists():
            if parent != path and not parent.is_dir():
                raise UsageError(
                    f"{named}: {parent} is a file, so nothing can be made under it; choose "
                    "another path"
                )
            break
        missing.append(parent)
    return missing


def check_distinct(*destinations: tuple[str, str | Path | None]) -> None:
    """Two outputs of one command may not be the same file (the second would replace the first)."""
    named = [(option, path) for option, path in destinations if path not in (None, "-")]
    for index, (option, path) in enumerate(named):
        for other_option, other in named[index + 1 :]:
            if same_file(path, other):
                raise UsageError(
                    f"{option} and {other_option} name the same file ({path}); give each its own"
                )


# ---------------------------------------------------------------------------- export


def export_files(folder: Path) -> list[Path]:
    """Every file below `folder` (what an export wrote, recorded in its export.json)."""
    return sorted(path for path in folder.rglob("*") if path.is_file() or path.is_symlink())


def check_export_destination(output: Path, run_dir: Path, force: bool) -> None:
    """An export goes to a new or empty folder; `--force` may replace a previous export
    (a folder holding export.json and only what an export writes), nothing else: never
    the run, a folder that holds the run, or one of the run's own files."""
    run_dir = Path(run_dir)
    relative = _inside(output, run_dir)
    if relative is not None and (not relative.parts or relative.parts[0] != "export"):
        raise UsageError(
            f"--output {output} is inside the run {run_dir} but not under its export/ folder; "
            "exporting there would mix with or replace the run's files. Choose a new folder "
            f"(the default is {run_dir / 'export'}/<format>)"
        )
    if _inside(run_dir, output) is not None:
        raise UsageError(
            f"--output {output} holds the run {run_dir} itself; exporting there would delete "
            "the run. Choose a new folder"
        )
    if not output.exists() and not output.is_symlink():
        _refuse_under_a_file(output, f"--output {output}")
        return
    if output.is_symlink() or not output.is_dir():
        raise UsageError(
            f"--output {output} exists and is not a folder; seqcls export writes a folder. "
            "Choose a new folder name"
        )
    entries = sorted(entry.name for entry in output.iterdir())
    if not entries:
        return
    foreign = [name for name in entries if name not in EXPORT_ENTRIES]
    if not foreign and EXPORT_FILE in entries:
        # Every file below, not only the top level: a note left in assets/ is the user's.
        try:
            recorded = set(artifacts.read_json(output / EXPORT_FILE)["files"])
        except (OSError, ValueError, KeyError, TypeError):
            recorded = set()
        present = {str(path.relative_to(output)) for path in export_files(output)}
        foreign = sorted(present - recorded - {EXPORT_FILE}) if recorded else ["(no file list)"]
    if EXPORT_FILE not in entries or foreign:
        shown = ", ".join(foreign[:5]) + (" ..." if len(foreign) > 5 else "")
        raise UsageError(
            f"--output {output} is not empty and is not a previous seqcls export"
            + (f" (it holds {shown})" if foreign else f" (no {EXPORT_FILE})")
            + "; --force replaces only a previous export. Choose a new or empty folder"
        )
    if not force:
        raise UsageError(
            f"--output {output} holds a previous export; add --force to replace it, or choose "
            "another folder"
        )


# ----------------------------------------------------------------------------- train


LOCK_FILE = ".seqcls.lock"


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


# What a run's checkpoints/ folder holds (and the temporaries of writing it).
CHECKPOINT_NAMES = ("epoch-*.keras", "best.keras", "state.json")


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
                for name in CHECKPOINT_NAMES
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
    missing = _refuse_under_a_file(run_dir, f"--output-dir {run_dir}")
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
                same_file(entry, source) or (entry.is_dir() and _inside(source, entry))
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
