"""Where a command may write: never over one of its inputs, never over a run's own files,
and `export --force` replaces only a previous export (a new training's directory and
`train --force`: run/directory.py).

Every command checks its destinations here before it computes anything, so a refusal
costs nothing and leaves every file as it was (exit 2, `UsageError`). "The same file"
means the same file on disk however it is named: `./x.csv`, `dir/../x.csv`, a symlink
to it or a hard link of it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from seqcls.errors import SeqclsError, UsageError
from seqcls.run import artifacts, readers

# What `seqcls export` writes: export.json in every export, then per format.
EXPORT_FILE = "export.json"
ONNX_FILE = "model.onnx"
EXPORT_ENTRIES = {
    EXPORT_FILE,
    # both formats: the labels in output-column order, and what goes in and comes out
    artifacts.LABELS_FILE,
    "README.md",
    # both formats: the run's model card (seqcls.reporting.model_card)
    "MODEL_CARD.md",
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


def inside(path: str | Path, folder: str | Path) -> Path | None:
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
        readers.read_labels(folder)
        readers.read_run_config(folder)
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
    relative = inside(path, run_dir)
    if relative is None or not relative.parts:
        return relative is not None  # the run directory itself
    if relative.parts[0] in artifacts.RUN_FOLDERS:
        return True
    return len(relative.parts) == 1 and relative.name in artifacts.TRAINING_WRITES


def config_files(config: object) -> list[tuple[str, Path]]:
    """The files a config reads, by config key: each data path (every file a pattern
    matches) and the pretrained vectors."""
    from seqcls.data.paths import expand_paths
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
        config = readers.read_run_config(Path(run_dir))
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
    refuse_under_a_file(target, f"{option} {destination}")
    return destination


def refuse_under_a_file(path: Path, named: str) -> list[Path]:
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
    relative = inside(output, run_dir)
    if relative is not None and (not relative.parts or relative.parts[0] != "export"):
        raise UsageError(
            f"--output {output} is inside the run {run_dir} but not under its export/ folder; "
            "exporting there would mix with or replace the run's files. Choose a new folder "
            f"(the default is {run_dir / 'export'}/<format>)"
        )
    if inside(run_dir, output) is not None:
        raise UsageError(
            f"--output {output} holds the run {run_dir} itself; exporting there would delete "
            "the run. Choose a new folder"
        )
    if not output.exists() and not output.is_symlink():
        refuse_under_a_file(output, f"--output {output}")
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
