"""MODEL_CARD.md: written at the end of every run from the run's files, the same facts as
manifest.json, metrics.json, vocabulary.json and report.html, regenerated on demand, and
copied into exports."""

import json
import re
import shutil

import yaml

from seqcls.reporting.model_card import MODEL_CARD_FILE, model_card, scripts_seen, write_model_card
from seqcls.reporting.tables import per_class_rows

HEADINGS = [
    "# Model card: tiny-test",
    "## Model",
    "## Training data",
    "## Metrics (test split)",
    "## Worst labels (test)",
    "## Intended use and limits",
    "## How to use it",
]


def read(run_dir, name):
    return json.loads((run_dir / name).read_text(encoding="utf-8"))


def test_model_card_every_run_has_one_with_the_runs_facts(trained_run):
    _, run_dir, _ = trained_run
    card = (run_dir / MODEL_CARD_FILE).read_text(encoding="utf-8")
    manifest, metrics = read(run_dir, "manifest.json"), read(run_dir, "metrics.json")
    vocabulary = read(run_dir, "vocabulary.json")
    # The sections, in order.
    headings = [line for line in card.splitlines() if line.startswith("#")]
    assert headings == HEADINGS
    # What the model is: the config in words, the manifest's parameter count.
    assert "bidirectional LSTM, 8 units per direction" in card
    assert "concatenated (16 features per token)" in card and "additive attention" in card
    assert "each a vector of 8 dimensions" in card and "dropout 0.2" in card
    assert f"**Parameters**: {manifest['parameters']:,} (manifest.json)" in card
    # The data: every file with its hash and the rows used.
    for split, record in manifest["data"]["files"].items():
        used = manifest["data"]["rows_used"][split]
        assert f"| {split} | `{record['path']}` | `{record['sha256']}` | {used:,} |" in card
    # Label counts: valid's and test's support.
    test = metrics["test"]
    for label, values in test["per_class"].items():
        assert re.search(rf"\| `{label}` \|.* \| {values['support']} \|\n", card), label
    train_counts = manifest["train_label_counts"]
    assert sum(train_counts.values()) == manifest["data"]["rows_used"]["train"]
    for label, count in train_counts.items():
        assert re.search(rf"\| `{label}` \| {count:,} \| ", card), label
    # The metrics, with the test split named and marked.
    row = f"| **test** | {test['rows']} | {test['accuracy']:.4f} | {test['macro_f1']:.4f} |"
    assert row in card and f"{test['log_loss']:.4f} |" in card
    assert f"Measured on the test split (`{manifest['data']['files']['test']['path']}`)" in card
    # The worst label on test first, as report.html orders them.
    worst = per_class_rows(test)[0]
    assert f"| `{worst['label']}` | {worst['precision']:.3f} | {worst['recall']:.3f} |" in card
    # Limits: max_length and the share truncated, the train OOV rate, the scripts.
    assert f"cut to their first {vocabulary['max_length']} tokens (config)" in card
    assert f"{vocabulary['train_truncated_share']:.1%} of train texts were longer" in card
    assert f"{vocabulary['train_oov_rate']:.2%} of train tokens fall outside it" in card
    assert "(share of its tokens): Latin 100%." in card
    # How to load and serve it.
    for command in ("seqcls predict RUN_DIR", "seqcls serve RUN_DIR", "seqcls export RUN_DIR"):
        assert command in card
    assert 'seqcls.load("RUN_DIR")' in card
    # Training: epochs, the weights kept, the stopping reason.
    assert f"Training: {manifest['epochs_run']} epoch(s)" in card
    assert f"holds the weights of epoch {manifest['weights_epoch']}" in card


def test_model_card_shows_report_htmls_figures(trained_run):
    _, run_dir, _ = trained_run
    card = (run_dir / MODEL_CARD_FILE).read_text(encoding="utf-8")
    page = (run_dir / "report.html").read_text(encoding="utf-8")
    test = read(run_dir, "metrics.json")["test"]
    for name in ("accuracy", "macro_f1", "log_loss"):
        assert f"<td>{test[name]:.4f}</td>" in page and f"{test[name]:.4f}" in card
    for row in per_class_rows(test):
        shown = f"{row['precision']:.3f}</td><td>{row['recall']:.3f}</td><td>{row['f1']:.3f}"
        assert shown in page
        assert shown.replace("</td><td>", " | ") in card


def test_model_card_is_regenerated_from_the_runs_files(trained_run, tmp_path):
    _, run_dir, _ = trained_run
    assert model_card(run_dir) == (run_dir / MODEL_CARD_FILE).read_text(encoding="utf-8")
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    (copy / MODEL_CARD_FILE).unlink()
    assert write_model_card(copy) == copy / MODEL_CARD_FILE
    assert (copy / MODEL_CARD_FILE).read_text(encoding="utf-8") == model_card(copy)
    # Nothing left beside it (written through a temporary file and renamed).
    assert not [path.name for path in copy.iterdir() if path.name.startswith(".MODEL_CARD")]


def test_model_card_describes_other_architectures_from_the_config(trained_run, tmp_path):
    _, run_dir, _ = trained_run
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    config = yaml.safe_load((copy / "config.yaml").read_text(encoding="utf-8"))
    model = config["model"]
    model["embedding"].update(spatial_dropout=0.1, subwords={"min_n": 2, "max_n": 4})
    model["encoder"].update(cell="gru", num_layers=2, merge_mode="ave", residual=True)
    model["attention"] = {"type": "multihead", "num_heads": 2, "key_dim": 4, "pooling": "max"}
    model["head"].update(hidden=[16], dropout=0.25)
    (copy / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    card = model_card(copy)
    assert "hashed character 2-4-grams (20,000 buckets)" in card
    assert "spatial dropout 0.1 (whole channels)" in card
    assert "2 stacked layers of bidirectional GRU, 8 units per direction" in card
    assert "averaged (8 features per token)" in card and "residual connections" in card
    assert "multi-head self-attention (2 heads, key_dim 4)" in card and "max pooling" in card
    assert "hidden Dense layers of 16 units (relu, dropout 0.25), then a Dense output" in card


def test_model_card_scripts_seen_counts_each_tokens_writing_system():
    tokens = ["", "[UNK]", "card", "карта", "42", "カード", "rate"]
    assert scripts_seen(tokens) == [("Latin", 0.6), ("Cyrillic", 0.2), ("Katakana", 0.2)]


def test_model_card_travels_with_an_export(trained_run, tmp_path):
    from typer.testing import CliRunner

    from seqcls.cli import app

    _, run_dir, _ = trained_run
    destination = tmp_path / "saved"
    result = CliRunner().invoke(app, ["export", str(run_dir), "--output", str(destination)])
    assert result.exit_code == 0, result.output
    card = (run_dir / MODEL_CARD_FILE).read_text(encoding="utf-8")
    assert (destination / MODEL_CARD_FILE).read_text(encoding="utf-8") == card
    assert MODEL_CARD_FILE in read(destination, "export.json")["files"]


def test_model_description_says_what_became_of_punctuation():
    from seqcls.config import EmbeddingConfig, PreprocessingConfig
    from seqcls.reporting.model_description import _embedding

    def described(**preprocessing):
        return _embedding(EmbeddingConfig(), PreprocessingConfig(**preprocessing), 100)

    assert "(lowercased, no punctuation)" in described()
    assert "(lowercased, punctuation as word breaks)" in described(split_punctuation=True)
    split_off = described(strip_punctuation=False, split_punctuation=True)
    assert "(lowercased, punctuation split off as tokens)" in split_off
    assert "punctuation" not in described(strip_punctuation=False)
