"""Abstention: a threshold on the calibrated top probability, fitted on valid; below it
predict gives abstention.unknown_label."""

import csv
import io
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from seqcls.cli import app
from seqcls.errors import UsageError
from seqcls.tasks.abstention import at_threshold, choose_threshold, risk_coverage

TEXTS = [
    "i lost my card",
    "what is the exchange rate",
    "top up my account",
    "card",
    "hello there",
    "rate",
    "my card is gone and i need money on it",
]


def test_the_threshold_is_the_lowest_that_keeps_the_target_precision():
    confidence = np.array([0.95, 0.9, 0.8, 0.8, 0.6, 0.5, 0.3])
    correct = np.array([1, 1, 1, 0, 1, 0, 0], dtype=bool)
    # Accepting the top k: precision 1, 1, (k=3 cannot cut inside the tie), 3/4, 4/5, ...
    chosen = choose_threshold(confidence, correct, target=0.8)
    assert chosen["threshold"] == 0.6 and chosen["coverage"] == pytest.approx(5 / 7)
    assert chosen["precision"] == pytest.approx(0.8) and chosen["reached"]
    strict = choose_threshold(confidence, correct, target=0.99)
    assert strict["threshold"] == 0.9 and strict["coverage"] == pytest.approx(2 / 7)
    unreachable = choose_threshold(np.array([0.9, 0.8]), np.array([False, True]), 0.95)
    assert not unreachable["reached"] and unreachable["threshold"] == 0.8
    assert at_threshold(confidence, correct, 0.6) == {
        "threshold": 0.6,
        "coverage": pytest.approx(5 / 7),
        "accuracy_accepted": pytest.approx(0.8),
    }


def test_aurc_is_the_mean_risk_of_the_most_confident_rows():
    confidence = np.array([0.9, 0.8, 0.7, 0.6])
    correct = np.array([1, 0, 1, 0], dtype=bool)
    # Risks of the top 1..4: 0, 1/2, 1/3, 2/4.
    summary = risk_coverage(confidence, correct)
    assert summary["aurc"] == pytest.approx((0 + 1 / 2 + 1 / 3 + 2 / 4) / 4)
    assert summary["curve"][-1] == {"coverage": 1.0, "risk": 0.5}


def test_abstaining_never_withholds_a_label_above_the_threshold_nor_gives_one_below(
    trained_run,
):
    import seqcls

    _, run_dir, _ = trained_run
    classifier = seqcls.load(run_dir, engine="keras")
    top = classifier.predict_proba(TEXTS).max(axis=1)
    threshold = float(np.median(top))
    records = classifier.predict(TEXTS, abstain=threshold)
    plain = classifier.predict(TEXTS)
    assert any(score < threshold for score in top) and any(score >= threshold for score in top)
    for record, label, score in zip(records, plain, top):
        if score < threshold:
            assert record["label"] == "unknown"
        else:
            assert record["label"] == label["label"] != "unknown"
        assert record["probability"] == label["probability"]  # the probability stays


def test_abstain_auto_uses_the_threshold_fitted_on_valid(trained_run, tmp_path):
    from seqcls.data.splits import read_split
    from seqcls.inference.predict import load_run
    from seqcls.tasks import get_task
    from seqcls.tasks.abstention import confidence_rows

    folder, run_dir, _ = trained_run
    saved = json.loads((run_dir / "abstention.json").read_text())
    assert saved["fitted_on"] == "valid" and saved["target_precision"] == 0.95
    run = load_run(run_dir)
    valid = read_split("valid", folder / "data/valid.csv", run.config.data)
    rows = confidence_rows(get_task(run.task), run.outputs(valid.texts), valid, run.labels, "|")
    assert choose_threshold(*rows, 0.95)["threshold"] == saved["threshold"]
    result = CliRunner().invoke(
        app, ["predict", str(run_dir), "-", "--abstain", "auto"], input="\n".join(TEXTS) + "\n"
    )
    assert result.exit_code == 0, result.output
    for row in csv.DictReader(io.StringIO(result.stdout)):
        below = float(row["predicted_probability"]) < saved["threshold"] - 1e-6
        assert (row["predicted_label"] == "unknown") == below or abs(
            float(row["predicted_probability"]) - saved["threshold"]
        ) < 1e-6
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["test"]["abstention"]["at_threshold"]["threshold"] == saved["threshold"]
    out = tmp_path / "eval.json"
    result = CliRunner().invoke(
        app, ["eval", str(run_dir), str(folder / "data/test.csv"), "-o", str(out)]
    )
    assert result.exit_code == 0 and "abstention on" in result.output
    assert json.loads(out.read_text())["abstention"] == metrics["test"]["abstention"]


def test_abstain_refuses_what_it_cannot_do(trained_run):
    import seqcls
    from seqcls.inference.predict import Run, resolve_abstain

    _, run_dir, _ = trained_run
    classifier = seqcls.load(run_dir, engine="keras")
    for bad in ("sometimes", 1.5, -0.1, True):
        with pytest.raises(UsageError, match="abstain must be"):
            classifier.predict(TEXTS, abstain=bad)
    run = classifier.run
    tagging = Run(run.directory, run.config, "tagging", run.labels, 10, run.model)
    with pytest.raises(UsageError, match="multiclass and binary runs, not tagging"):
        resolve_abstain(tagging, 0.5)
    clashing = run.config.model_copy(deep=True)
    clashing.abstention.unknown_label = run.labels[0]
    same_label = Run(run.directory, clashing, run.task, run.labels, 10, run.model)
    with pytest.raises(UsageError, match="is one of the run's labels"):
        resolve_abstain(same_label, 0.5)
    old = Run(run.directory, run.config, run.task, run.labels, 10, run.model)
    with pytest.raises(UsageError, match="has no abstention.json"):
        resolve_abstain(old, "auto")


def test_uncalibrated_output_abstains_as_the_calibrated_one_does(trained_run):
    _, run_dir, _ = trained_run
    rows = {}
    for options in ((), ("--uncalibrated",)):
        result = CliRunner().invoke(
            app,
            ["predict", str(run_dir), "-", "--abstain", "auto", *options],
            input="\n".join(TEXTS) + "\n",
        )
        assert result.exit_code == 0, result.output
        rows[options] = list(csv.DictReader(io.StringIO(result.stdout)))
    calibrated, uncalibrated = rows[()], rows[("--uncalibrated",)]
    # The decision is the calibrated one; only the probabilities shown differ.
    assert [r["predicted_label"] for r in uncalibrated] == [
        r["predicted_label"] for r in calibrated
    ]
    assert [r["predicted_probability"] for r in uncalibrated] != [
        r["predicted_probability"] for r in calibrated
    ]


def test_an_unknown_label_that_is_a_class_is_refused_before_training(tmp_path, tiny_data):
    from conftest import TINY_CONFIG

    from seqcls.config import load_config
    from seqcls.data.loading import read_data
    from seqcls.errors import ConfigError

    path = tmp_path / "config.yaml"
    path.write_text(TINY_CONFIG + "abstention:\n  unknown_label: top_up\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="abstention.unknown_label 'top_up' is one of the labels"):
        read_data(load_config(path))
