"""Run the whole benchmark suite and write benchmarks/RESULTS.md (and results.json).

    pip install '.[bench]'              # scikit-learn, fastText; jax is optional
    python benchmarks/run_all.py        # the full suite: about 2 h on 2 cores
    python benchmarks/run_all.py --only throughput_banking77,baselines   # re-run some steps
    python benchmarks/run_all.py --render                 # RESULTS.md from results.json only
    python benchmarks/run_all.py --quick                  # minutes; checks the suite runs,
                                                          # writes to benchmarks/quick/

Every step is one of the scripts in benchmarks/ (or `seqcls train` / `seqcls tune` on a
shipped config), run in its own process, one after another so they do not compete for the cores. Each
step's figures, command and wall time go into results.json; steps re-run with --only
replace their own entry and keep the others. RESULTS.md is rendered from results.json
alone: every figure in it comes from a measurement recorded there. A failed step is
recorded with the end of its log and the others still run; the exit code is then 1.
Saving re-reads results.json and replaces only this call's steps, so that two calls
with different --only steps keep each other's figures.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, machine, train_command  # noqa: E402

HERE = ROOT / "benchmarks"
CONFIGS_BY_DATASET = {"banking77": ["banking77", "banking77_glove"], "austen": ["austen"]}
CONFIGS = [config for configs in CONFIGS_BY_DATASET.values() for config in configs]
CALIBRATED = ["banking77", "austen"]  # the calibration step's configs
TARGETS = {
    "throughput_austen": 2.0,
    "throughput_banking77": 1.3,
    "help_seconds": 0.5,
    "batch_texts_per_s": 2000,
    "serve_p50_ms": 15,
    "onnx_one_text_seconds": 1.5,
    "serve_texts_per_s": 3000,
}


@dataclass
class Step:
    name: str
    what: str
    full: list[str]
    quick: list[str]
    needs: list[str] = field(default_factory=list)  # importable modules; else skipped

    def arguments(self, quick: bool) -> list[str]:
        return self.quick if quick else self.full


def steps() -> list[Step]:
    return [
        Step(
            "throughput_banking77",
            "training throughput and time to accuracy against a hand-written script",
            ["throughput.py", "banking77", "--epochs", "14"],
            ["throughput.py", "banking77", "--rows", "600", "--epochs", "2"],
        ),
        Step(
            "throughput_austen",
            "training throughput and time to accuracy against a hand-written script",
            ["throughput.py", "austen", "--epochs", "5"],
            ["throughput.py", "austen", "--rows", "200", "--epochs", "2"],
        ),
        Step("configs", "the shipped configs, trained by `seqcls train`", [], []),
        # banking77.yaml and austen.yaml once more, for the calibration blocks of their
        # metrics.json (about 15 minutes on 2 cores; configs records them too since then).
        Step(
            "calibration",
            "ECE, Brier score and NLL before and after the temperature fitted on valid",
            [],
            [],
        ),
        Step(
            "baselines",
            "TF-IDF + linear SVM and fastText",
            ["baselines.py", "banking77", "austen"],
            ["baselines.py", "banking77"],
            needs=["sklearn"],
        ),
        # One banking77.yaml training with a quarter of the intents held out (about 4 min).
        Step(
            "out_of_scope",
            "out-of-scope detection: a quarter of banking77's intents held out as unknown",
            ["out_of_scope.py"],
            ["out_of_scope.py", "--quick"],
        ),
        Step("predict_speed", "start-up and prediction speed", ["predict_speed.py"], []),
        Step(
            "serve_load",
            "`seqcls serve` under 1, 8 and 64 concurrent clients",
            ["serve_load.py"],
            [],
            needs=["fastapi", "uvicorn", "aiohttp"],
        ),
        Step("flops", "share of the CPU's floating-point peak", ["flops.py"], []),
        Step("read_memory", "memory of reading a CSV in memory", ["read_memory.py", "100"], []),
        Step(
            "streaming_memory",
            "memory of training from a large CSV with data.streaming",
            ["streaming_memory.py", "512", "--shards", "4", "--steps", "100"],
            ["streaming_memory.py", "8", "--shards", "2", "--steps", "5"],
        ),
        Step(
            "streaming_scan",
            "the streaming scan's rows/s: Arrow against the csv module, same shards",
            ["streaming_memory.py", "256", "--scan-only", "--shards", "8", "--repeat", "3"],
            ["streaming_memory.py", "8", "--scan-only", "--shards", "2", "--repeat", "1"],
        ),
        Step(
            "jax_backend",
            "Keras on JAX against TensorFlow",
            ["jax_backend.py", "3"],
            ["jax_backend.py", "2"],
            needs=["jax"],
        ),
        # The default recipe (what `seqcls init --data` writes) on data never used to choose
        # it, against TF-IDF + LinearSVC and fastText (benchmarks/datasets.md; an hour or
        # more on 2 cores, mostly the long BBC articles).
        Step(
            "generalisation",
            "the default recipe on six data sets it was not tuned on",
            ["generalisation.py"],
            ["generalisation.py", "--quick", "--datasets", "trec,sms_spam"],
            needs=["sklearn"],
        ),
        # The trial counts of the first searches (benchmarks/NOTES.md): about 15 and 25
        # minutes on 2 cores. Quick: the tiny config, 2 trials.
        Step(
            "tune_banking77",
            "a hyperparameter search with `seqcls tune`",
            ["tune", "configs/banking77.yaml", "--trials", "10"],
            ["tune", "configs/tiny.yaml", "--trials", "2"],
        ),
        Step(
            "tune_austen",
            "a hyperparameter search with `seqcls tune`",
            ["tune", "configs/austen.yaml", "--trials", "6"],
            ["tune", "configs/tiny.yaml", "--trials", "2"],
        ),
    ]


def log_tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def run_script(arguments: list[str], out: Path, log: Path) -> dict:
    """One benchmark script in its own process; its figures from --json OUT."""
    command = [sys.executable, str(HERE / arguments[0]), *arguments[1:], "--json", str(out)]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(ROOT)}
    start = time.perf_counter()
    with open(log, "w", encoding="utf-8") as handle:
        code = subprocess.run(command, cwd=ROOT, stdout=handle, stderr=subprocess.STDOUT, env=env)
    seconds = round(time.perf_counter() - start, 1)
    shown = "python benchmarks/" + " ".join(arguments)
    if code.returncode != 0 or not out.is_file():
        return {"command": shown, "seconds": seconds, "error": log_tail(log)}
    return {"command": shown, "seconds": seconds, "figures": json.loads(out.read_text())}


def run_logged(command: list[str], log: Path) -> tuple[int, float]:
    """A seqcls command in its own process, its output in `log`: (exit code, seconds)."""
    start = time.perf_counter()
    with open(log, "w", encoding="utf-8") as handle:
        code = subprocess.run(
            command,
            cwd=ROOT,
            stdout=handle,
            stderr=subprocess.STDOUT,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
        )
    return code.returncode, round(time.perf_counter() - start, 1)


def train_config(name: str, work: Path, quick: bool) -> dict:
    """`seqcls train configs/NAME.yaml` as a user runs it; figures from the run directory."""
    run_dir = work / "runs" / name
    overrides = ["training.epochs=1"] if quick else []
    command = train_command(
        f"configs/{name}.yaml", run_dir, *overrides, options=("--force", "--progress", "plain")
    )
    log = work / f"train-{name}.log"
    code, seconds = run_logged(command, log)
    shown = " ".join([f"seqcls train configs/{name}.yaml", *(f"--set {o}" for o in overrides)])
    if code != 0:
        return {"command": shown, "seconds": seconds, "error": log_tail(log)}
    metrics = json.loads((run_dir / "metrics.json").read_text())
    manifest = json.loads((run_dir / "manifest.json").read_text())
    with open(run_dir / "history.csv", newline="") as handle:
        history = list(csv.DictReader(handle))
    return {
        "command": shown,
        "seconds": seconds,
        "config_sha256": config_digest(ROOT / "configs" / f"{name}.yaml"),
        "run_dir": str(run_dir),
        "figures": {
            "test_accuracy": round(metrics["test"]["accuracy"], 4),
            "test_macro_f1": round(metrics["test"]["macro_f1"], 4),
            "valid_accuracy": round(metrics["valid"]["accuracy"], 4),
            "epochs_run": manifest["epochs_run"],
            "best_epoch": manifest["best_epoch"],
            "train_wall_seconds": manifest["wall_seconds"],
            "epoch_seconds": [round(float(row["seconds"]), 1) for row in history],
            "parameters": manifest["parameters"],
            "max_length": manifest["max_length"],
            **calibration_figures(run_dir, metrics),
        },
    }


def calibration_figures(run_dir: Path, metrics: dict) -> dict:
    """The run's temperature (calibration.json, fitted on valid) and each split's ECE,
    Brier score and NLL before and after it (metrics.json); empty for a run without."""
    path = run_dir / "calibration.json"
    if not path.is_file():
        return {}
    fitted = json.loads(path.read_text())
    splits = {}
    for split in ("valid", "test"):
        block = (metrics.get(split) or {}).get("calibration")
        if block:
            splits[split] = {
                "ece_bins": block["ece_bins"],
                "predictions": block["predictions"],
                **{
                    when: {k: round(v, 4) for k, v in block[when].items()}
                    for when in ("before", "after")
                },
            }
    return {"calibration": {"temperature": fitted.get("temperature"), "splits": splits}}


def tune_config(step: Step, work: Path, quick: bool) -> dict:
    """`seqcls tune configs/NAME.yaml --trials N` as a user runs it, in a new tune
    directory; figures from the files the search leaves there."""
    arguments = step.arguments(quick)
    tune_dir = work / step.name
    options = ["--output-dir", str(tune_dir), "--progress", "plain"]
    command = [sys.executable, "-m", "seqcls", arguments[0], str(ROOT / arguments[1])]
    command += [*arguments[2:], *options]
    log = work / f"{step.name}.log"
    digest = config_digest(ROOT / arguments[1])  # the version searched (read at its start)
    code, seconds = run_logged(command, log)
    shown = " ".join(["seqcls", *arguments, "--output-dir DIR --progress plain"])
    if code != 0:
        return {"command": shown, "seconds": seconds, "error": log_tail(log)}
    try:
        figures = tune_figures(tune_dir)
    except (OSError, ValueError, KeyError, StopIteration) as error:
        return {"command": shown, "seconds": seconds, "error": f"{error!r}\n{log_tail(log)}"}
    figures["config"] = arguments[1]
    return {"command": shown, "seconds": seconds, "config_sha256": digest, "figures": figures}


def config_digest(path: Path) -> str:
    """Which version of a config a step ran: the first 16 hex digits of its SHA-256."""
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def csv_value(text: str):
    """A value trials.csv holds as text: int, float, or the text (None if empty)."""
    if text == "":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def tune_figures(tune_dir: Path) -> dict:
    """What `seqcls tune` wrote: tune.yaml (the objective, the space), trials.csv (every
    trial) and best_test_metrics.json (the best trial's run on the test split, the one
    time the search reads it)."""
    import yaml

    from seqcls.tuning.space import short_names

    tune = yaml.safe_load((tune_dir / "tune.yaml").read_text(encoding="utf-8"))["tune"]
    keys = list(tune["space"])
    with open(tune_dir / "trials.csv", newline="", encoding="utf-8") as handle:
        rows = [{k: csv_value(v) for k, v in row.items()} for row in csv.DictReader(handle)]
    states = Counter(row["state"] for row in rows)
    test_path = tune_dir / "best_test_metrics.json"
    test = json.loads(test_path.read_text(encoding="utf-8")) if test_path.is_file() else {}
    complete = [row for row in rows if row["state"] == "complete"]
    if "trial" in test:
        best = next(row for row in rows if row["number"] == test["trial"])
    else:
        pick = min if tune["direction"] == "minimize" else max
        best = pick(complete, key=lambda row: row["objective"]) if complete else None
    figures = {
        "metric": tune["metric"],
        "direction": tune["direction"],
        "pruning": tune["pruning"],
        "space": keys,
        "names": short_names(keys),
        "trials_finished": states["complete"] + states["pruned"],
        "trials_complete": states["complete"],
        "trials_pruned": states["pruned"],
        "trials_failed": states["failed"],
        "trials": [
            {k: row[k] for k in ("number", "state", "objective", "epochs", "seconds")}
            for row in rows
        ],
        "best_trial": None,
    }
    if best is not None:
        figures.update(
            best_trial=best["number"],
            best_valid=round(best["objective"], 6),
            best_epochs=best["epochs"],
            best_params={key: best[key] for key in keys},
        )
    if "accuracy" in test:
        figures.update(
            test_accuracy=round(test["accuracy"], 4), test_macro_f1=round(test["macro_f1"], 4)
        )
    return figures


def available(module: str) -> bool:
    from importlib.util import find_spec

    return find_spec(module) is not None


def run_steps(chosen: list[Step], quick: bool, results: dict, save, facts: dict) -> None:
    """Run the steps one after another, saving after each; `facts` (machine()) go into
    an entry measured on another machine than the suite's (results["machine"])."""
    with tempfile.TemporaryDirectory(prefix="seqcls-bench-") as tmp:
        work = Path(tmp)
        for step in chosen:
            print(f"[{datetime.now():%H:%M:%S}] {step.name}: {step.what}", flush=True)
            missing = [module for module in step.needs if not available(module)]
            if missing:
                entry = {"skipped": f"{', '.join(missing)} not installed"}
            elif step.name in ("configs", "calibration"):
                names = CONFIGS if step.name == "configs" else CALIBRATED
                names = names[:1] if quick else names
                entry = {"runs": {name: train_config(name, work, quick) for name in names}}
                entry["seconds"] = round(sum(run["seconds"] for run in entry["runs"].values()), 1)
            elif step.name.startswith("tune_"):
                entry = tune_config(step, work, quick)
            elif step.name == "predict_speed":
                entry = on_banking_run(results, work, quick, "predict_speed.py")
            elif step.name == "serve_load":
                entry = on_banking_run(results, work, quick, "serve_load.py")
            else:
                arguments = step.arguments(quick) or step.full
                entry = run_script(arguments, work / f"{step.name}.json", work / f"{step.name}.log")
            entry["measured_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
            if describe_machine(facts) != describe_machine(results.get("machine", {})):
                entry["machine"] = facts
            results[step.name] = entry
            save(results)
            if "error" in entry:
                print(f"  FAILED:\n{entry['error']}", flush=True)
            elif "skipped" in entry:
                print(f"  skipped: {entry['skipped']}", flush=True)
            else:
                print(f"  done in {entry.get('seconds', '-')} s", flush=True)
        for name in ("configs", "calibration"):
            for entry in results.get(name, {}).get("runs", {}).values():
                entry.pop("run_dir", None)  # a temporary folder, gone now
        save(results)


def on_banking_run(results: dict, work: Path, quick: bool, script: str) -> dict:
    """`script RUN_DIR` on the configs step's banking77 run, or on a one-epoch run of the
    same config trained here (the same model; speed does not depend on the weights)."""
    run_dir = results.get("configs", {}).get("runs", {}).get("banking77", {}).get("run_dir")
    run = "the configs step's banking77 run"
    if not run_dir or not Path(run_dir).is_dir():
        run_dir, run = str(work / "speed_run"), "configs/banking77.yaml --set training.epochs=1"
        if not Path(run_dir, "model.keras").is_file():
            command = train_command("configs/banking77.yaml", run_dir, "training.epochs=1")
            with open(work / "speed_train.log", "w", encoding="utf-8") as log:
                done = subprocess.run(command + ["--progress", "plain"], stdout=log, stderr=log)
            if done.returncode != 0:
                return {"error": log_tail(work / "speed_train.log")}
    name = script.removesuffix(".py")
    arguments = [script, run_dir] + (["--quick"] if quick else [])
    entry = run_script(arguments, work / f"{name}.json", work / f"{name}.log")
    entry["command"] = f"python benchmarks/{script} RUN_DIR" + (" --quick" if quick else "")
    entry["run"] = run
    return entry


# --- rendering ---------------------------------------------------------------------------


def fmt(value, digits: int = 0) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and digits:
        return f"{value:,.{digits}f}"
    if isinstance(value, (int, float)):
        return f"{round(value):,}"
    return str(value)


def figures_of(results: dict, name: str) -> dict | None:
    return (results.get(name) or {}).get("figures")


def not_measured(results: dict, name: str) -> str:
    entry = results.get(name)
    if entry is None:
        return f"Not measured: run `python benchmarks/run_all.py --only {name}`.\n"
    if "skipped" in entry:
        return f"Skipped: {entry['skipped']}.\n"
    return f"Failed (`{entry.get('command')}`):\n\n```\n{entry.get('error', '')}\n```\n"


def verdict(met: bool | None, text: str) -> str:
    return {True: "met", False: "missed", None: "not measured"}[met] + (f": {text}" if text else "")


def targets_section(results: dict) -> list[str]:
    rows = []
    for dataset in ("austen", "banking77"):
        f = figures_of(results, f"throughput_{dataset}")
        goal = TARGETS[f"throughput_{dataset}"]
        if f:
            ours = f["seqcls"]["test_accuracy_at_best_dev"]
            theirs = f["reference"]["test_accuracy_at_best_dev"]
            ratio = f["samples_per_s_ratio"]
            met = ratio >= goal and ours >= theirs
            text = f"{ratio:.2f}x samples/s; test accuracy {ours:.4f} vs the script's {theirs:.4f}"
        else:
            met, text = None, ""
        rows.append(
            (
                f"training throughput on {dataset} >= {goal}x the script, at >= its accuracy",
                met,
                text,
            )
        )
    base = figures_of(results, "baselines") or {}
    runs = (results.get("configs") or {}).get("runs", {})
    for dataset, configs in CONFIGS_BY_DATASET.items():
        svm = (base.get(dataset) or {}).get("tfidf_linear_svm")
        for config in configs:
            f = (runs.get(config) or {}).get("figures")
            if f and isinstance(svm, dict):
                gap = f["test_accuracy"] - svm["accuracy"]
                met, text = (
                    gap >= 0,
                    (
                        f"`{config}.yaml` {f['test_accuracy']:.4f} vs {svm['accuracy']:.4f} ({gap:+.4f})"
                    ),
                )
            else:
                met, text = None, ""
            rows.append((f"test accuracy >= TF-IDF + linear SVM on {dataset}", met, text))
    serving = figures_of(results, "serve_load")
    if serving:
        one = next(level for level in serving["levels"] if level["clients"] == 1)
        many = max(
            (level for level in serving["levels"] if level["clients"] == 64),
            key=lambda level: level["texts_per_s"],
        )
        rows.append(
            (
                f"`seqcls serve`: p50 < {TARGETS['serve_p50_ms']} ms, one text, one client",
                one["p50_ms"] < TARGETS["serve_p50_ms"],
                f"{one['p50_ms']:.1f} ms",
            )
        )
        rows.append(
            (
                f"`seqcls serve`: >= {TARGETS['serve_texts_per_s']:,} texts/s at 64 clients",
                many["texts_per_s"] >= TARGETS["serve_texts_per_s"],
                f"{many['texts_per_s']:,} texts/s ({many['texts_per_request']} per request)",
            )
        )
    speed = figures_of(results, "predict_speed")
    if speed and "one_text_onnx_seconds" in speed:
        rows.append(
            (
                f"`seqcls predict RUN -`, one text, through ONNX < {TARGETS['onnx_one_text_seconds']} s",
                speed["one_text_onnx_seconds"] < TARGETS["onnx_one_text_seconds"],
                f"{speed['one_text_onnx_seconds']:.2f} s (Keras: {speed['one_text_command_seconds']:.2f} s)",
            )
        )
    if speed:
        rows.append(
            (
                "`seqcls --help` < 0.5 s",
                speed["help_seconds"] < TARGETS["help_seconds"],
                f"{speed['help_seconds']:.2f} s",
            )
        )
        rows.append(
            (
                "batch predict >= 2,000 texts/s on banking77",
                speed["batch_texts_per_s"] >= TARGETS["batch_texts_per_s"],
                f"{speed['batch_texts_per_s']:,.0f} texts/s",
            )
        )
    else:
        rows.append(("`seqcls --help` < 0.5 s", None, ""))
        rows.append(("batch predict >= 2,000 texts/s on banking77", None, ""))
    lines = ["## Targets (issue 6)", "", "| target | result |", "| --- | --- |"]
    lines += [f"| {target} | {verdict(met, text)} |" for target, met, text in rows]
    return lines + [""]


def curve_line(who: str, run: dict) -> str:
    """'- who: setup S s; T s: dev accuracy, ...' for one side of a throughput run."""
    points = zip(run["elapsed_seconds"], run["dev_accuracy"])
    return f"- {who}: setup {run['setup_seconds']:.1f} s; " + ", ".join(
        f"{seconds:.0f} s: {accuracy:.3f}" for seconds, accuracy in points
    )


def throughput_section(results: dict) -> list[str]:
    lines = [
        "## Training throughput and time to accuracy against a hand-written Keras script",
        "",
        "`benchmarks/throughput.py`: the same model on both sides (Embedding 128, Bi-LSTM 128",
        "concat, additive attention, batch 32, Adam 1e-3, no dropout), trained in the same",
        "process on the same rows. The script is the tutorial pattern: TextVectorization",
        "padded to a fixed length (seqcls's own max_length, so both see the same tokens) and",
        "applied per batch every epoch, and the attention written out with Flatten -> softmax",
        "-> RepeatVector/Permute -> Multiply, which drops the mask (its softmax also weighs",
        "padded steps). samples/s: median over epochs 2.. (epoch 1 traces). Time to accuracy:",
        "setup (vocabulary, ids, model) plus training seconds until the dev accuracy first",
        "reaches the lower of the two runs' best dev accuracies; scoring after each epoch is",
        "not timed. Test accuracy is taken at each run's best dev epoch.",
        "",
        "| dataset | command | train rows | max_length | seqcls samples/s | script samples/s "
        "| ratio | target dev acc. | seqcls s to it | script s to it | ratio "
        "| seqcls test acc. | script test acc. |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    missing = []
    curves = []
    for dataset in ("banking77", "austen"):
        name = f"throughput_{dataset}"
        f = figures_of(results, name)
        if not f:
            missing.append(f"{dataset}: " + not_measured(results, name))
            continue
        s, r = f["seqcls"], f["reference"]
        lines.append(
            f"| {dataset} | `{results[name]['command']}` | {f['rows']['train']:,} "
            f"| {f['max_length']} | {s['samples_per_s']:,.0f} | {r['samples_per_s']:,.0f} "
            f"| {f['samples_per_s_ratio']:.2f}x | {f['target_dev_accuracy']:.4f} "
            f"| {fmt(f['seqcls_seconds_to_target'], 1)} | {fmt(f['reference_seconds_to_target'], 1)} "
            f"| {f['time_to_accuracy_ratio']:.2f}x | {s['test_accuracy_at_best_dev']:.4f} "
            f"(epoch {s['best_epoch']}) | {r['test_accuracy_at_best_dev']:.4f} "
            f"(epoch {r['best_epoch']}) |"
        )
        curves += [
            "",
            f"{dataset}, per epoch (elapsed seconds including setup: dev accuracy):",
            "",
            curve_line("seqcls", s),
            curve_line("script", r),
        ]
        done = s["elapsed_seconds"][-1]
        within = [i for i, t in enumerate(r["elapsed_seconds"]) if t <= done]
        if within:
            k = within[-1]
            curves += [
                "",
                f"In the {done:.0f} s seqcls took for {len(s['elapsed_seconds'])} epochs, the"
                f" script completed {k + 1}: dev accuracy {r['dev_accuracy'][k]:.3f}, test"
                f" {r['test_accuracy'][k]:.4f} (seqcls: dev {s['dev_accuracy'][-1]:.3f}, test"
                f" {s['test_accuracy'][-1]:.4f}).",
            ]
    lines += curves + [""] + missing
    lines += [
        "",
        "Where the gain comes from: length bucketing (TensorFlow's CPU LSTM loop runs every",
        "padded step; a bucketed batch is padded only to its longest text) and ids computed",
        "once instead of re-tokenizing every epoch.",
        "",
    ]
    return lines


def accuracy_section(results: dict) -> list[str]:
    lines = [
        "## Accuracy against peer baselines (test splits)",
        "",
        "seqcls: `seqcls train configs/<config>.yaml` as shipped (whole-command wall time);",
        "peers: `python benchmarks/baselines.py` (TF-IDF of 1-2 grams + linear SVM from",
        "scikit-learn; fastText supervised, 25 epochs, bigrams), scored with seqcls's metrics.",
        "",
        "| dataset | model | test accuracy | test macro-F1 | training time |",
        "| --- | --- | --- | --- | --- |",
    ]
    runs = (results.get("configs") or {}).get("runs", {})
    base = figures_of(results, "baselines") or {}
    described = {
        "banking77": "`banking77.yaml` (Bi-LSTM + attention)",
        "banking77_glove": "`banking77_glove.yaml` (+ GloVe 50d vectors)",
        "austen": "`austen.yaml` (Bi-LSTM + max pooling)",
    }
    notes = []
    for dataset, configs in CONFIGS_BY_DATASET.items():
        for config in configs:
            entry = runs.get(config) or {}
            f = entry.get("figures")
            if f:
                lines.append(
                    f"| {dataset} | seqcls {described[config]}; {f['epochs_run']} epochs, "
                    f"best {f['best_epoch']} | {f['test_accuracy']:.4f} | {f['test_macro_f1']:.4f} "
                    f"| {entry['seconds']:.0f} s |"
                )
            elif "configs" in results:
                notes.append(f"{config}: " + (entry.get("error") or "not run"))
        tuned = figures_of(results, f"tune_{dataset}")
        if tuned and tuned.get("test_accuracy") is not None:
            config = Path(tuned.get("config", f"configs/{dataset}.yaml")).name
            lines.append(
                f"| {dataset} | seqcls `{config}` tuned: the best of "
                f"{tuned['trials_finished']} `seqcls tune` trials (trial {tuned['best_trial']}), "
                f"{tuned['best_epochs']} epochs | {tuned['test_accuracy']:.4f} "
                f"| {tuned['test_macro_f1']:.4f} "
                f"| {results[f'tune_{dataset}']['seconds']:,.0f} s (the search) |"
            )
        for peer, title in (("tfidf_linear_svm", "TF-IDF + linear SVM"), ("fasttext", "fastText")):
            value = (base.get(dataset) or {}).get(peer)
            if isinstance(value, dict):
                lines.append(
                    f"| {dataset} | {title} | {value['accuracy']:.4f} | {value['macro_f1']:.4f} "
                    f"| {value['train_seconds']:.1f} s |"
                )
            elif value:
                lines.append(f"| {dataset} | {title} | {value} | | |")
    if "configs" not in results:
        lines += ["", not_measured(results, "configs")]
    if not base:
        lines += ["", not_measured(results, "baselines")]
    lines += [""] + [f"- {note}" for note in notes]
    lines += tuned_section(results)
    lines += [
        "",
        "A few thousand training texts per dataset is where a linear model on 1-2 gram TF-IDF",
        "features is hard to beat; both shipped configs blend such a model into the network",
        "(`model.linear`, fitted on train, weighed on valid). The tuned rows searched the",
        "configs before `model.linear`. Configurations tried and their figures:",
        "`benchmarks/NOTES.md`.",
        "",
    ]
    return lines


def tuned_values(f: dict) -> str:
    """The best trial's values, by short name: 'learning_rate 0.00137, batch_size 32'."""
    names = f.get("names", {})
    shown = []
    for key, value in (f.get("best_params") or {}).items():
        text = f"{value:.3g}" if isinstance(value, float) else str(value)
        shown.append(f"{names.get(key, key)} {text}")
    return ", ".join(shown)


def tuned_section(results: dict) -> list[str]:
    """The tune steps: each search's command, trials and wall time, its best trial on
    valid, and that trial's test accuracy against the hand-written config's and TF-IDF's."""
    lines = [
        "",
        "Tuned: `seqcls tune` on the config in the command with its default search space",
        "(learning rate, batch size, embedding and encoder widths, encoder dropout), TPE",
        "seeded from the config's seed, median pruning; each trial is a `seqcls train` run",
        "without the test split, the best is chosen on the valid split and its run is",
        "evaluated on the test split once, at the end. Wall time: the whole command.",
        "",
        "| dataset | command | trials: complete / pruned / failed | wall time "
        "| best trial: valid objective | its test accuracy | hand-written config "
        "| TF-IDF + linear SVM | best trial's values |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    runs = (results.get("configs") or {}).get("runs", {})
    base = figures_of(results, "baselines") or {}
    missing = []
    for dataset in CONFIGS_BY_DATASET:
        name = f"tune_{dataset}"
        f = figures_of(results, name)
        if not f:
            missing.append(f"{name}: " + not_measured(results, name))
            continue
        entry = results[name]
        written = ((runs.get(dataset) or {}).get("figures") or {}).get("test_accuracy")
        trained = (runs.get(dataset) or {}).get("config_sha256")
        searched = (
            entry.get("config_sha256") if f.get("config") == f"configs/{dataset}.yaml" else None
        )
        if trained and searched and trained != searched:  # (quick mode searches tiny.yaml)
            missing.append(
                f"{name}: the search ran on another version of `{dataset}.yaml` than the "
                f"configs step trained; re-run both: `python benchmarks/run_all.py --only "
                f"configs,{name}`.\n"
            )
        svm = (base.get(dataset) or {}).get("tfidf_linear_svm")
        svm = svm.get("accuracy") if isinstance(svm, dict) else None
        if f.get("best_trial") is None:
            best = "no trial completed"
        else:
            best = f"trial {f['best_trial']}: {f['metric']} {f['best_valid']:.4f}"
        lines.append(
            f"| {dataset} | `{entry['command']}` | {f['trials_complete']} / "
            f"{f['trials_pruned']} / {f['trials_failed']} | {entry['seconds'] / 60:.1f} min "
            f"| {best} | {fmt(f.get('test_accuracy'), 4)} | {fmt(written, 4)} | {fmt(svm, 4)} "
            f"| {tuned_values(f)} |"
        )
    return lines + [""] + missing


def speed_section(results: dict) -> list[str]:
    lines = [
        "## Start-up and prediction speed",
        "",
    ]
    f = figures_of(results, "predict_speed")
    if not f:
        return lines + [not_measured(results, "predict_speed")]
    run = results["predict_speed"].get("run", "the configs step's banking77 run")
    lines += [
        f"`python benchmarks/predict_speed.py RUN_DIR`, RUN_DIR: {run}; texts: BANKING77's",
        "test split. Commands run with `--engine keras` unless the row says onnx.",
        "",
        "| measure | figure |",
        "| --- | --- |",
        f"| `seqcls --help`, whole process (median of {f['repeats_cli']}) | {f['help_seconds']:.2f} s |",
        f"| batch predict in process, {f['texts']:,} texts (median of {f['repeats_batch']}) "
        f"| {f['batch_texts_per_s']:,.0f} texts/s |",
        f"| one text at a time in process (median of {f['repeats_single']}) "
        f"| {f['single_texts_per_s']:,.0f} texts/s |",
        f"| `seqcls predict RUN_DIR -`, one text on stdin, whole command "
        f"| {f['one_text_command_seconds']:.2f} s |",
        f"| `seqcls predict RUN_DIR -`, {f['texts']:,} texts on stdin, whole command "
        f"| {f['stdin_command_seconds']:.2f} s = {f['texts'] / f['stdin_command_seconds']:,.0f} texts/s |",
        f"| `seqcls predict RUN_DIR test.csv`, whole command | {f['file_command_seconds']:.2f} s |",
        f"| of which importing seqcls.inference.predict (TensorFlow) and loading the run "
        f"| {f['load_seconds']:.2f} s |",
    ]
    if "one_text_onnx_seconds" in f:
        lines += [
            f"| `seqcls predict RUN_DIR - --engine onnx`, one text on stdin, whole command "
            f"| {f['one_text_onnx_seconds']:.2f} s |",
            f"| `seqcls predict RUN_DIR test.csv --engine onnx`, whole command "
            f"| {f['file_onnx_seconds']:.2f} s |",
        ]
    lines += [
        "",
        "A single-text command through Keras is dominated by importing TensorFlow and loading",
        "the model; the ONNX engine (after `seqcls export RUN_DIR --format onnx`) imports",
        "neither. For many texts, pass them in one file or on stdin.",
        "",
    ]
    return lines


def serve_section(results: dict) -> list[str]:
    lines = ["## Serving under load", ""]
    f = figures_of(results, "serve_load")
    if not f:
        return lines + [not_measured(results, "serve_load")]
    entry = results["serve_load"]
    sixty_four = f.get("in_process_batches_of_64_texts_per_s")
    reference = (
        [
            "the Classifier in process on batches as the server forms them at most (512 texts,",
            f"sorted by length into model calls of 128), {f['in_process_texts_per_s']:,} texts/s;",
            f"on unsorted batches of 64, {sixty_four:,} texts/s.",
        ]
        if sixty_four
        else [f"the Classifier in process, batches of 64, {f['in_process_texts_per_s']:,} texts/s."]
    )
    lines += [
        f"`{entry.get('command')}` (RUN_DIR: {entry.get('run')}): `{f['server']}` in one",
        "process, aiohttp clients in another, each client sending its requests one after",
        "another on a keep-alive connection; texts from BANKING77's test split. Clients and",
        "server share the machine's cores. Reference, same run:",
        *reference,
        "",
        "| clients | texts per request | requests | p50 | p99 | texts/s | mean texts per batch | texts/s ÷ in process |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for level in f["levels"]:
        lines.append(
            f"| {level['clients']} | {level['texts_per_request']} | {level['requests']:,} "
            f"| {level['p50_ms']:.1f} ms | {level['p99_ms']:.1f} ms | {level['texts_per_s']:,} "
            f"| {level['mean_texts_per_call']} | {level['ratio_to_in_process']:.2f} |"
        )
    return lines + [""]


def flops_section(results: dict) -> list[str]:
    lines = ["## Share of the CPU's floating-point peak", ""]
    f = figures_of(results, "flops")
    if not f:
        return lines + [not_measured(results, "flops")]
    return lines + [
        "`python benchmarks/flops.py`: 3 epochs of `configs/banking77.yaml` without early",
        f"stopping (epoch seconds {', '.join(f'{s:.1f}' for s in f['epoch_seconds'])}).",
        "",
        f"- Work: 48 x H x (E + H) = {f['flops_per_token']:,} FLOPs per token for the Bi-LSTM",
        "  training step (embedding, attention and head left out: under 2%).",
        f"- Throughput: {f['samples_per_s']:,.0f} samples/s (median of epochs 2-3);"
        f" {f['real_tokens_per_text']:.1f} real tokens per text,"
        f" {f['padded_tokens_per_text']:.1f} computed with the bucketed padding.",
        f"- Achieved: {f['gflops_real_tokens']:.1f} GFLOP/s on real tokens"
        f" ({f['gflops_padded_tokens']:.1f} on computed tokens).",
        f"- Peak: {f['cores']} cores x {f['fp32_lanes']} FP32 lanes x 2 FMA units (assumed)"
        f" x 2 FLOPs x {f['mhz']:.0f} MHz = {f['peak_gflops']:.0f} GFLOP/s.",
        f"- Share: {100 * f['share_real']:.1f}% of peak on real tokens,"
        f" {100 * f['share_padded']:.1f}% on computed tokens.",
        "",
        "What limits it: a recurrent step is a (32 x 2H) by (2H x 4H) matrix product per",
        "direction, too small to keep wide vector units busy, and the steps are sequential;",
        "per-step framework overhead (the while loop, gate activations, masking) dominates.",
        "",
    ]


def memory_section(results: dict) -> list[str]:
    lines = ["## Memory: reading in memory, and streaming (data.streaming)", ""]
    f = figures_of(results, "read_memory")
    if f and "readers" in f:
        lines += [
            f"`{results['read_memory']['command']}`: a {f['file_mb']:.0f} MB CSV"
            f" ({f['rows']:,} rows; {f['parquet_mb']:.0f} MB as Parquet) read and split into"
            " texts and labels the way `seqcls train` reads it, by each reader in fresh"
            " processes (medians of 3). Cost: peak RSS less that of a process with the same"
            f" imports ({f['baseline_mb']:.0f} MB), against the CSV's size.",
            "",
            "| reader | seconds | vs before | peak RSS | cost / CSV size |",
            "| --- | --- | --- | --- | --- |",
        ]
        meaning = {
            "before": "before (csv module, a dict per row)",
            "exact": "exact (`data.reader: exact`)",
            "arrow": "arrow (`data.reader: auto`, the default)",
            "parquet": "Parquet file",
        }
        for reader, r in f["readers"].items():
            lines.append(
                f"| {meaning.get(reader, reader)} | {r['seconds']:.2f} |"
                f" {r['speedup_vs_before']:.1f}x | {r['peak_mb']:,.0f} MB |"
                f" {r['cost_per_file_mb']:.1f}x |"
            )
        lines.append("")
    elif f:
        lines += [
            f"`{results['read_memory']['command']}`: a {f['file_mb']:.0f} MB CSV"
            f" ({f['rows']:,} rows) read in {f['seconds']:.1f} s; reading costs"
            f" {f['cost_per_file_mb']:.1f}x the file.",
            "",
        ]
    else:
        lines += [not_measured(results, "read_memory")]
    f = figures_of(results, "streaming_scan")
    if f:
        lines += [
            f"`{results['streaming_scan']['command']}`: the first pass of `data.streaming`"
            f" (seqcls.data.streaming.scan) over {f['file_mb']:,.0f} MB of generated CSV in"
            f" {f['shards']} shards ({f['rows']:,} rows), each reader in fresh processes, taking"
            f" turns, medians of {f['repeats']}: the csv module (`data.reader: exact`)"
            f" {f['exact_rows_per_second']:,} rows/s ({f['exact_scan_seconds']:.1f} s), Arrow"
            f" (`auto`, the default) {f['auto_rows_per_second']:,} rows/s"
            f" ({f['auto_scan_seconds']:.1f} s): {f['speedup']:.1f}x the rows/s,"
            f" {f['cpu_speedup']:.1f}x less CPU time. The scan added at most"
            f" {f['auto_scan_added_mb']:,.0f} MB (Arrow) and {f['exact_scan_added_mb']:,.0f} MB"
            " (csv module) to the process; both counted the same tokens, lengths and labels:"
            f" {'yes' if f['same_counts'] else 'NO'}. The ratio needs both cores free: Arrow"
            " counts in threads.",
            "",
        ]
    f = figures_of(results, "streaming_memory")
    if f:
        lines += [
            f"`{results['streaming_memory']['command']}`: {f['file_mb']:,.0f} MB of generated"
            f" CSV in {f['shards']} shards ({f['rows']:,} rows), trained with"
            " `data.streaming: true` for one epoch of"
            f" {f['steps']} steps: peak RSS of the training process {f['peak_rss_mb']:,.0f} MB"
            f" ({f['peak_rss_mb'] / f['file_mb']:.2f}x the file); whole command"
            f" {f['train_seconds']:.0f} s. The process's memory is TensorFlow's and the model's"
            " whatever the data size (a 2 GB run is recorded in `benchmarks/NOTES.md`).",
            "",
        ]
    else:
        lines += [not_measured(results, "streaming_memory")]
    return lines


def jax_section(results: dict) -> list[str]:
    lines = ["## Keras on JAX instead of TensorFlow (CPU)", ""]
    f = figures_of(results, "jax_backend")
    if not f:
        return lines + [not_measured(results, "jax_backend")]
    tf_, jx = f["tensorflow"], f["jax"]
    return lines + [
        f"`{results['jax_backend']['command']}`: seqcls's core model for"
        " `configs/banking77.yaml` on the same NumPy batches, `train_on_batch`, each backend"
        " in its own process.",
        "",
        "| backend | epoch seconds | samples/s (median of epochs 2..) |",
        "| --- | --- | --- |",
        f"| TensorFlow | {', '.join(f'{s:.1f}' for s in tf_['seconds'])} | {tf_['samples_per_s']:,.0f} |",
        f"| JAX | {', '.join(f'{s:.1f}' for s in jx['seconds'])} | {jx['samples_per_s']:,.0f} |",
        "",
        f"JAX / TensorFlow after compiling: {f['ratio']:.2f}x. Not adopted as"
        " `runtime.backend`: the string-input model (TextVectorization), the SavedModel export"
        " and tf.distribute are TensorFlow-only (see `benchmarks/NOTES.md`).",
        "",
    ]


def calibrated_run(results: dict, config: str) -> dict | None:
    """The latest recorded run of configs/CONFIG.yaml with calibration figures: the
    calibration step's or the configs step's."""
    found = []
    for step in ("calibration", "configs"):
        entry = results.get(step) or {}
        run = (entry.get("runs") or {}).get(config) or {}
        if "calibration" in (run.get("figures") or {}):
            found.append((entry.get("measured_at", ""), step, run))
    if not found:
        return None
    measured_at, step, run = max(found, key=lambda item: item[0])
    return {**run, "step": step, "measured_at": measured_at}


def calibration_section(results: dict) -> list[str]:
    """ECE, Brier score and NLL of valid and test before -> after the temperature."""
    lines = ["## Calibration: the temperature fitted on valid", ""]
    rows, temperatures = [], []
    for config in CALIBRATED:
        run = calibrated_run(results, config)
        if run is None:
            continue
        fitted = run["figures"]["calibration"]
        temperatures.append(fitted["temperature"])
        for split, block in fitted["splits"].items():
            before, after = block["before"], block["after"]
            rows.append(
                f"| `{config}.yaml` | {fitted['temperature']:.3f} | {split} "
                f"({block['predictions']:,}) | {before['ece']:.4f} → {after['ece']:.4f} "
                f"| {before['brier']:.4f} → {after['brier']:.4f} "
                f"| {before['nll']:.4f} → {after['nll']:.4f} "
                f"| `{run['command']}` ({run['step']} step) |"
            )
    if not rows:
        return lines + [not_measured(results, "calibration")]
    return lines + [
        "After training, one temperature T is fitted on the valid split by minimising the",
        "negative log-likelihood (test is never read for it); predict, eval and serve divide",
        "the log-probabilities by T. The predicted labels do not change. ECE: expected",
        "calibration error over 15 equal-width confidence bins; Brier score: summed over",
        "labels (0 to 2); NLL: natural log. Before → after the temperature. T < 1 sharpens",
        "the probabilities, T > 1 softens them"
        + (
            ": every T here is below 1, so the models' own probabilities are under-confident"
            " (both configs train with label smoothing 0.1, which pulls probabilities away"
            " from 0 and 1: a likely cause, not one measured here)."
            if all(t is not None and t < 1 for t in temperatures)
            else "."
        ),
        "",
        "| config | T | split (rows) | ECE | Brier | NLL | command |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        *rows,
        "",
    ]


def out_of_scope_section(results: dict) -> list[str]:
    """The held-out-intents protocol on banking77 and each confidence score's figures."""
    lines = ["## Out-of-scope inputs: banking77 with a quarter of its intents held out", ""]
    f = figures_of(results, "out_of_scope")
    if not f:
        return lines + [not_measured(results, "out_of_scope")]
    from out_of_scope import table

    rows = f["rows"]
    default = f["scores"]["calibrated_top_probability"]["test"]
    lines += [
        f"`{results['out_of_scope']['command']}`: seeded (seed {f['seed']}),"
        f" {len(f['held_out_intents'])} of the {f['intents']} intents (a quarter, chosen with"
        " `random.Random(seed).sample` over the sorted names) are held out as unknown: their"
        f" rows are relabelled `{f['out_of_scope_label']}` in train, dev and test. Then"
        f" `{f['train_command']}` (SPLIT: the relabelled CSVs; the config is otherwise"
        f" unchanged): train's `{f['out_of_scope_label']}` rows"
        f" ({rows['train']['out_of_scope']:,}) are left out, so"
        f" {f['intents'] - len(f['held_out_intents'])} intents are learnt from"
        f" {rows['train']['in_scope']:,} rows ({f['epochs_run']} epochs, best"
        f" {f['best_epoch']}, {f['train_seconds']:.0f} s); dev's"
        f" {rows['dev']['out_of_scope']} fit the abstention thresholds with its"
        f" {rows['dev']['in_scope']} in-scope rows; test's {rows['test']['out_of_scope']}"
        f" (and {rows['test']['in_scope']:,} in scope) measure. Nothing is fitted or"
        " chosen on test.",
        "",
        f"Each score's threshold is the lowest at which the kept dev predictions reach"
        f" {f['target_precision']} in-scope precision of the kept predictions (a kept"
        f" `{f['out_of_scope_label']}` row counts as wrong;"
        " `seqcls.tasks.abstention.choose_threshold`, as `seqcls train` fits"
        " abstention.json). On test: AUROC of the score (in scope the positive class); at"
        " the dev threshold, in-scope accuracy (an abstention on an in-scope row counts as"
        " wrong), OOS recall (share of out-of-scope rows abstained on), OOS precision (share"
        " of abstentions that are out of scope), coverage (share of all test rows kept) and"
        " the precision of the kept predictions.",
        "",
        f"Test in-scope accuracy never abstaining: {f['in_scope_accuracy_never_abstaining']:.4f}."
        f" At the run's own threshold (calibrated top probability, T"
        f" {f['temperature']:.3f}, threshold {f['threshold']['threshold']:.4f}):"
        f" in-scope accuracy {default['in_scope_accuracy']:.4f}, OOS recall"
        f" {default['out_of_scope_recall']:.4f}, OOS precision"
        f" {default['out_of_scope_precision']:.4f}, coverage {default['coverage']:.4f}"
        + (
            " (the same as the run's metrics.json)."
            if f.get("default_matches_run_metrics")
            else " (warning: metrics.json gives other figures)."
        ),
        "",
        table(f),
        "",
        "The energy score is logsumexp of the logits (T = 1): the output layer's values"
        " before its softmax, read from the saved model with that layer's activation set to"
        + (
            " linear (softmax of them gives the model's probabilities back to"
            f" {fmt_gap(f['logit_check_max_abs_difference'])})."
            if f.get("logit_check_max_abs_difference") is not None
            else " linear. A model that blends or averages probabilities (`model.linear`,"
            " `model.ensemble`) has no such single layer, so it is not measured for it."
        )
        + " It cannot be computed from"
        " the probabilities: log p differs from the logits by a per-row constant, which is"
        " what the energy measures. seqcls itself reports only the probability scores"
        " (metrics.json's out_of_scope.auroc).",
        "",
    ]
    return lines


def fmt_gap(value) -> str:
    return "-" if value is None else f"{value:.1e}"


def describe_machine(facts: dict) -> str:
    return (
        f"{facts.get('cpu', '?')}, {facts.get('cores', '?')} cores,"
        f" {facts.get('memory_gib', '?')} GiB, no GPU used; Python {facts.get('python', '?')},"
        f" TensorFlow {facts.get('tensorflow')}, Keras {facts.get('keras')},"
        f" NumPy {facts.get('numpy')}, scikit-learn {facts.get('scikit-learn')},"
        f" jax {facts.get('jax')}"
    )


def other_machines(results: dict) -> list[str]:
    """'Steps A, B were measured on: <machine>.' for steps run elsewhere than the suite."""
    suite = describe_machine(results.get("machine", {}))
    elsewhere: dict[str, list[str]] = {}
    for name, entry in results.items():
        if isinstance(entry, dict) and isinstance(entry.get("machine"), dict):
            described = describe_machine(entry["machine"])
            if described != suite:
                elsewhere.setdefault(described, []).append(f"`{name}`")
    return [
        f"Steps {', '.join(names)} were measured on: {described}."
        for described, names in elsewhere.items()
    ]


def generalisation_section(results: dict) -> list[str]:
    """The generalisation suite's table (benchmarks/generalisation.py renders it)."""
    figures = figures_of(results, "generalisation")
    lines = ["## Generalisation: the default recipe on data it was not tuned on", ""]
    if figures is None:
        return lines + [not_measured(results, "generalisation"), ""]
    from generalisation import table

    entry = results["generalisation"]
    return lines + [
        f"`{entry['command']}` ({entry['seconds'] / 60:.0f} min): `seqcls init --data` on each"
        " train split, then `seqcls train`; cells are test accuracy / macro-F1 / training"
        " seconds; the ratio is seqcls's accuracy over word TF-IDF + LinearSVC's. Data"
        " sources, licences and splits: `benchmarks/datasets.md`.",
        "",
        table(figures["datasets"]),
        "",
    ]


def render(results: dict, quick: bool) -> str:
    facts = results.get("machine", {})
    lines = [
        "# Benchmark results",
        "",
        "Written by `python benchmarks/run_all.py` from `benchmarks/results.json`; do not edit"
        " by hand (observations and earlier measurements: `benchmarks/NOTES.md`).",
        "",
    ]
    if quick:
        lines += [
            "**Quick mode: tiny sizes that check the suite runs. These figures mean nothing.**",
            "",
        ]
    stamps = sorted(
        entry["measured_at"]
        for entry in results.values()
        if isinstance(entry, dict) and "measured_at" in entry
    )
    if stamps:
        lines.append(f"Measured {stamps[0][:16]} to {stamps[-1][:16]} UTC on:")
    lines += [describe_machine(facts) + ".", *other_machines(results)]
    lines += [
        "Machines are shared and noisy: figures are medians, and ratios compare runs made",
        "one after the other in the same process or the same suite run.",
        "",
    ]
    lines += targets_section(results)
    lines += throughput_section(results)
    lines += accuracy_section(results)
    lines += calibration_section(results)
    lines += out_of_scope_section(results)
    lines += speed_section(results)
    lines += serve_section(results)
    lines += flops_section(results)
    lines += memory_section(results)
    lines += jax_section(results)
    lines += generalisation_section(results)
    seconds = [
        entry.get("seconds", 0)
        for entry in results.values()
        if isinstance(entry, dict) and isinstance(entry.get("seconds"), (int, float))
    ]
    lines += [
        "## Steps",
        "",
        f"Wall time of the recorded steps: {sum(seconds) / 60:.0f} minutes.",
        "",
        "| step | command | wall seconds | measured (UTC) |",
        "| --- | --- | --- | --- |",
    ]
    for step in steps():
        entry = results.get(step.name)
        if not entry:
            lines.append(f"| {step.name} | not run | | |")
            continue
        if "runs" in entry:
            for run in entry["runs"].values():
                state = " (failed)" if "error" in run else ""
                lines.append(
                    f"| {step.name} | `{run['command']}`{state} | {run['seconds']:.0f} "
                    f"| {entry['measured_at'][:16]} |"
                )
            continue
        state = (
            f"skipped: {entry['skipped']}"
            if "skipped" in entry
            else f"`{entry['command']}`" + (" (failed)" if "error" in entry else "")
        )
        lines.append(
            f"| {step.name} | {state} | {fmt(entry.get('seconds'))} | {entry['measured_at'][:16]} |"
        )
    return "\n".join(lines) + "\n"


def write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


def merged(on_disk: dict, current: dict, ran: set[str]) -> dict:
    """results.json as it is on disk, with this call's entries (`ran`) from `current`:
    another run_all call that saved meanwhile keeps its steps' figures."""
    result = dict(on_disk)
    result.update({name: entry for name, entry in current.items() if name in ran})
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks the suite runs")
    parser.add_argument("--only", help="comma-separated step names (default: all)")
    parser.add_argument("--render", action="store_true", help="only re-render RESULTS.md")
    parser.add_argument("--output", type=Path, help="folder for results.json and RESULTS.md")
    args = parser.parse_args()
    folder = args.output or (HERE / "quick" if args.quick else HERE)
    results_path = folder / "results.json"
    results = json.loads(results_path.read_text()) if results_path.is_file() else {}
    known = {step.name: step for step in steps()}
    if args.only:
        names = [name.strip() for name in args.only.split(",") if name.strip()]
        unknown = [name for name in names if name not in known]
        if unknown:
            parser.error(f"--only: unknown step(s) {unknown}; steps: {', '.join(known)}")
        chosen = [known[name] for name in known if name in names]
    else:
        chosen = list(known.values())

    # The suite's machine is recorded by a whole run (or the first); a run of some steps
    # (--only) records its machine in their entries when it is another one.
    own_machine = not args.render and (not args.only or "machine" not in results)
    ran = set() if args.render else {step.name for step in chosen}
    ran |= {"machine"} if own_machine else set()

    def save(current: dict) -> None:
        on_disk = json.loads(results_path.read_text()) if results_path.is_file() else {}
        current = merged(on_disk, current, ran)
        write_atomically(results_path, json.dumps(current, indent=2) + "\n")
        write_atomically(folder / "RESULTS.md", render(current, args.quick))

    if not args.render:
        facts = machine()
        if own_machine:
            results["machine"] = facts
        run_steps(chosen, args.quick, results, save, facts)
    save(results)
    print(f"wrote {folder / 'RESULTS.md'} and {results_path}")
    failed = [
        name
        for name, entry in results.items()
        if isinstance(entry, dict)
        and ("error" in entry or any("error" in run for run in entry.get("runs", {}).values()))
    ]
    if failed:
        print(f"failed steps: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
