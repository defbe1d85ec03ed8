"""Start-up and prediction speed: `seqcls --help`, one text through the CLI, batch and
one-at-a-time prediction throughput on BANKING77's test texts.

    python benchmarks/predict_speed.py RUN_DIR     (a run trained on configs/banking77.yaml)
"""

from __future__ import annotations

import csv
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEQCLS = [sys.executable, "-m", "seqcls"]
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}


def wall(command: list[str], stdin: str | None = None, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(command, input=stdin, capture_output=True, text=True, check=True, env=ENV)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(run_dir: Path) -> None:
    from seqcls.predict import load_run, predict_outputs

    with open(ROOT / "data/banking77/test.csv", newline="", encoding="utf-8") as handle:
        texts = [row["text"] for row in csv.DictReader(handle)]
    help_seconds = wall([*SEQCLS, "--help"])
    one_text_seconds = wall(
        [*SEQCLS, "predict", str(run_dir), "-"], stdin=texts[0] + "\n", repeats=3
    )
    file_seconds = wall(
        [
            *SEQCLS,
            "predict",
            str(run_dir),
            str(ROOT / "data/banking77/test.csv"),
            "--output",
            os.devnull,
            "--format",
            "csv",
        ],
        repeats=3,
    )
    run = load_run(run_dir)
    predict_outputs(run.model, texts[:256])  # trace once
    batch = []
    for _ in range(5):
        start = time.perf_counter()
        predict_outputs(run.model, texts)
        batch.append(time.perf_counter() - start)
    single = []
    for text in texts[:100]:
        start = time.perf_counter()
        predict_outputs(run.model, [text])
        single.append(time.perf_counter() - start)
    print(
        json.dumps(
            {
                "seqcls --help seconds (median of 5)": round(help_seconds, 3),
                "seqcls predict one text, whole command, seconds (median of 3)": round(
                    one_text_seconds, 2
                ),
                f"seqcls predict {len(texts)} texts file, whole command, seconds (median of 3)": round(
                    file_seconds, 2
                ),
                "batch predict texts/s in process (median of 5)": round(
                    len(texts) / statistics.median(batch)
                ),
                "one-at-a-time predict texts/s in process (median of 100)": round(
                    1 / statistics.median(single)
                ),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]))
