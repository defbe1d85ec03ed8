"""report.html's Training section (epochs run, why training stopped, the best epoch, the
wall time, what the data decided) and its config block (the lines the data decided
marked)."""

from __future__ import annotations

import html
from typing import Any

# config.yaml's comment on a value the data decided (seqcls.config.resolved).
DECIDED = "# auto in the config trained with"


def duration(seconds: float) -> str:
    """12.3 s, 2 min 05 s, 1 h 03 min."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest:02d} s"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def stopping_reason(
    epochs_run: int, limit: int, stopped_early: bool | None, best_epoch: int | None, stopping: Any
) -> str:
    """Why training ended. `stopped_early` None: not recorded, so inferred (a run that
    reaches its report ended by early stopping or at the limit: an interrupted or
    diverged one has no report)."""
    if stopped_early is None:
        stopped_early = bool(stopping.enabled) and epochs_run < limit
    if stopped_early:
        since = (
            f"; {stopping.monitor} had not improved for {epochs_run - best_epoch} epoch(s) "
            f"since epoch {best_epoch} (patience {stopping.patience})"
            if best_epoch is not None
            else ""
        )
        return f"early stopping at epoch {epochs_run}{since}"
    if epochs_run > limit:
        return (
            f"resumed with training.epochs {limit} after {epochs_run} completed epochs: "
            "none was trained after the resume"
        )
    if epochs_run == limit:
        return f"the epoch limit (training.epochs {limit})"
    return f"stopped after {epochs_run} of {limit} epochs"


def decided_lines(config_text: str) -> list[str]:
    """`key: value` of each config.yaml line the data decided (the config said auto)."""
    return [
        line.split(DECIDED)[0].split("#")[0].strip()
        for line in config_text.splitlines()
        if DECIDED in line
    ]


def training_table(training: dict[str, Any], config_text: str) -> str:
    """The facts of how training went, one per table row."""
    rows = [
        ("epochs run", f"{training['epochs_run']} (limit: training.epochs {training['limit']})"),
        ("stopped by", training["stopping"]),
    ]
    if training.get("best_epoch") is not None:
        rows.append(("best epoch", f"{training['best_epoch']} (by {training['monitor']})"))
    rows.append(("wall time", training["wall_time"]))
    decided = decided_lines(config_text)
    if decided:
        rows.append(("decided from the data", "; ".join(decided) + " (auto in the config)"))
    body = "".join(
        f'<tr><th class="l">{html.escape(name)}</th><td>{html.escape(value)}</td></tr>'
        for name, value in rows
    )
    return f'<table class="training">{body}</table>'


def config_block(config_text: str) -> str:
    """The config, each line the data decided marked."""
    lines = [
        f"<mark>{html.escape(line)}</mark>" if DECIDED in line else html.escape(line)
        for line in config_text.splitlines()
    ]
    note = (
        '<p class="muted">Marked: set to auto in the config trained with; the value the data '
        "decided.</p>"
        if any(DECIDED in line for line in config_text.splitlines())
        else ""
    )
    return note + "<pre>" + "\n".join(lines) + "</pre>"


def training_summary(
    config: Any,
    history: list[dict[str, Any]],
    best_epoch: int | None,
    stopped_early: bool | None,
    wall_seconds: float | None,
) -> dict[str, Any]:
    """What the Training section shows: epochs, why training stopped, the best epoch and
    the wall time (without `wall_seconds`: the epochs' own seconds, summed)."""
    stopping = config.training.early_stopping
    limit = config.training.epochs
    if wall_seconds is not None:
        wall_time = duration(wall_seconds)
    else:
        epochs = sum(float(row.get("seconds") or 0.0) for row in history)
        wall_time = (
            f"{duration(epochs)} in the epochs (the whole run's wall_seconds: manifest.json)"
        )
    return {
        "epochs_run": len(history),
        "limit": limit,
        "stopping": stopping_reason(len(history), limit, stopped_early, best_epoch, stopping),
        "best_epoch": best_epoch,
        "monitor": stopping.monitor,
        "wall_time": wall_time,
    }
