"""Out-of-scope detection on BANKING77 with held-out intents (issue 20).

BANKING77 has no out-of-scope texts, so a quarter of its intents play the unknown ones:
with `random.Random(SEED).sample` over the sorted intent names, round(77 / 4) = 19
intents are held out, and their rows in train, dev and test are relabelled `oos` (nothing
else changes). `configs/banking77.yaml` is trained unchanged except for the data paths and
`data.out_of_scope_label: oos`: seqcls leaves train's `oos` rows out (58 intents are
learnt), dev's `oos` rows count as wrong when the abstention threshold is fitted on dev
(the lowest threshold at which the kept dev predictions reach the target in-scope
precision, abstention.target_precision = 0.95), and test's measure it. Nothing is fitted
or chosen on test.

Each confidence score compared gets its own threshold, fitted on dev the same way
(seqcls.tasks.abstention.choose_threshold, `oos` rows counted wrong), then applied to
test: the calibrated top probability (seqcls's default), the uncalibrated one, the margin
between the two calibrated top probabilities, and the energy score (logsumexp of the
logits, Liu et al. 2020). The model's output layer is a softmax Dense layer; the logits
are that layer's pre-activation outputs, read from a second copy of the saved model with
the layer's activation set to linear, and checked against the probabilities
(softmax(logits) must give them back). log p would not do: it differs from the logits by
a per-row constant, which is exactly what the energy score measures.

    python benchmarks/out_of_scope.py [--seed 0] [--quick] [--run-dir DIR] [--json OUT]
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from common import ROOT, emit, json_destination, machine, train_command

DATA = ROOT / "data" / "banking77"
SPLITS = {"train": "train.csv", "dev": "dev.csv", "test": "test.csv"}
OOS = "oos"
CONFIG = "configs/banking77.yaml"
HELD_OUT_SHARE = 0.25
TARGET_PRECISION = 0.95  # abstention.target_precision's default, which the config keeps
# Largest |softmax(logits) - probabilities| accepted as "these are the model's logits".
LOGIT_CHECK = 1e-4

SCORES = {
    "calibrated_top_probability": "calibrated top probability (seqcls's default)",
    "uncalibrated_top_probability": "uncalibrated top probability",
    "calibrated_margin": "top-two margin (calibrated)",
    "energy": "energy score (logsumexp of the logits)",
}


# --- the split ----------------------------------------------------------------------------


def held_out_intents(intents, seed: int = 0, share: float = HELD_OUT_SHARE) -> list[str]:
    """round(share x the number of intents) of them, chosen with random.Random(seed).sample
    over the sorted names; returned sorted."""
    names = sorted(set(intents))
    return sorted(random.Random(seed).sample(names, round(len(names) * share)))


def read_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        return header, list(reader)


def relabelled(
    header: list[str], rows: list[list[str]], held_out: set[str], label: str = OOS
) -> list[list[str]]:
    """The rows in order, those whose label is held out relabelled `label`."""
    at = header.index("label")
    return [
        [label if i == at and row[at] in held_out else cell for i, cell in enumerate(row)]
        for row in rows
    ]


def write_held_out_split(source: Path, folder: Path, seed: int) -> dict:
    """train/dev/test.csv of `source` written to `folder` with the held-out intents'
    rows relabelled `oos`; which intents, and the rows of each split in and out of scope."""
    header, train = read_rows(source / SPLITS["train"])
    intents = sorted({row[header.index("label")] for row in train})
    held_out = held_out_intents(intents, seed)
    rows = {}
    folder.mkdir(parents=True, exist_ok=True)
    for split, name in SPLITS.items():
        header, original = read_rows(source / name)
        changed = relabelled(header, original, set(held_out))
        with open(folder / name, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            writer.writerows(changed)
        outside = sum(row[header.index("label")] == OOS for row in changed)
        rows[split] = {"in_scope": len(changed) - outside, "out_of_scope": outside}
    return {"seed": seed, "intents": len(intents), "held_out_intents": held_out, "rows": rows}


# --- training -----------------------------------------------------------------------------


def train(folder: Path, run_dir: Path, quick: bool) -> tuple[str, float]:
    """`seqcls train configs/banking77.yaml` on the relabelled split; (the command as
    shown, whole-command seconds)."""
    overrides = [
        f"data.train={folder / 'train.csv'}",
        f"data.valid={folder / 'dev.csv'}",
        f"data.test={folder / 'test.csv'}",
        f"data.out_of_scope_label={OOS}",
    ]
    overrides += ["training.epochs=2"] if quick else []
    command = train_command(CONFIG, run_dir, *overrides, options=("--force", "--progress", "plain"))
    shown = " ".join(
        [f"seqcls train {CONFIG}"] + [f"--set {o}".replace(str(folder), "SPLIT") for o in overrides]
    )
    print(f"$ {shown}\n  (SPLIT: {folder}; run: {run_dir})", flush=True)
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT)
    if done.returncode != 0:
        sys.exit(f"training failed (exit {done.returncode})")
    return shown, round(time.perf_counter() - start, 1)


# --- scores -------------------------------------------------------------------------------


def texts_by_scope(path: Path) -> tuple[list[str], list[str], list[str]]:
    """(in-scope texts, their labels, out-of-scope texts) of a relabelled split."""
    header, rows = read_rows(path)
    text, label = header.index("text"), header.index("label")
    inside = [row for row in rows if row[label] != OOS]
    return (
        [row[text] for row in inside],
        [row[label] for row in inside],
        [row[text] for row in rows if row[label] == OOS],
    )


def logit_model(run_dir: Path):
    """A second copy of the run's model whose output layer gives its logits (the softmax
    Dense layer's activation set to linear), or (None, the reason there is none)."""
    import keras

    from seqcls.modeling.outputs import PROBABILITIES
    from seqcls.run import artifacts

    model = artifacts.load_model(run_dir / artifacts.MODEL_FILE)

    def layers(of):
        for layer in getattr(of, "layers", []):
            yield layer
            yield from layers(layer)

    heads = [layer for layer in layers(model) if layer.name == PROBABILITIES]
    if len(heads) != 1 or not isinstance(heads[0], keras.layers.Dense):
        return None, "no single softmax Dense output layer (an ensemble averages probabilities)"
    if heads[0].activation is not keras.activations.softmax:
        return None, f"the output activation is {heads[0].activation.__name__}, not softmax"
    heads[0].activation = keras.activations.linear
    return model, None


def softmax(logits):
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def margin(probabilities):
    top = np.sort(probabilities, axis=1)
    return top[:, -1] - top[:, -2]


def at_threshold(inside, correct, outside, threshold: float) -> dict:
    """In-scope accuracy (an abstention counts as wrong), out-of-scope recall and
    precision, coverage of all rows, and precision of the kept predictions (a kept `oos`
    row is wrong) at `threshold` on one split's scores."""
    kept, caught = inside >= threshold, outside < threshold
    abstentions = int((~kept).sum() + caught.sum())
    kept_rows = int(kept.sum() + (~caught).sum())
    return {
        "in_scope_accuracy": float((correct & kept).mean()),
        "out_of_scope_recall": float(caught.mean()),
        "out_of_scope_precision": float(caught.sum() / abstentions) if abstentions else None,
        "coverage": kept_rows / (len(inside) + len(outside)),
        "kept_precision": float((correct & kept).sum() / kept_rows) if kept_rows else None,
    }


def split_scores(classifier, logits_model, path: Path) -> dict:
    """One relabelled split's scores: each confidence score's values (in-scope rows
    first, then the `oos` rows), whether each in-scope prediction is right, and the
    largest gap between softmax(logits) and the model's probabilities."""
    from seqcls.inference.predict import predict_outputs
    from seqcls.modeling.outputs import PROBABILITIES

    inside, labels, outside = texts_by_scope(path)
    texts = inside + outside
    calibrated = classifier.predict_proba(texts, calibrated=True)
    raw = classifier.predict_proba(texts, calibrated=False)
    index = {label: i for i, label in enumerate(classifier.labels)}
    true = np.array([index[label] for label in labels])
    values = {
        "calibrated_top_probability": calibrated.max(axis=1),
        "uncalibrated_top_probability": raw.max(axis=1),
        "calibrated_margin": margin(calibrated),
    }
    gap = None
    if logits_model is not None:
        logits = np.asarray(predict_outputs(logits_model, texts)[PROBABILITIES], np.float64)
        gap = float(np.abs(softmax(logits) - raw).max())
        top = logits.max(axis=1)
        values["energy"] = top + np.log(np.exp(logits - top[:, None]).sum(axis=1))
    return {
        "values": values,
        "correct": calibrated[: len(inside)].argmax(axis=1) == true,
        "in_scope": len(inside),
        "logit_gap": gap,
    }


def compare_scores(run_dir: Path, folder: Path, target: float) -> dict:
    """For each score: its threshold fitted on dev, and on test its AUROC (in scope
    positive) and the figures at that threshold."""
    import seqcls
    from seqcls.tasks.abstention import choose_threshold
    from seqcls.tasks.metrics import roc_auc

    classifier = seqcls.load(run_dir, engine="keras")
    logits_model, why = logit_model(run_dir)
    dev, test = (
        split_scores(classifier, logits_model, folder / SPLITS[name]) for name in ("dev", "test")
    )
    gaps = [split["logit_gap"] for split in (dev, test) if split["logit_gap"] is not None]
    if gaps and max(gaps) > LOGIT_CHECK:
        why = f"softmax(logits) is {max(gaps):.2g} from the model's probabilities"
    scores: dict[str, dict] = {}
    for name, description in SCORES.items():
        if name == "energy" and why:
            scores[name] = {"description": description, "skipped": why}
            continue
        on_dev, on_test = dev["values"][name], test["values"][name]
        wrong = np.zeros(len(on_dev) - dev["in_scope"], bool)  # a kept oos row is wrong
        chosen = choose_threshold(on_dev, np.r_[dev["correct"], wrong], target)
        count = test["in_scope"]
        positive = np.r_[np.ones(count, bool), np.zeros(len(on_test) - count, bool)]
        scores[name] = {
            "description": description,
            "dev": {
                "auroc": roc_auc(np.r_[np.ones(dev["in_scope"], bool), wrong], on_dev),
                **{k: chosen[k] for k in ("threshold", "reached", "coverage", "precision")},
            },
            "test": {
                "auroc": roc_auc(positive, on_test),
                **at_threshold(
                    on_test[:count], test["correct"], on_test[count:], chosen["threshold"]
                ),
            },
        }
    return {
        "scores": scores,
        "in_scope_accuracy_never_abstaining": float(test["correct"].mean()),
        "logit_check_max_abs_difference": max(gaps) if gaps else None,
    }


def run_metrics(run_dir: Path) -> dict:
    """What the run itself recorded: its temperature, its threshold (abstention.json) and
    test's out-of-scope block (metrics.json)."""
    metrics = json.loads((run_dir / "metrics.json").read_text())
    manifest = json.loads((run_dir / "manifest.json").read_text())
    block = metrics["test"]["out_of_scope"]
    return {
        "temperature": json.loads((run_dir / "calibration.json").read_text()).get("temperature"),
        "threshold": json.loads((run_dir / "abstention.json").read_text()),
        "test_out_of_scope": block,
        "valid_accuracy": metrics["valid"]["accuracy"],
        "epochs_run": manifest["epochs_run"],
        "best_epoch": manifest["best_epoch"],
    }


# --- the whole --------------------------------------------------------------------------


def run(seed: int, quick: bool, run_dir: Path | None) -> dict:
    with tempfile.TemporaryDirectory(prefix="seqcls-oos-") as scratch:
        folder = Path(scratch) / "split"
        split = write_held_out_split(DATA, folder, seed)
        print(
            f"held out {len(split['held_out_intents'])} of {split['intents']} intents"
            f" (seed {seed}): {', '.join(split['held_out_intents'])}",
            flush=True,
        )
        run_dir = run_dir or Path(scratch) / "run"
        command, seconds = train(folder, run_dir, quick)
        recorded = run_metrics(run_dir)
        compared = compare_scores(run_dir, folder, TARGET_PRECISION)
    block = recorded["test_out_of_scope"]
    default = compared["scores"]["calibrated_top_probability"]["test"]
    # The default score recomputed through the API must give the run's own figures.
    agree = all(
        abs(default[key] - block[key]) < 1e-6
        for key in ("in_scope_accuracy", "out_of_scope_recall", "out_of_scope_precision")
    )
    return {
        "quick": quick,
        "config": CONFIG,
        "out_of_scope_label": OOS,
        "target_precision": TARGET_PRECISION,
        "train_command": command,
        "train_seconds": seconds,
        **split,
        **recorded,
        **compared,
        "default_matches_run_metrics": agree,
        "machine": machine(),
    }


def fmt(value, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def table(figures: dict) -> str:
    """Markdown: each score's AUROC on dev and test, its threshold fitted on dev, and the
    test figures at that threshold."""
    lines = [
        "| confidence score | dev AUROC | test AUROC | threshold (dev) | kept precision (dev)"
        " | in-scope accuracy | OOS recall | OOS precision | coverage | kept precision |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for entry in figures["scores"].values():
        if "skipped" in entry:
            lines.append(f"| {entry['description']} | not measured: {entry['skipped']} |")
            continue
        dev, test = entry["dev"], entry["test"]
        reached = "" if dev["reached"] else " (target not reached)"
        lines.append(
            f"| {entry['description']} | {fmt(dev['auroc'])} | {fmt(test['auroc'])} "
            f"| {fmt(dev['threshold'])} | {fmt(dev['precision'])}{reached} "
            f"| {fmt(test['in_scope_accuracy'])} | {fmt(test['out_of_scope_recall'])} "
            f"| {fmt(test['out_of_scope_precision'])} | {fmt(test['coverage'])} "
            f"| {fmt(test['kept_precision'])} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    argv, destination = json_destination(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=0, help="which intents are held out")
    parser.add_argument("--quick", action="store_true", help="2 epochs: checks the script runs")
    parser.add_argument("--run-dir", type=Path, help="keep the trained run here")
    args = parser.parse_args(argv)
    figures = run(args.seed, args.quick, args.run_dir)
    emit(figures, destination)
    print(
        f"\ntest in-scope accuracy never abstaining:"
        f" {figures['in_scope_accuracy_never_abstaining']:.4f}; each score's threshold fitted"
        f" on dev for in-scope precision of the kept predictions >= {TARGET_PRECISION} (a kept"
        " oos row counts as wrong); the last five columns are test's at that threshold\n"
    )
    print(table(figures))
    if not figures["default_matches_run_metrics"]:
        print("\nwarning: the default score's figures differ from the run's metrics.json")


if __name__ == "__main__":
    main()
