"""Peak memory of training from a CSV far larger than the model needs (data.streaming), and
the speed of the streaming scan with each reader.

Writes a CSV of about SIZE_MB megabytes (default 2048) made of BANKING77 training rows
with noise (words dropped, repeated and swapped, and a made-up word in one row of
fifty, so the scan sees a growing vocabulary), split into SHARDS files, then runs

    seqcls train configs/banking77.yaml --set data.train=<shards>/part-*.csv \\
        --set data.streaming=true --set training.epochs=1 --set training.steps_per_epoch=STEPS

in a fresh process and reports its peak resident memory (ru_maxrss of the child)
against the total file size, and the time of the streaming scan. Also writes the
figures as JSON with --json OUT.

With --scan-only, times the scan alone (seqcls.data.streaming.scan, the first pass of a
streamed run) on the same shards with data.reader exact (the csv module row by row,
TensorFlow counting) and auto (Arrow batches, Arrow counting), each in a fresh process
after a warm-up scan of a small file: rows/s of each and their ratio, each process's
peak resident memory and how much the scan added to it, and whether both found the same
counts (tokens, lengths, labels, bad rows). Each reader is run --repeat times (3),
alternating; the figures are medians (CPU seconds too: the scan's process time, all
threads; the Arrow scan counts in worker threads, so its rows/s depends on idle cores).

    python benchmarks/streaming_memory.py [SIZE_MB] [--shards N] [--steps N] [--json OUT]
    python benchmarks/streaming_memory.py [SIZE_MB] --scan-only [--repeat N] [--shards N] [--json OUT]
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import random
import re
import resource
import statistics
import subprocess
import sys
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


READERS = ("exact", "auto")


def scan_child(reader: str, pattern: str, warm_up: str) -> None:
    """In a fresh process: warm up on a small file, then time one scan of the shards and
    print its figures as JSON (the last line)."""
    from seqcls.config import load_config
    from seqcls.data import streaming
    from seqcls.data.paths import expand_paths

    def config_for(train: str):
        overrides = [f"data.train={train}", "data.streaming=true", f"data.reader={reader}"]
        return load_config(ROOT / "configs/banking77.yaml", overrides)

    warm = config_for(warm_up)
    streaming.scan(expand_paths(warm.data.train), warm.data, warm.preprocessing, warm.task)
    config = config_for(pattern)
    paths = expand_paths(config.data.train)
    before_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started, cpu = time.perf_counter(), time.process_time()
    result = streaming.scan(paths, config.data, config.preprocessing, config.task)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    counts = result.counts
    digest = hashlib.sha256(
        repr(
            (
                sorted(counts.tokens.items()),
                sorted(counts.lengths.items()),
                sorted(counts.labels.items()),
                counts.rows,
                counts.pruned_at,
                [str(problem) for problem in result.problems],
                sorted(result.problem_counts.items()),
            )
        ).encode()
    ).hexdigest()
    figures = {
        "reader": reader,
        "rows": counts.rows,
        "scan_seconds": round(seconds, 2),
        "cpu_seconds": round(cpu, 2),
        "rows_per_second": round(counts.rows / seconds),
        "peak_rss_mb": round(peak_mb, 1),
        "peak_before_scan_mb": round(before_mb, 1),
        "digest": digest,
    }
    print(json.dumps(figures))


def scan_only(folder: Path, rows: int, size: int, shards: int, repeat: int) -> dict:
    """Both readers' scans of the shards, each in a fresh process, `repeat` times each
    (alternating, so load from elsewhere falls on both alike): the medians."""
    warm_up = folder / "warm-up.csv"
    with open(folder / "part-000.csv", encoding="utf-8") as source:
        warm_up.write_text("".join(source.readline() for _ in range(2001)), encoding="utf-8")
    runs: dict[str, list[dict]] = {reader: [] for reader in READERS}
    for _ in range(repeat):
        for reader in READERS:
            command = [sys.executable, __file__, "--scan-child", reader]
            command += [str(folder / "part-*.csv"), str(warm_up)]
            result = subprocess.run(command, capture_output=True, text=True)
            if result.returncode != 0:
                print(result.stdout, result.stderr)
                raise SystemExit(f"the {reader} scan failed with exit code {result.returncode}")
            runs[reader].append(json.loads(result.stdout.strip().splitlines()[-1]))
            print(f"{reader}: {runs[reader][-1]['rows_per_second']:,} rows/s", flush=True)

    def median(reader: str, key: str) -> float:
        return statistics.median(run[key] for run in runs[reader])

    figures: dict = {"file_mb": round(size / 2**20, 1), "rows": rows, "shards": shards}
    figures["repeats"] = repeat
    for reader in READERS:
        figures[f"{reader}_rows_per_second"] = round(median(reader, "rows_per_second"))
        figures[f"{reader}_rows_per_second_each"] = [r["rows_per_second"] for r in runs[reader]]
        figures[f"{reader}_scan_seconds"] = median(reader, "scan_seconds")
        figures[f"{reader}_cpu_seconds"] = median(reader, "cpu_seconds")
        figures[f"{reader}_peak_rss_mb"] = max(run["peak_rss_mb"] for run in runs[reader])
        figures[f"{reader}_scan_added_mb"] = max(
            round(run["peak_rss_mb"] - run["peak_before_scan_mb"], 1) for run in runs[reader]
        )
    figures["speedup"] = round(
        figures["auto_rows_per_second"] / figures["exact_rows_per_second"], 2
    )
    figures["cpu_speedup"] = round(figures["exact_cpu_seconds"] / figures["auto_cpu_seconds"], 2)
    digests = {run["digest"] for reader in READERS for run in runs[reader]}
    figures["same_counts"] = len(digests) == 1
    figures["cores"] = os.cpu_count()
    return figures


def main() -> None:
    if sys.argv[1:2] == ["--scan-child"]:
        scan_child(*sys.argv[2:5])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("size_mb", nargs="?", type=float, default=2048)
    parser.add_argument("--shards", type=int, default=8)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--scan-only", action="store_true")
    parser.add_argument("--repeat", type=int, default=3, help="--scan-only: scans per reader")
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
        if args.scan_only:
            emit(scan_only(folder, rows, size, args.shards, args.repeat), args.json)
            return
        figures = train_figures(folder, rows, size, args)
    emit(figures, args.json)


def train_figures(folder: Path, rows: int, size: int, args: argparse.Namespace) -> dict:
    """One streamed training run of the shards in a fresh process: its peak memory."""
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
    return figures


if __name__ == "__main__":
    main()
