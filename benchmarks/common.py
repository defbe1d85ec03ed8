"""What every benchmark script shares: the repository root, `--json OUT`, machine facts.

Each script prints its figures and, with `--json OUT`, also writes them as JSON (atomically)
so `benchmarks/run_all.py` can collect them into RESULTS.md.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def json_destination(argv: list[str]) -> tuple[list[str], Path | None]:
    """Split `--json OUT` off `argv`: (the other arguments, OUT or None)."""
    if "--json" not in argv:
        return argv, None
    at = argv.index("--json")
    if at + 1 >= len(argv):
        sys.exit("--json needs a file name: --json OUT.json")
    return argv[:at] + argv[at + 2 :], Path(argv[at + 1])


def emit(figures: dict, destination: Path | None) -> None:
    """Print the figures as JSON; with a destination, also write them there atomically."""
    text = json.dumps(figures, indent=2) + "\n"
    print(text, end="")
    if destination is not None:
        destination.parent.mkdir(parents=True, exist_ok=True)
        partial = destination.with_name(destination.name + ".partial")
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, destination)


def train_command(
    config: str, output_dir: str | Path, *overrides: str, options: tuple[str, ...] = ()
) -> list[str]:
    """`seqcls train ROOT/CONFIG --output-dir OUTPUT_DIR [OPTIONS] --set OVERRIDE ...` with
    this interpreter, as a subprocess argument list."""
    command = [sys.executable, "-m", "seqcls", "train", str(ROOT / config)]
    command += ["--output-dir", str(output_dir), *options]
    for override in overrides:
        command += ["--set", override]
    return command


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict:
    """Where the figures were taken: CPU, cores, memory, versions."""
    facts = {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        facts["memory_gib"] = round(pages / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        pass
    from importlib.metadata import PackageNotFoundError, version

    for package in ("seqcls", "tensorflow", "keras", "numpy", "scikit-learn", "jax"):
        try:
            facts[package] = version(package)
        except PackageNotFoundError:
            facts[package] = None
    return facts
