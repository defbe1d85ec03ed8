"""Build data/austen_caps: a BIO tagging task derived mechanically from Jane Austen's text.

Task ("capitalised-name chunking", the core of truecasing): the input is a sentence,
lowercased and tokenised; each token is tagged B-CAP or I-CAP when, in the original
text, it starts with a capital letter although it does not open the sentence, and O
otherwise; consecutive capitalised tokens form one chunk ("Frank Churchill" ->
B-CAP I-CAP; "Mr. Knightley" -> B-CAP O B-CAP, since "." is not capitalised). The
model must learn from context which lowercased words are names, titles and places.

Usage: python scripts/make_austen_caps.py SOURCE_DIR OUTPUT_DIR
SOURCE_DIR holds train.csv/dev.csv/test.csv (text,label) of Austen paragraphs
(shared/datasets/austen); the labels (novels) are not used.
"""

from __future__ import annotations

import csv
import random
import re
import sys
from pathlib import Path

TOKEN = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)*|\d+|[^\w\s]")
SENTENCE_END = {".", "!", "?"}
# "Mr." and friends end with a full stop but not a sentence.
ABBREVIATIONS = {"mr", "mrs", "dr", "st", "messrs", "col"}
ROWS = {"train": 3000, "dev": 500, "test": 500}
MIN_TOKENS, MAX_TOKENS = 6, 50


def sentences(paragraph: str):
    current: list[str] = []
    for token in TOKEN.findall(paragraph):
        abbreviation = token == "." and current and current[-1].lower() in ABBREVIATIONS
        current.append(token)
        if token in SENTENCE_END and not abbreviation:
            yield current
            current = []
    if current:
        yield current


def tag(tokens: list[str]) -> list[str]:
    tags, opening, previous_cap = [], True, False
    for token in tokens:
        capitalised = token[0].isupper() and not opening
        if capitalised:
            tags.append("I-CAP" if previous_cap else "B-CAP")
        else:
            tags.append("O")
        previous_cap = capitalised
        if token[0].isalnum():
            opening = False
    return tags


def main(source: Path, output: Path) -> None:
    output.mkdir(parents=True, exist_ok=True)
    generator = random.Random(0)
    for split, count in ROWS.items():
        with open(source / f"{split}.csv", newline="", encoding="utf-8") as handle:
            paragraphs = [row["text"] for row in csv.DictReader(handle)]
        rows = []
        for paragraph in paragraphs:
            for tokens in sentences(paragraph):
                if MIN_TOKENS <= len(tokens) <= MAX_TOKENS:
                    rows.append((" ".join(tokens).lower(), " ".join(tag(tokens))))
        generator.shuffle(rows)
        with open(output / f"{split}.csv", "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["text", "tags"])
            writer.writerows(rows[:count])
        print(f"{split}: {min(count, len(rows))} of {len(rows)} sentences")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
