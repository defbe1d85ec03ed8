"""Time and peak memory of reading a large labelled file the way `seqcls train` does, by
each reader, in one run on one file.

Writes a CSV of about SIZE_MB megabytes (BANKING77 rows repeated with a row number
appended) and the same rows as Parquet, then reads them in fresh processes:

- before: the reader as it was before Arrow (issue 19): the csv module, a dict per row,
  LabelledColumns.read per row (rebuilt here from the same functions, so it stays
  measurable);
- exact: `data.reader: exact` (the csv module, cells held by column);
- arrow: `data.reader: auto` (Arrow's parser, batch by batch);
- parquet: the same rows from the Parquet file.

Each reports its time (read and labelled split) and its peak resident memory less that of
a process that imported the same modules: the cost of reading, against the file's size.

    python benchmarks/read_memory.py [SIZE_MB] [--json OUT]
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from common import ROOT, emit, json_destination  # noqa: E402

IMPORTS = """
import io, json, resource, sys, time
from pathlib import Path
import pyarrow.csv, pyarrow.compute, pyarrow.parquet
from seqcls.data.reading import delimited_stream, read_table
from seqcls.data.splits import LabelledColumns, labelled_split
"""

BASELINE = (
    IMPORTS
    + """
print(json.dumps({"peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""
)

READER = (
    IMPORTS
    + """
path, reader = Path(sys.argv[1]), sys.argv[2]
start = time.perf_counter()
if reader == "before":
    text = path.read_bytes().decode("utf-8-sig")
    _, stream = delimited_stream(path, io.StringIO(text, newline=""), ",")
    rows, lines = [], []
    for line, row in stream:
        lines.append(line)
        rows.append(row)
    del text
    columns = LabelledColumns(["text"], "label")
    texts, labels = [], []
    for line, row in zip(lines, rows):
        text, label = columns.read(row, f"{path}, line {line}")
        texts.append(text)
        labels.append(label)
    count = len(texts)
else:
    table = read_table(path, reader="exact" if reader == "exact" else "auto",
                       columns=["text", "label"])
    split = labelled_split("train", table, "text", "label")
    count = len(split)
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"rows": count, "seconds": seconds, "peak_mb": peak}))
"""
)

READERS = ("before", "exact", "arrow", "parquet")
REPEATS = 3


WRITER = """
import csv, sys
from pathlib import Path
import pyarrow.csv, pyarrow.parquet
source, folder, size_mb = sys.argv[1], Path(sys.argv[2]), float(sys.argv[3])
with open(source, newline="", encoding="utf-8") as handle:
    rows = [(row["text"], row["label"]) for row in csv.DictReader(handle)]
with open(folder / "big.csv", "w", newline="", encoding="utf-8") as handle:
    writer = csv.writer(handle)
    writer.writerow(["text", "label"])
    number = 0
    while handle.tell() < size_mb * 1e6:
        for text, label in rows:
            writer.writerow([f"{text} #{number}", label])
            number += 1
table = pyarrow.csv.read_csv(folder / "big.csv")
pyarrow.parquet.write_table(table, folder / "big.parquet")
"""


def write_files(folder: Path, size_mb: float) -> tuple[Path, Path]:
    """The CSV and its Parquet copy, written by a child process: the parent stays small,
    so the readers it starts do not inherit its memory in their peak."""
    source = str(ROOT / "data/banking77/train.csv")
    subprocess.check_call([sys.executable, "-c", WRITER, source, str(folder), str(size_mb)])
    return folder / "big.csv", folder / "big.parquet"


def run(code: str, *arguments: str) -> dict:
    output = subprocess.check_output([sys.executable, "-c", code, *arguments], cwd=ROOT)
    return json.loads(output)


def main(size_mb: float, destination: Path | None) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path, parquet = write_files(Path(folder), size_mb)
        file_mb = path.stat().st_size / 1e6
        baseline = statistics.median(run(BASELINE)["peak_mb"] for _ in range(REPEATS))
        measured = {}
        for reader in READERS:
            source = parquet if reader == "parquet" else path
            runs = [run(READER, str(source), reader) for _ in range(REPEATS)]
            measured[reader] = {
                "rows": runs[0]["rows"],
                "seconds": round(statistics.median(r["seconds"] for r in runs), 3),
                "peak_mb": round(statistics.median(r["peak_mb"] for r in runs), 1),
            }
        parquet_mb = parquet.stat().st_size / 1e6
    before = measured["before"]
    print(f"CSV {file_mb:.0f} MB ({before['rows']:,} rows), Parquet {parquet_mb:.0f} MB;")
    print(f"imports alone {baseline:.0f} MB; medians of {REPEATS} fresh processes each")
    for reader, figures in measured.items():
        cost = figures["peak_mb"] - baseline
        figures["cost_per_file_mb"] = round(cost / file_mb, 2)
        figures["speedup_vs_before"] = round(before["seconds"] / figures["seconds"], 2)
        print(
            f"  {reader:8s} {figures['seconds']:6.2f} s ({figures['speedup_vs_before']:4.1f}x "
            f"before)  peak {figures['peak_mb']:6.0f} MB, reading costs "
            f"{figures['cost_per_file_mb']:.1f}x the CSV"
        )
    emit(
        {
            "file_mb": round(file_mb, 1),
            "parquet_mb": round(parquet_mb, 1),
            "rows": before["rows"],
            "baseline_mb": round(baseline, 1),
            "readers": measured,
            # The figures RESULTS.md quoted before there were several readers.
            "seconds": measured["arrow"]["seconds"],
            "peak_mb": measured["arrow"]["peak_mb"],
            "cost_per_file_mb": measured["arrow"]["cost_per_file_mb"],
        },
        destination,
    )


if __name__ == "__main__":
    arguments, json_out = json_destination(sys.argv[1:])
    main(float(arguments[0]) if arguments else 100.0, json_out)
