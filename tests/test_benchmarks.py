"""benchmarks/run_all.py renders RESULTS.md from recorded figures only, and judges the
issue's targets from them. The benchmarks themselves are too slow for the test suite
(`python benchmarks/run_all.py --quick` checks that they run)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.fixture(scope="module")
def run_all():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        spec = importlib.util.spec_from_file_location("run_all", BENCHMARKS / "run_all.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules["run_all"] = module  # dataclasses look their module up there
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop("run_all", None)
        sys.path.remove(str(BENCHMARKS))


def throughput(ratio: float, ours: float, theirs: float) -> dict:
    run = {
        "setup_seconds": 1.0,
        "epoch_seconds": [3.0, 2.0],
        "elapsed_seconds": [4.0, 6.0],
        "dev_accuracy": [0.5, 0.6],
        "test_accuracy": [0.5, 0.6],
        "samples_per_s": 100.0,
        "best_epoch": 2,
        "best_dev_accuracy": 0.6,
    }
    return {
        "command": "python benchmarks/throughput.py x",
        "seconds": 10,
        "measured_at": "2026-11-22T10:00:00+00:00",
        "figures": {
            "rows": {"train": 1000, "dev": 100, "test": 100},
            "max_length": 40,
            "seqcls": {**run, "samples_per_s": 100.0 * ratio, "test_accuracy_at_best_dev": ours},
            "reference": {**run, "test_accuracy_at_best_dev": theirs},
            "samples_per_s_ratio": ratio,
            "target_dev_accuracy": 0.6,
            "seqcls_seconds_to_target": 6.0,
            "reference_seconds_to_target": 6.0 * ratio,
            "time_to_accuracy_ratio": ratio,
        },
    }


def config_run(accuracy: float) -> dict:
    return {
        "command": "seqcls train configs/x.yaml",
        "seconds": 100.0,
        "figures": {
            "test_accuracy": accuracy,
            "test_macro_f1": accuracy,
            "valid_accuracy": accuracy,
            "epochs_run": 5,
            "best_epoch": 4,
            "train_wall_seconds": 99.0,
            "epoch_seconds": [20.0] * 5,
            "parameters": 1000,
            "max_length": 40,
        },
    }


def test_targets_are_judged_from_the_recorded_figures(run_all):
    svm = {"accuracy": 0.88, "macro_f1": 0.88, "train_seconds": 1.0}
    results = {
        "machine": {"cpu": "Test CPU", "cores": 2},
        # 2.5x but less accurate than the script: the target needs both.
        "throughput_austen": throughput(2.5, 0.70, 0.72),
        "throughput_banking77": throughput(1.4, 0.80, 0.79),
        "configs": {
            "measured_at": "2026-11-22T10:00:00+00:00",
            "runs": {
                "banking77": config_run(0.87),
                "banking77_glove": config_run(0.8812),
                "austen": config_run(0.86),
            },
        },
        "baselines": {
            "command": "python benchmarks/baselines.py",
            "seconds": 5,
            "measured_at": "2026-11-22T10:00:00+00:00",
            "figures": {
                "banking77": {"tfidf_linear_svm": svm, "fasttext": "not installed"},
                "austen": {"tfidf_linear_svm": svm},
            },
        },
    }
    text = run_all.render(results, quick=False)
    targets = text.split("## Targets")[1].split("\n## ")[0]
    rows = [line for line in targets.splitlines() if line.startswith("| ") and "---" not in line]
    verdicts = {}
    for row in rows[1:]:
        target, result = row.strip("|").split(" | ", 1)
        verdicts.setdefault(target.strip(), []).append(result.strip())
    assert verdicts["training throughput on austen >= 2.0x the script, at >= its accuracy"] == [
        "missed: 2.50x samples/s; test accuracy 0.7000 vs the script's 0.7200"
    ]
    assert verdicts["training throughput on banking77 >= 1.3x the script, at >= its accuracy"][
        0
    ].startswith("met: 1.40x")
    banking = verdicts["test accuracy >= TF-IDF + linear SVM on banking77"]
    assert banking == [
        "missed: `banking77.yaml` 0.8700 vs 0.8800 (-0.0100)",
        "met: `banking77_glove.yaml` 0.8812 vs 0.8800 (+0.0012)",
    ]
    assert verdicts["`seqcls --help` < 0.5 s"] == ["not measured"]
    # Steps never run say how to run them, instead of showing stale or invented figures.
    assert "Not measured: run `python benchmarks/run_all.py --only flops`" in text
    assert "| fastText | not installed |" in text
    assert "Test CPU, 2 cores" in text
    assert "Quick mode" not in text


def test_a_failed_step_shows_its_log_and_quick_mode_says_so(run_all):
    results = {
        "flops": {
            "command": "python benchmarks/flops.py",
            "seconds": 3,
            "measured_at": "2026-11-22T10:00:00+00:00",
            "error": "Traceback: boom",
        },
        "jax_backend": {"skipped": "jax not installed", "measured_at": "2026-11-22T10:00:00+00:00"},
    }
    text = run_all.render(results, quick=True)
    assert "Quick mode" in text
    assert "Failed (`python benchmarks/flops.py`)" in text and "Traceback: boom" in text
    assert "Skipped: jax not installed." in text
    assert "| flops | `python benchmarks/flops.py` (failed) | 3 |" in text


def test_json_destination_and_emit_write_the_figures(run_all, tmp_path, capsys):
    import json

    import common

    argv, destination = common.json_destination(["austen", "--json", str(tmp_path / "o.json")])
    assert argv == ["austen"] and destination == tmp_path / "o.json"
    assert common.json_destination(["austen"]) == (["austen"], None)
    common.emit({"ratio": 2.5}, destination)
    assert json.loads(destination.read_text()) == {"ratio": 2.5}
    assert json.loads(capsys.readouterr().out) == {"ratio": 2.5}
    assert not list(tmp_path.glob("*.partial"))
