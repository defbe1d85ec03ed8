"""Calibration in the run's reports: report.html's Calibration section (the method and
temperature(s), ECE, Brier score and NLL before and after per split, what they mean, the
reliability diagram) and MODEL_CARD.md's one line. Both read metrics.json's calibration
blocks (and calibration.json's temperatures) as they are; a run without them (trained
before calibration) has neither."""

from __future__ import annotations

import html
from typing import Any

MEASURES = (("ece", "ECE"), ("brier", "Brier score"), ("nll", "NLL"))


def calibrated_splits(metrics: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """{split: its calibration block} of the splits that have one, in metrics order."""
    return {
        name: values["calibration"]
        for name, values in metrics.items()
        if isinstance(values, dict) and isinstance(values.get("calibration"), dict)
    }


def diagram_split(metrics: dict[str, Any]) -> str | None:
    """The split the reliability diagram and the card's line are for: test when it has
    a calibration block, else valid; None when neither has one."""
    blocks = calibrated_splits(metrics)
    return next((name for name in ("test", "valid") if name in blocks), None)


def method_text(method: str, calibration: dict[str, Any] | None) -> str:
    """The method and calibration.json's temperature(s) in one sentence (without the
    file: the method alone)."""
    temperatures = (calibration or {}).get("temperatures") or {}
    if not calibration or not ("temperature" in calibration or temperatures):
        return f"Method: {method}, fitted on valid."
    rows = calibration.get("valid_rows")
    source = "; ".join([f"{rows:,} rows"] * isinstance(rows, int) + ["calibration.json"])
    fitted = f"fitted on {calibration.get('fitted_on', 'valid')} ({source})"
    if "temperature" in calibration:
        return f"Temperature scaling: T = {calibration['temperature']:.3f}, {fitted}."
    low = min(temperatures, key=temperatures.get)
    high = max(temperatures, key=temperatures.get)
    return (
        f"Temperature scaling per label: {len(temperatures)} temperatures, from "
        f"{temperatures[low]:.3f} ({low}) to {temperatures[high]:.3f} ({high}), {fitted}."
    )


def explanation(bins: int, tuned_thresholds: bool) -> str:
    """What the numbers mean and what the calibration changes, for a practitioner."""
    decided = (
        "each label's threshold (thresholds.json) is tuned on the calibrated probabilities"
        if tuned_thresholds
        else "the predicted label does not change"
    )
    return (
        f"ECE (expected calibration error) is the gap between how sure the model says it "
        f"is and how often it is right, averaged over {bins} equal-width confidence bins "
        "weighted by their predictions (0 is perfect); the Brier score and NLL (negative "
        "log-likelihood) also fall when the probabilities match the outcomes. The "
        f"temperature only makes the probabilities more or less sure: {decided}. "
        "seqcls predict, eval and serve (and seqcls.load) give the calibrated "
        "probabilities; predict --uncalibrated (calibrated=False in Python) gives the "
        "model's own."
    )


def _table(blocks: dict[str, dict[str, Any]], bins: int) -> str:
    head = "".join(
        f"<th>{html.escape(label)}" + (f" ({bins} bins)" if key == "ece" else "") + "</th>"
        for key, label in MEASURES
    )
    body = "".join(
        f'<tr><td class="l">{html.escape(name)}</td><td>{block["predictions"]:,}</td>'
        + "".join(
            f"<td>{block['before'][key]:.4f} → {block['after'][key]:.4f}</td>"
            for key, _ in MEASURES
        )
        + "</tr>"
        for name, block in blocks.items()
    )
    return (
        '<table class="calibration"><tr><th class="l">split</th><th>predictions</th>'
        f"{head}</tr>{body}</table>"
    )


def calibration_section(
    metrics: dict[str, Any],
    calibration: dict[str, Any] | None,
    image: str = "",
    no_image: str = "",
    tuned_thresholds: bool = False,
) -> list[str]:
    """report.html's Calibration section ([] when metrics.json has no calibration):
    `calibration` is calibration.json (None: not at hand), `image` the reliability
    diagram's <img> (else `no_image` says why there is none)."""
    blocks = calibrated_splits(metrics)
    if not blocks:
        return []
    first = next(iter(blocks.values()))
    bins = first["ece_bins"]
    method = html.escape(method_text(first["method"], calibration))
    parts = [
        "<h2>Calibration</h2>",
        f'<p class="calibration-method">{method}</p>',
        _table(blocks, bins),
        '<p class="muted">Each cell: before → after calibration. '
        f"{html.escape(explanation(bins, tuned_thresholds))}</p>",
    ]
    if image:
        parts.append(f"<p>{image}</p>")
    elif no_image:
        parts.append(f'<p class="muted">No reliability diagram: {html.escape(no_image)}</p>')
    return parts


def model_card_line(metrics: dict[str, Any]) -> list[str]:
    """MODEL_CARD.md's line on calibration ([] without it): ECE before and after on test
    (else valid)."""
    split = diagram_split(metrics)
    if split is None:
        return []
    block = calibrated_splits(metrics)[split]
    return [
        f"Calibration ({block['method']}, fitted on valid): ECE on {split} "
        f"{block['before']['ece']:.4f} before, {block['after']['ece']:.4f} after "
        f"({block['ece_bins']} bins); predict, eval and serve give the calibrated "
        "probabilities (`predict --uncalibrated`: the model's own)."
    ]
