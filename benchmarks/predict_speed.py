"""Start-up and prediction speed: `seqcls --help`, one text through the CLI (Keras, and the
ONNX engine after `seqcls export --format onnx`), batch and one-at-a-time prediction
throughput on BANKING77's test texts.

    python benchmarks/predict_speed.py RUN_DIR [--quick] [--json OUT]
        (RUN_DIR: a run trained on configs/banking77.yaml; --quick: one repeat each)
"""

from __future__ import annotations

import csv
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from common import ROOT, emit, json_destination  # noqa: E402

SEQCLS = [sys.executable, "-m", "seqcls"]
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}


def wall(command: list[str], stdin: str | None = None, repeats: int = 5) -> float:
    """Median wall seconds of the whole command over `repeats` runs."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(command, input=stdin, capture_output=True, text=True, check=True, env=ENV)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(run_dir: Path, quick: bool, destination: Path | None) -> None:
    cli_repeats, batch_repeats, single_repeats = (1, 1, 10) if quick else (5, 5, 100)
    with open(ROOT / "data/banking77/test.csv", newline="", encoding="utf-8") as handle:
        texts = [row["text"] for row in csv.DictReader(handle)]
    help_seconds = wall([*SEQCLS, "--help"], repeats=cli_repeats)
    quiet = ["--output", os.devnull, "--format", "csv"]
    predict = [*SEQCLS, "predict", str(run_dir), "-", *quiet, "--engine", "keras"]
    one_text_seconds = wall(predict, stdin=texts[0] + "\n", repeats=min(cli_repeats, 3))
    stdin_seconds = wall(predict, stdin="\n".join(texts) + "\n", repeats=min(cli_repeats, 3))
    file_seconds = wall(
        [*SEQCLS, "predict", str(run_dir), str(ROOT / "data/banking77/test.csv"), *quiet]
        + ["--engine", "keras"],
        repeats=min(cli_repeats, 3),
    )
    # The same through the ONNX engine (seqcls export --format onnx; no TensorFlow import).
    subprocess.run(
        [*SEQCLS, "export", str(run_dir), "--format", "onnx", "--force"],
        capture_output=True,
        check=True,
        env=ENV,
    )
    onnx = [*SEQCLS, "predict", str(run_dir), "-", *quiet, "--engine", "onnx"]
    one_text_onnx = wall(onnx, stdin=texts[0] + "\n", repeats=cli_repeats)
    file_onnx = wall(
        [*SEQCLS, "predict", str(run_dir), str(ROOT / "data/banking77/test.csv"), *quiet]
        + ["--engine", "onnx"],
        repeats=min(cli_repeats, 3),
    )
    start = time.perf_counter()
    from seqcls.inference.predict import load_run, predict_outputs

    run = load_run(run_dir)
    load_seconds = time.perf_counter() - start
    predict_outputs(run.model, texts[:256])  # trace once
    batch = []
    for _ in range(batch_repeats):
        start = time.perf_counter()
        predict_outputs(run.model, texts)
        batch.append(time.perf_counter() - start)
    single = []
    for text in texts[:single_repeats]:
        start = time.perf_counter()
        predict_outputs(run.model, [text])
        single.append(time.perf_counter() - start)
    emit(
        {
            "texts": len(texts),
            "repeats_cli": cli_repeats,
            "repeats_batch": batch_repeats,
            "repeats_single": single_repeats,
            "help_seconds": round(help_seconds, 3),
            "one_text_command_seconds": round(one_text_seconds, 2),
            "stdin_command_seconds": round(stdin_seconds, 2),
            "file_command_seconds": round(file_seconds, 2),
            "one_text_onnx_seconds": round(one_text_onnx, 2),
            "file_onnx_seconds": round(file_onnx, 2),
            "load_seconds": round(load_seconds, 2),
            "batch_texts_per_s": round(len(texts) / statistics.median(batch)),
            "single_texts_per_s": round(1 / statistics.median(single)),
        },
        destination,
    )


if __name__ == "__main__":
    arguments, json_out = json_destination(sys.argv[1:])
    if not arguments:
        sys.exit("usage: python benchmarks/predict_speed.py RUN_DIR [--quick] [--json OUT]")
    main(Path(arguments[0]), "--quick" in arguments, json_out)
