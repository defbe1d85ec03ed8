"""Peak memory of reading a large labelled CSV the way `seqcls train` does.

Writes a CSV of about SIZE_MB megabytes (BANKING77 rows repeated with a row number
appended), then reads it in a fresh process with seqcls.data.reading.read_table and
seqcls.data.splits.labelled_split and reports peak resident memory against the file size.

    python benchmarks/read_memory.py [SIZE_MB] [--json OUT]
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from common import ROOT, emit, json_destination  # noqa: E402

READER = """
import json, resource, sys, time
from seqcls.data.splits import labelled_split
from seqcls.data.reading import read_table
start = time.perf_counter()
table = read_table(sys.argv[1])
split = labelled_split("train", table, "text", "label")
seconds = time.perf_counter() - start
peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"rows": len(split), "seconds": seconds, "peak_mb": peak_kb / 1024}))
"""

BASELINE = """
import json, resource
import seqcls.data.splits
print(json.dumps({"peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def main(size_mb: float, destination: Path | None) -> None:
    with open(ROOT / "data/banking77/train.csv", newline="", encoding="utf-8") as handle:
        rows = [(row["text"], row["label"]) for row in csv.DictReader(handle)]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "big.csv"
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["text", "label"])
            number = 0
            while handle.tell() < size_mb * 1e6:
                for text, label in rows:
                    writer.writerow([f"{text} #{number}", label])
                    number += 1
        file_mb = path.stat().st_size / 1e6
        baseline = json.loads(subprocess.check_output([sys.executable, "-c", BASELINE]))
        result = json.loads(subprocess.check_output([sys.executable, "-c", READER, str(path)]))
    cost = result["peak_mb"] - baseline["peak_mb"]
    print(f"file: {file_mb:.0f} MB, {result['rows']:,} rows; read in {result['seconds']:.1f} s")
    print(
        f"peak RSS {result['peak_mb']:.0f} MB (interpreter and imports alone: "
        f"{baseline['peak_mb']:.0f} MB); reading cost {cost:.0f} MB = {cost / file_mb:.1f}x the file"
    )
    emit(
        {
            "file_mb": round(file_mb, 1),
            "rows": result["rows"],
            "seconds": round(result["seconds"], 2),
            "peak_mb": round(result["peak_mb"], 1),
            "baseline_mb": round(baseline["peak_mb"], 1),
            "cost_per_file_mb": round(cost / file_mb, 2),
        },
        destination,
    )


if __name__ == "__main__":
    arguments, json_out = json_destination(sys.argv[1:])
    main(float(arguments[0]) if arguments else 100.0, json_out)
