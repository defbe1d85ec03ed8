"""What share of the CPU's floating-point peak seqcls training reaches (configs/banking77.yaml).

Counting: an LSTM step of width H on inputs of width E does 4 gates x (E + H) x H
multiply-adds = 8 H (E + H) FLOPs forward; a training step (forward, and backward at
about twice the forward) is about 24 H (E + H) per direction, so 48 H (E + H) per token
for the Bi-LSTM (the issue's formula). The embedding lookup, the attention (about 4 x 2H
FLOPs per token) and the 77-way head (per text, not per token) are left out: under 2%.

Throughput: `seqcls train configs/banking77.yaml` for 3 epochs without early stopping;
samples/s = train rows / median seconds of epochs 2-3 (history.csv). Tokens: real tokens
per text (cut at max_length) and padded tokens per text as the bucketed batches compute
them (the LSTM runs every padded step).

Peak: cores x FP32 lanes per vector (16 with AVX-512, 8 with AVX2) x FMA units per core
(assumed 2, as on Xeon cores with AVX-512) x 2 FLOPs per FMA x clock (cpu MHz in
/proc/cpuinfo).

    python benchmarks/flops.py [--json OUT]
"""

from __future__ import annotations

import csv
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from common import ROOT, emit, json_destination, train_command  # noqa: E402

FMA_UNITS = 2


def cpu_peak() -> dict:
    info = Path("/proc/cpuinfo").read_text()
    flags = next(line for line in info.splitlines() if line.startswith("flags")).split()
    mhz = float(
        next(line for line in info.splitlines() if line.startswith("cpu MHz")).split(":")[1]
    )
    lanes = 16 if "avx512f" in flags else 8 if "avx2" in flags else 4
    cores = os.cpu_count()
    return {
        "cores": cores,
        "fp32_lanes": lanes,
        "fma_units": FMA_UNITS,
        "mhz": mhz,
        "peak_gflops": cores * lanes * FMA_UNITS * 2 * mhz / 1e3,
    }


def token_counts() -> dict:
    import tensorflow as tf  # noqa: F401

    from seqcls.config import load_config
    from seqcls.training.prepare import prepare

    # The batches `seqcls train` trains on (the config's batch size, seed and bucketing).
    prepared = prepare(load_config(ROOT / "configs/banking77.yaml"))
    ids = prepared.ids["train"]
    padded = sum(int(batch.shape[0]) * int(batch.shape[1]) for batch, _ in prepared.train_data)
    rows = len(prepared.splits.train)
    return {
        "rows": rows,
        "real_tokens_per_text": float(ids.row_lengths().numpy().mean()),
        "padded_tokens_per_text": padded / rows,
    }


def main() -> None:
    _, out = json_destination(sys.argv[1:])
    with tempfile.TemporaryDirectory() as folder:
        subprocess.run(
            train_command(
                "configs/banking77.yaml",
                folder,
                "training.epochs=3",
                "training.early_stopping.enabled=false",
                "output.plots=false",
                "output.html_report=false",
                options=("--force", "--quiet"),
            ),
            check=True,
            capture_output=True,
        )
        with open(Path(folder) / "history.csv", newline="") as handle:
            seconds = [float(row["seconds"]) for row in csv.DictReader(handle)]
    tokens = token_counts()
    samples_per_s = tokens["rows"] / statistics.median(seconds[1:])
    E = H = 128
    flops_per_token = 48 * H * (E + H)
    peak = cpu_peak()
    real = samples_per_s * tokens["real_tokens_per_text"] * flops_per_token / 1e9
    padded = samples_per_s * tokens["padded_tokens_per_text"] * flops_per_token / 1e9
    figures = {
        **tokens,
        **peak,
        "epoch_seconds": seconds,
        "samples_per_s": samples_per_s,
        "flops_per_token": flops_per_token,
        "gflops_real_tokens": real,
        "gflops_padded_tokens": padded,
        "share_real": real / peak["peak_gflops"],
        "share_padded": padded / peak["peak_gflops"],
    }
    print(
        f"{samples_per_s:,.0f} samples/s x {tokens['real_tokens_per_text']:.1f} real tokens "
        f"({tokens['padded_tokens_per_text']:.1f} computed with padding) x "
        f"48*{H}*({E}+{H}) = {flops_per_token:,} FLOPs/token -> {real:.2f} GFLOP/s "
        f"({padded:.2f} with padding)\n"
        f"peak: {peak['cores']} cores x {peak['fp32_lanes']} lanes x {FMA_UNITS} FMA units x 2 "
        f"x {peak['mhz']:.0f} MHz = {peak['peak_gflops']:.0f} GFLOP/s\n"
        f"share of peak: {100 * figures['share_real']:.2f}% (real tokens), "
        f"{100 * figures['share_padded']:.2f}% (computed tokens)"
    )
    emit(figures, out)


if __name__ == "__main__":
    main()
