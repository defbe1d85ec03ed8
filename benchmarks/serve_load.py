"""Load test of `seqcls serve` on loopback: latency and throughput at 1, 8 and 64
concurrent clients, and the batch sizes the server formed.

    python benchmarks/serve_load.py RUN_DIR [--quick] [--json OUT]
        (RUN_DIR: a run trained on configs/banking77.yaml; --quick: a few requests each)

The server runs in its own process (`seqcls serve RUN_DIR --port 0`), the clients in this
one (aiohttp on asyncio: httpx's async client alone saturated a core at 64 clients), on the
same 2 cores: the figures include the clients' own CPU.
Each client sends its requests one after another; a level's requests are bounded. The
reference, measured in the same run: the run's Classifier in process (no HTTP) on batches
as the server forms them at most (512 texts, sorted by length into model calls of 128),
the ceiling the server's batching aims at; and, as earlier runs measured it, on unsorted
batches of 64 texts.
"""

from __future__ import annotations

import asyncio
import csv
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import httpx
from common import ROOT, emit, json_destination

LEVELS = (1, 8, 64)


def start_server(run_dir: Path, *options: str) -> tuple[subprocess.Popen, str]:
    command = [sys.executable, "-m", "seqcls", "serve", str(run_dir), "--port", "0", *options]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=env)
    url = None
    for line in process.stderr:
        found = re.search(r"on (http://127\.0\.0\.1:\d+)", line)
        if found:
            url = found.group(1)
            break
    if url is None:
        sys.exit("the server did not start:\n" + process.stderr.read())
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/readyz").status_code == 200:
                return process, url
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    process.kill()
    sys.exit("the server did not become ready in 120 s")


def batch_totals(url: str) -> tuple[float, float]:
    text = httpx.get(url + "/metrics").text
    count = float(re.search(r"^seqcls_batch_texts_count (\S+)$", text, re.M).group(1))
    total = float(re.search(r"^seqcls_batch_texts_sum (\S+)$", text, re.M).group(1))
    return count, total


async def level(url: str, texts: list[str], clients: int, requests: int, per_request: int):
    """`clients` clients sharing `requests` requests of `per_request` texts each, each
    client on its own keep-alive connection."""
    latencies: list[float] = []
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(url, connector=connector) as session:

        async def one_client(index: int) -> None:
            for number in range(index, requests, clients):
                start = number * per_request % (len(texts) - per_request)
                body = {"texts": texts[start : start + per_request]}
                began = time.perf_counter()
                async with session.post("/predict", json=body) as response:
                    await response.read()
                    response.raise_for_status()
                latencies.append(time.perf_counter() - began)

        began = time.perf_counter()
        await asyncio.gather(*(one_client(index) for index in range(clients)))
        seconds = time.perf_counter() - began
    latencies.sort()
    return {
        "clients": clients,
        "requests": requests,
        "texts_per_request": per_request,
        "p50_ms": round(1000 * statistics.median(latencies), 2),
        "p99_ms": round(1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))], 2),
        "texts_per_s": round(requests * per_request / seconds),
        "requests_per_s": round(requests / seconds),
    }


def measure(url: str, texts: list[str], clients: int, requests: int, per_request: int) -> dict:
    asyncio.run(level(url, texts, clients, min(requests, 8), per_request))  # warm connections
    before = batch_totals(url)
    figures = asyncio.run(level(url, texts, clients, requests, per_request))
    calls, batched = (now - then for now, then in zip(batch_totals(url), before))
    figures["model_calls"] = int(calls)
    figures["mean_texts_per_call"] = round(batched / calls, 1) if calls else None
    return figures


def in_process(run_dir: Path, texts: list[str], repeats: int) -> dict[str, float]:
    """Texts per second of the Classifier in this process: on the server's batches (512
    texts in sorted calls of 128, then each text's record), and on batches of 64."""
    import seqcls
    from seqcls.serving.batching import MODEL_CALL_TEXTS

    classifier = seqcls.load(run_dir)
    classifier.predict(texts[:64])

    def server_batch(batch: list[str]) -> None:
        outputs = classifier.outputs(batch, batch_size=MODEL_CALL_TEXTS)
        classifier.records(batch, outputs)

    figures = {}
    for name, size, run in (("server_batches", 512, server_batch), ("batches_64", 64, None)):
        times = []
        for _ in range(repeats):
            began = time.perf_counter()
            for start in range(0, 1024, size):
                (run or classifier.predict)(texts[start : start + size])
            times.append(time.perf_counter() - began)
        figures[name] = 1024 / statistics.median(times)
    return figures


def main(run_dir: Path, quick: bool, destination: Path | None) -> None:
    with open(ROOT / "data/banking77/test.csv", newline="", encoding="utf-8") as handle:
        texts = [row["text"] for row in csv.DictReader(handle)]
    scale = 0.05 if quick else 1.0
    plan = [  # (clients, requests, texts per request)
        (1, 400, 1),
        (8, 1600, 1),
        (64, 4000, 1),
        (64, 1000, 16),
    ]
    process, url = start_server(run_dir)
    try:
        levels = [
            measure(url, texts, clients, max(int(requests * scale), 4 * clients), per_request)
            for clients, requests, per_request in plan
        ]
    finally:
        process.terminate()
        code = process.wait(60)
    references = in_process(run_dir, texts, 1 if quick else 5)
    reference = references["server_batches"]
    for figures in levels:
        figures["ratio_to_in_process"] = round(figures["texts_per_s"] / reference, 3)
    emit(
        {
            "levels": levels,
            "in_process_texts_per_s": round(reference),
            "in_process_batches_of_64_texts_per_s": round(references["batches_64"]),
            "server_exit_code": code,
            "server": "seqcls serve RUN_DIR --port 0 (max_batch 512, max_wait_ms 2)",
        },
        destination,
    )


if __name__ == "__main__":
    arguments, json_out = json_destination(sys.argv[1:])
    if not arguments:
        sys.exit("usage: python benchmarks/serve_load.py RUN_DIR [--quick] [--json OUT]")
    main(Path(arguments[0]), "--quick" in arguments, json_out)
