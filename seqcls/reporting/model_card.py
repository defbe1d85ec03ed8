"""MODEL_CARD.md: what a finished run's model is, the data it was trained on, how well it
does, its limits and how to use it, in Markdown that travels with the run and its exports.

Written from the run's own files alone (config.yaml, labels.json, vocabulary.json,
metrics.json, manifest.json): `write_model_card(run_dir)` regenerates it at any time. The
metrics, per-class and calibration figures are report.html's, formatted the same way.
No TensorFlow.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from pathlib import Path
from typing import Any

from seqcls.reporting.calibration_section import model_card_line
from seqcls.reporting.model_description import model_section
from seqcls.reporting.tables import per_class_rows
from seqcls.run import artifacts, readers
from seqcls.tasks import get_task

MODEL_CARD_FILE = "MODEL_CARD.md"
WORST = 5  # labels listed as the weakest
MOST_LABELS = 100  # rows of the label-count table; the rest are counted


def write_model_card(run_dir: str | Path) -> Path:
    """Write RUN_DIR/MODEL_CARD.md (atomically) from the run's files; returns its path."""
    artifacts.write_text(path := Path(run_dir) / MODEL_CARD_FILE, model_card(run_dir))
    return path


def model_card(run_dir: str | Path) -> str:
    """The card's Markdown for the finished run in `run_dir`."""
    run = _read(Path(run_dir))
    sections = [
        part(run) for part in (_title, model_section, _data, _metrics, _worst, _limits, _usage)
    ]
    return "\n\n".join("\n".join(lines).strip("\n") for lines in sections if lines) + "\n"


def _read(run_dir: Path) -> dict[str, Any]:
    manifest = artifacts.read_json(run_dir / artifacts.MANIFEST_FILE)
    metrics = artifacts.read_json(run_dir / artifacts.METRICS_FILE)
    labels = readers.read_labels(run_dir)
    return {
        "dir": run_dir,
        "config": readers.read_run_config(run_dir),
        "task": labels["task"],
        "labels": labels["labels"],
        "vocabulary": readers.read_vocabulary(run_dir),
        "manifest": manifest if isinstance(manifest, dict) else {},
        "metrics": metrics if isinstance(metrics, dict) else {},
    }


def _splits(metrics: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n: v for n, v in metrics.items() if isinstance(v, dict) and "accuracy" in v}


def _chosen(metrics: dict[str, Any]) -> str:
    """The split the figures are given for, as report.html chooses it: test, else valid."""
    return "test" if isinstance(metrics.get("test"), dict) else "valid"


def _title(run: dict[str, Any]) -> list[str]:
    manifest, (what, _) = run["manifest"], _purpose(get_task(run["task"]))
    smoke = "**A smoke run** (a few dozen rows, one epoch): a check, not a model to use."
    return [
        f"# Model card: {run['config'].name}",
        "",
        f"A {run['task']} text classifier: a recurrent network that {what} "
        f"{len(run['labels'])} labels. Trained by seqcls {manifest.get('seqcls_version', '?')} "
        f"(finished {manifest.get('finished_at', '?')}); run directory `{run['dir'].name}`.",
        *(["", smoke] if manifest.get("smoke") else []),
    ]


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    def cell(value: Any) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")

    return [
        "| " + " | ".join(map(cell, header)) + " |",
        "|" + "|".join(" --- " for _ in header) + "|",
        *("| " + " | ".join(map(cell, row)) + " |" for row in rows),
    ]


def _data(run: dict[str, Any]) -> list[str]:
    manifest, config = run["manifest"], run["config"]
    data = manifest.get("data") or {}
    files, used = data.get("files") or {}, data.get("rows_used") or {}
    rows = []
    for split, record in files.items():
        shards = record.get("shards")
        digest = f"{len(shards)} files (manifest.json)" if shards else f"`{record.get('sha256')}`"
        rows.append([split, f"`{record.get('path')}`", digest, f"{used.get(split, 0):,}"])
    lines = ["## Training data", "", *_table(["split", "file", "SHA-256", "rows used"], rows)]
    for split, reasons in (data.get("bad_rows") or {}).items():
        left = ", ".join(f"{reason} {count:,}" for reason, count in reasons.items())
        lines += ["", f"Rows of {split} left out (data.on_bad_rows): {left}."]
    return [*lines, "", *_label_counts(run), "", _training(manifest, config)]


def _label_counts(run: dict[str, Any]) -> list[str]:
    """Rows per label and split: train's from the manifest (when recorded), valid's and
    test's from metrics.json (their support)."""
    columns = {}
    train = run["manifest"].get("train_label_counts")
    if isinstance(train, dict):
        columns["train"] = train
    for split, values in _splits(run["metrics"]).items():
        if isinstance(values.get("per_class"), dict):
            columns[split] = {k: v.get("support") for k, v in values["per_class"].items()}
    if not columns:
        return []
    labels = run["labels"]
    rows = [[f"`{x}`", *(f"{c.get(x, 0):,}" for c in columns.values())] for x in labels]
    caption = "Label counts (train: manifest.json; valid, test: their support in metrics.json):"
    lines = [caption, "", *_table(["label", *columns], rows[:MOST_LABELS])]
    if len(rows) > MOST_LABELS:
        lines += ["", f"... and {len(rows) - MOST_LABELS} more labels (per_class.csv)."]
    return lines


def _training(manifest: dict[str, Any], config: Any) -> str:
    stopping = config.training.early_stopping
    epochs = manifest.get("epochs_run")
    why = (
        f"early stopping: {stopping.monitor} did not improve for {stopping.patience} epoch(s)"
        if manifest.get("stopped_early")
        else f"training.epochs is {config.training.epochs}"
    )
    seconds = manifest.get("wall_seconds")
    wall = f"{seconds:.0f} s" if isinstance(seconds, (int, float)) else "?"
    versions = manifest.get("versions") or {}
    return (
        f"Training: {epochs} epoch(s) ({why}); the model holds the weights of epoch "
        f"{manifest.get('weights_epoch', manifest.get('best_epoch'))} (best {stopping.monitor}: "
        f"epoch {manifest.get('best_epoch')}); {wall} wall time on "
        f"{', '.join(manifest.get('devices') or ['?'])}; seed {manifest.get('seed')}; "
        f"TensorFlow {versions.get('tensorflow', '?')}, Keras {versions.get('keras', '?')}."
    )


def _metrics(run: dict[str, Any]) -> list[str]:
    from seqcls.reporting.html import HEADLINE

    splits = _splits(run["metrics"])
    if not splits:
        return []
    chosen = _chosen(run["metrics"])
    columns = [c for c in HEADLINE if any(c in v for v in splits.values())]
    rows = [
        [
            f"**{name}**" if name == chosen else name,
            values.get("rows", ""),
            *(f"{values[c]:.4f}" if isinstance(values.get(c), float) else "" for c in columns),
        ]
        for name, values in splits.items()
    ]
    where = (run["manifest"].get("data") or {}).get("files", {}).get(chosen, {}).get("path")
    calibration = model_card_line(run["metrics"])
    return [
        f"## Metrics ({chosen} split)",
        "",
        f"Measured on the {chosen} split" + (f" (`{where}`)" if where else "") + ", by "
        "reloading model.keras as `seqcls eval` and `seqcls predict` load it (metrics.json; "
        "report.html shows the same).",
        "",
        *_table(["split", "rows", *columns], rows),
        *(["", *calibration] if calibration else []),
    ]


def _worst(run: dict[str, Any]) -> list[str]:
    chosen = _chosen(run["metrics"])
    values = run["metrics"].get(chosen)
    if not isinstance(values, dict) or not isinstance(values.get("per_class"), dict):
        return []
    rows = per_class_rows(values)[:WORST]
    table = [
        [f"`{r['label']}`", *(f"{r[k]:.3f}" for k in ("precision", "recall", "f1")), r["support"]]
        for r in rows
    ]
    return [
        f"## Worst labels ({chosen})",
        "",
        f"The {len(rows)} labels with the lowest F1 on {chosen} (per_class.csv has them all):",
        "",
        *_table(["label", "precision", "recall", "f1", "support"], table),
    ]


def scripts_seen(tokens: list[str]) -> list[tuple[str, float]]:
    """The writing systems of the vocabulary (the script of each token's first letter),
    each with its share of the tokens that have a letter, most first."""
    found: Counter = Counter()
    for token in tokens:
        letter = next((ch for ch in token if ch.isalpha()), None)
        if letter is not None:
            name = unicodedata.name(letter, "UNKNOWN").split(" ")[0]
            found[name.title() if name != "CJK" else name] += 1
    total = sum(found.values())
    return [(name, count / total) for name, count in found.most_common()]


def _limits(run: dict[str, Any]) -> list[str]:
    vocabulary, kind = run["vocabulary"], get_task(run["task"])
    max_length = vocabulary["max_length"]
    kept = kind.inference_max_length(max_length)
    truncated = vocabulary.get("train_truncated_share")
    cut = f"{truncated:.1%} of train texts were longer" if truncated is not None else ""
    length = (
        f"- **Length**: texts are cut to their first {max_length} tokens "
        f"({vocabulary.get('max_length_source', 'config')}); {cut}: words past the cut "
        "are not seen."
        if kept is not None
        else f"- **Length**: training cut texts to {max_length} tokens ({cut}); prediction "
        "tags every token."
    )
    lines = ["## Intended use and limits", "", f"- **Use**: {_purpose(kind)[1]}.", length]
    oov = vocabulary.get("train_oov_rate")
    if oov is not None:
        lines.append(
            f"- **Vocabulary**: {len(vocabulary['tokens']):,} entries; {oov:.2%} of train "
            "tokens fall outside it (they become `[UNK]`). Text from elsewhere (other "
            "topics, spelling, languages) has more: `seqcls validate` and `seqcls eval` show "
            "the rate on a file."
        )
    scripts = scripts_seen(vocabulary["tokens"])
    if scripts:
        shares = ", ".join(f"{name} {share:.0%}" for name, share in scripts[:5])
        lines.append(f"- **Scripts in the vocabulary** (share of its tokens): {shares}.")
    lines.append(
        f"- **Scores** are the {_chosen(run['metrics'])} split's above; on text unlike the "
        "training data expect them lower."
    )
    notes = run["manifest"].get("notes") or []
    return [*lines, *(f"- Note: {note}" for note in notes)]


def _purpose(kind: Any) -> tuple[str, str]:
    """What the model does with a text, in the title's words and in the use's."""
    if kind.per_token:
        return (
            "tags each token of a text with",
            "tagging the tokens of texts like the training data",
        )
    if kind.tuned_thresholds:
        return "gives each text any number of", (
            "marking which labels apply to texts like the training data (a label applies at "
            "or above its threshold: thresholds.json, tuned on valid)"
        )
    return "gives each text one of", (
        "giving texts like the training data one of the labels above; every text gets one, "
        "also a text about none of them"
    )


USAGE = """## How to use it

RUN_DIR is the run directory (here `{run_dir}`).

```bash
seqcls predict RUN_DIR texts.csv -o predictions.csv   # a CSV/TSV/JSONL file
echo "some text" | seqcls predict RUN_DIR -            # stdin, one text a line
seqcls eval RUN_DIR labelled.csv                       # metrics on a labelled file
seqcls serve RUN_DIR --port 8000                       # HTTP: POST /predict
seqcls export RUN_DIR --format onnx                    # or saved_model
```

```python
import seqcls

clf = seqcls.load("RUN_DIR")
clf.predict(["some text"], top_k=3)
```

An export folder (`seqcls export`) holds a copy of this card; its README.md says what goes
in and what comes out.
"""


def _usage(run: dict[str, Any]) -> list[str]:
    return [USAGE.format(run_dir=run["dir"])]
