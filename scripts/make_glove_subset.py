"""Build data/glove/glove.6B.50d.banking77.txt: the GloVe 6B 50d vectors of the words that
occur in BANKING77 (after seqcls's default word tokenization: lowercase, Keras'
punctuation stripped, split on whitespace).

Usage: python scripts/make_glove_subset.py GLOVE_TXT OUTPUT_TXT
GLOVE_TXT: any GloVe 6B 50d text file containing those words (the full file, or
shared/datasets/glove/glove.6B.50d.subset.txt).
"""

from __future__ import annotations

import csv
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PUNCTUATION = re.compile(r'[!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~\']')


def words() -> set[str]:
    found = set()
    for split in ("train", "dev", "test"):
        with open(ROOT / f"data/banking77/{split}.csv", newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                found.update(PUNCTUATION.sub("", row["text"].lower()).split())
    return found


def main(source: Path, output: Path) -> None:
    wanted = words()
    kept = 0
    with open(source, encoding="utf-8") as reader, open(output, "w", encoding="utf-8") as writer:
        for line in reader:
            if line.split(" ", 1)[0] in wanted:
                writer.write(line)
                kept += 1
    print(f"{kept} of {len(wanted)} BANKING77 words have vectors")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
