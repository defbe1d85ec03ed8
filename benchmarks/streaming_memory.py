"""Peak memory of training from a CSV far larger than the model needs (data.streaming).

Writes a CSV of about SIZE_MB megabytes (default 2048) made of BANKING77 training rows
with noise (words dropped, repeated and swapped, and a made-up word in one row of
fifty, so the scan sees a growing vocabulary), split into SHARDS files, then runs

    seqcls train configs/banking77.yaml --set data.train=<shards>/part-*.csv \\
        --set data.streaming=true --set training.epochs=1 --set training.steps_per_epoch=STEPS

in a fresh process and reports its peak resident memory (ru_maxrss of the child)
against the total file size, and the time of the streaming scan. Also writes the
figures as JSON with --json OUT.

    python benchmarks/streaming_memory.py [SIZE_MB] [--shards N] [--steps N] [--json OUT]
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import re
import resource
import subprocess
import tempfile
import time
from pathlib import Path

from common import ROOT, emit, train_command  # noqa: E402


def noisy(text: str, generator: random.Random, row: int) -> str:
    words = text.split()
    choice = generator.random()
    if choice < 0.25 and len(words) > 3:
        del words[generator.randrange(len(words))]
    elif choice < 0.5:
        words.insert(generator.randrange(len(words) + 1), generator.choice(words))
    elif choice < 0.75 and len(words) > 1:
        i = generator.randrange(len(words) - 1)
        words[i], words[i + 1] = words[i + 1], words[i]
    if row % 50 == 0:
        words.append(f"w{row % 1_000_003:x}")  # a rare made-up word
    return " ".join(words)


def write_shards(folder: Path, size_mb: float, shards: int) -> tuple[int, int]:
    with open(ROOT / "data/banking77/train.csv", newline="", encoding="utf-8") as handle:
        source = [(row["text"], row["label"]) for row in csv.DictReader(handle)]
    generator = random.Random(0)
    target = int(size_mb * 1024 * 1024)
    per_shard = target // shards
    rows = written = 0
    for index in range(shards):
        with open(folder / f"part-{index:03d}.csv", "w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(["text", "label"])
            while out.tell() < per_shard:
                batch = []
                for _ in range(1000):
                    text, label = source[generator.randrange(len(source))]
                    batch.append((noisy(text, generator, rows), label))
                    rows += 1
                writer.writerows(batch)
            written += out.tell()
    return rows, written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("size_mb", nargs="?", type=float, default=2048)
    parser.add_argument("--shards", type=int, default=8)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="seqcls-stream-") as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        rows, size = write_shards(folder, args.size_mb, args.shards)
        print(
            f"wrote {rows:,} rows, {size / 2**20:,.0f} MiB in {args.shards} shards "
            f"({time.perf_counter() - started:.0f}s)",
            flush=True,
        )
        command = train_command(
            "configs/banking77.yaml",
            folder / "run",
            f"data.train={folder}/part-*.csv",
            "data.streaming=true",
            "training.epochs=1",
            f"training.steps_per_epoch={args.steps}",
            options=("--progress", "plain"),
        )
        started = time.perf_counter()
        result = subprocess.run(command, capture_output=True, text=True)
        seconds = time.perf_counter() - started
        if result.returncode != 0:
            print(result.stdout, result.stderr)
            raise SystemExit(f"seqcls train failed with exit code {result.returncode}")
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        log = result.stderr
        streamed = re.search(r"train: ([\d,]+) rows streamed", log)
        figures = {
            "file_mb": round(size / 2**20, 1),
            "rows": rows,
            "rows_streamed": int(streamed.group(1).replace(",", "")) if streamed else None,
            "shards": args.shards,
            "steps": args.steps,
            "train_seconds": round(seconds, 1),
            "peak_rss_mb": round(peak_mb, 1),
            "peak_over_file": round(peak_mb / (size / 2**20), 3),
            "command": " ".join(command[2:]).replace(str(folder), "<tmp>"),
        }
        manifest = json.loads((folder / "run" / "manifest.json").read_text())
        figures["manifest_wall_seconds"] = manifest["wall_seconds"]
    emit(figures, args.json)


if __name__ == "__main__":
    main()
