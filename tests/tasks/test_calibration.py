"""Temperature scaling fitted on valid, and the measures of calibration (ECE, Brier, NLL)."""

import csv
import io
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from seqcls.cli import app
from seqcls.modeling.outputs import PROBABILITIES, TOKEN_IDS
from seqcls.tasks import get_task
from seqcls.tasks.calibration import brier, ece, fit_temperature, nll, reliability, scaled


def softmax(logits):
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True)


def overconfident(rows: int, seed: int):
    """Labels drawn from softmax(logits); the model reports softmax(3 * logits)."""
    generator = np.random.default_rng(seed)
    logits = generator.normal(0.0, 1.5, size=(rows, 5))
    truth = softmax(logits)
    true = np.array([generator.choice(5, p=row) for row in truth])
    return softmax(3.0 * logits), true


def test_a_fitted_temperature_undoes_overconfidence_on_held_out_rows():
    fit, fit_true = overconfident(4000, seed=0)
    held, held_true = overconfident(4000, seed=1)
    temperature = fit_temperature(fit, fit_true)
    assert temperature == pytest.approx(3.0, rel=0.1)
    assert nll(scaled(held, temperature), held_true) < 0.9 * nll(held, held_true)
    assert ece(scaled(held, temperature), held_true) < 0.5 * ece(held, held_true)
    # Temperature never changes the predicted label.
    assert (scaled(held, temperature).argmax(axis=1) == held.argmax(axis=1)).all()


def test_ece_brier_and_nll_against_hand_computed_values():
    probabilities = np.array([[0.9, 0.1], [0.8, 0.2], [0.6, 0.4], [0.3, 0.7]])
    true = np.array([0, 1, 0, 1])
    # 15 bins: each row alone in its bin; |accuracy - confidence| = .1, .8, .4, .3.
    assert ece(probabilities, true) == pytest.approx((0.1 + 0.8 + 0.4 + 0.3) / 4)
    # 2 bins: all four in [0.5, 1]: accuracy 3/4, mean confidence (.9+.8+.6+.7)/4 = .75.
    assert ece(probabilities, true, bins=2) == pytest.approx(0.0)
    assert brier(probabilities, true) == pytest.approx((0.02 + 1.28 + 0.32 + 0.18) / 4)
    expected = -(np.log(0.9) + np.log(0.2) + np.log(0.6) + np.log(0.7)) / 4
    assert nll(probabilities, true) == pytest.approx(expected)
    bins = reliability(probabilities, true, bins=2)
    assert [b["count"] for b in bins] == [0, 4] and bins[1]["accuracy"] == 0.75
    # A confidence of exactly 1.0 falls in the top bin.
    assert reliability(np.array([[1.0, 0.0]]), np.array([0]), bins=4)[3]["count"] == 1


class Split:
    def __init__(self, labels):
        self.labels = labels

    def __len__(self):
        return len(self.labels)


def test_multilabel_fits_one_temperature_per_label_and_keeps_thresholds_meaningful():
    task = get_task("multilabel")
    generator = np.random.default_rng(0)
    logits = generator.normal(0, 2, size=(3000, 2))
    truth = generator.random((3000, 2)) < 1 / (1 + np.exp(-logits))
    # Label a is over-confident (x4), label b about right.
    reported = 1 / (1 + np.exp(-logits * np.array([4.0, 1.0])))
    raw_labels = ["|".join(n for n, t in zip("ab", row) if t) or "a" for row in truth]
    truth[:, 0] |= ~truth.any(axis=1)  # rows with no label were given "a"
    split = Split(raw_labels)
    outputs = {PROBABILITIES: reported.tolist()}
    calibration = task.fit_calibration(outputs, split, ["a", "b"], "|")
    assert calibration["method"] == "temperature per label"
    assert calibration["temperatures"]["a"] > 2.0
    assert calibration["temperatures"]["b"] == pytest.approx(1.0, abs=0.25)
    calibrated = task.calibrated(outputs, calibration)[PROBABILITIES]
    before = task.calibration_rows(outputs, split, ["a", "b"], "|")
    after = task.calibration_rows({PROBABILITIES: calibrated}, split, ["a", "b"], "|")
    assert nll(*after) < nll(*before)


def test_tagging_calibrates_real_tokens_only():
    task = get_task("tagging")
    scores = np.array([[[0.9, 0.1], [0.2, 0.8], [0.5, 0.5]]])  # the third step is padding
    outputs = {PROBABILITIES: scores, TOKEN_IDS: np.array([[4, 7, 0]])}
    probabilities, true = task.calibration_rows(outputs, Split(["A B"]), ["A", "B"], "|")
    assert probabilities.shape == (2, 2) and true.tolist() == [0, 1]
    calibrated = task.calibrated(outputs, {"method": "temperature", "temperature": 0.5})
    assert calibrated[PROBABILITIES][0][0][0] == pytest.approx(0.81 / (0.81 + 0.01))


def predict_csv(run_dir, *options):
    result = CliRunner().invoke(
        app, ["predict", str(run_dir), "-", "--top-k", "2", *options], input="i lost my card\n"
    )
    assert result.exit_code == 0, result.output
    return next(csv.DictReader(io.StringIO(result.stdout)))


def test_the_run_fits_its_temperature_on_valid_and_predict_and_eval_use_it(trained_run):
    from seqcls.data.splits import read_split
    from seqcls.inference.predict import load_run, predict_outputs

    folder, run_dir, _ = trained_run
    saved = json.loads((run_dir / "calibration.json").read_text())
    assert saved["method"] == "temperature" and saved["fitted_on"] == "valid"
    run = load_run(run_dir)
    valid = read_split("valid", folder / "data/valid.csv", run.config.data)
    task = get_task(run.task)
    # The temperature is the one valid's rows give: refitting on them alone reproduces it.
    rows = task.calibration_rows(
        predict_outputs(run.model, valid.texts), valid, run.labels, run.delimiter
    )
    assert fit_temperature(*rows) == pytest.approx(saved["temperature"], rel=1e-6)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    for split in ("valid", "test"):
        block = metrics[split]["calibration"]
        assert block["ece_bins"] == 15 and set(block["before"]) == {"ece", "brier", "nll"}
    # Fitted on valid: its NLL cannot get worse there.
    assert metrics["valid"]["calibration"]["after"]["nll"] <= (
        metrics["valid"]["calibration"]["before"]["nll"] + 1e-9
    )
    raw = predict_csv(run_dir, "--uncalibrated")
    calibrated = predict_csv(run_dir)
    assert raw["predicted_label"] == calibrated["predicted_label"]
    model_raw = predict_outputs(run.model, ["i lost my card"])[PROBABILITIES]
    assert float(raw["top1_probability"]) == pytest.approx(np.max(model_raw), abs=1e-6)
    expected = scaled(np.asarray(model_raw), saved["temperature"]).max()
    assert float(calibrated["top1_probability"]) == pytest.approx(expected, abs=1e-6)


def test_eval_reports_calibration_before_and_after(trained_run, tmp_path):
    folder, run_dir, _ = trained_run
    out = tmp_path / "eval.json"
    result = CliRunner().invoke(
        app, ["eval", str(run_dir), str(folder / "data/test.csv"), "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    block = json.loads(out.read_text())["calibration"]
    trained = json.loads((run_dir / "metrics.json").read_text())["test"]["calibration"]
    # The same file, the same model: eval's figures are training's.
    for when in ("before", "after"):
        for name in ("ece", "brier", "nll"):
            assert block[when][name] == pytest.approx(trained[when][name], abs=1e-6)
    assert "calibration" in result.output and "ECE" in result.output


def test_multilabel_thresholds_map_to_the_models_own_scale_with_the_same_decisions():
    task = get_task("multilabel")
    generator = np.random.default_rng(3)
    raw = generator.random((500, 3))
    calibration = {
        "method": "temperature per label",
        "temperatures": {"a": 0.4, "b": 1.0, "c": 2.5},
    }
    tuned = np.array([0.3, 0.5, 0.8])
    calibrated = task.calibrated({PROBABILITIES: raw}, calibration)[PROBABILITIES]
    mapped = task.uncalibrated_thresholds(tuned, calibration)
    assert ((calibrated >= tuned) == (raw >= mapped)).all()
    assert mapped[1] == pytest.approx(0.5)
