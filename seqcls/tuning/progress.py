"""What a search shows while it runs, in the style of `train`'s display
(seqcls.reporting.display):

- plain: one line per finished trial (number, state, objective, values, running best),
  for logs and CI;
- rich: the same lines, and under them a live line for the trial under way (its
  values, epoch, batch and latest metrics), on a terminal;
- quiet: nothing per trial (warnings and the final results still print).
"""

from __future__ import annotations

import math
import time
from typing import Any

from seqcls.messages import Report
from seqcls.reporting.display import Display, QuietDisplay


def format_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else str(value)
    return str(value)


def format_params(params: dict[str, Any], names: dict[str, str]) -> str:
    return ", ".join(
        f"{names.get(key, key)} {format_value(value)}" for key, value in params.items()
    )


class Progress:
    """Plain: a line per finished trial through `report`."""

    def __init__(self, report: Report, total: int, metric: str, names: dict[str, str]):
        self.report, self.total, self.metric, self.names = report, total, metric, names

    def trial_start(self, number: int, params: dict[str, Any]) -> None:
        pass

    def trial_display(self) -> Display:
        """The display train() drives during the trial (epochs)."""
        return QuietDisplay(self.report)

    def trial_end(self, row: dict[str, Any], best: dict[str, Any] | None, finished: int) -> None:
        self.report(self.line(row, best, finished))

    def line(self, row: dict[str, Any], best: dict[str, Any] | None, finished: int) -> str:
        objective = row["objective"]
        shown = f"{self.metric} {format_value(objective)}" if objective is not None else ""
        runs = []
        if row["epochs"] is not None:
            runs.append(f"{row['epochs']} epoch(s)")
        if row["seconds"] is not None:
            runs.append(f"{row['seconds']:.0f}s")
        params = {key: row[key] for key in self.names if row.get(key) is not None}
        state = row["state"] + (
            f" ({row['note']})" if row["note"] and row["state"] != "complete" else ""
        )
        best_text = (
            f"best {format_value(best['objective'])} (trial {best['number']})"
            if best
            else "no best yet"
        )
        parts = [
            f"trial {row['number']}",
            f"[{finished}/{self.total} finished]",
            state,
            shown,
            ", ".join(runs),
            format_params(params, self.names),
            best_text,
        ]
        return "  ".join(part for part in parts if part)


class QuietProgress(Progress):
    def trial_end(self, row, best, finished) -> None:
        pass


class RichProgress(Progress):
    """Plain's lines, and a live line for the trial under way."""

    def __init__(self, report: Report, total: int, metric: str, names: dict[str, str], console):
        super().__init__(report, total, metric, names)
        self.console = console
        self.current = ""

    def trial_start(self, number: int, params: dict[str, Any]) -> None:
        self.current = f"trial {number}: {format_params(params, self.names)}"

    def trial_display(self) -> Display:
        return LiveTrial(self.report, self.console, self.current)


class LiveTrial(Display):
    """One transient line: the trial, its epoch and batch, the latest metrics."""

    def __init__(self, report: Report, console: Any, title: str):
        super().__init__(report)
        self.console, self.title = console, title
        self.live: Any = None
        self.epoch = 0
        self.last: dict[str, float] = {}
        self.shown_at = 0.0

    def start(self, *, epochs, train_rows, steps, patience):
        from rich.live import Live

        super().start(epochs=epochs, train_rows=train_rows, steps=steps, patience=patience)
        self.live = Live(self._text(""), console=self.console, transient=True)
        self.live.start()

    def epoch_begin(self, epoch: int) -> None:
        self.epoch = epoch
        self._update(f"epoch {epoch}/{self.epochs}")

    def batch_end(self, step: int, logs: dict[str, Any]) -> None:
        if time.perf_counter() - self.shown_at < 0.25:
            return
        of = f"/{self.steps}" if self.steps else ""
        loss = f"  loss {float(logs['loss']):.4f}" if "loss" in logs else ""
        self._update(f"epoch {self.epoch}/{self.epochs}  batch {step}{of}{loss}")

    def epoch_end(self, row, *, improved, patience_left, steps) -> None:
        if steps:
            self.steps = steps
        self.last = {k: v for k, v in row.items() if k.startswith("val_")}
        self._update(f"epoch {row['epoch']}/{self.epochs} done")

    def _text(self, status: str) -> Any:
        from rich.text import Text

        latest = "  ".join(f"{key} {value:.4f}" for key, value in self.last.items())
        return Text(
            f"{self.title}  |  {status}  {latest}".rstrip(), no_wrap=True, overflow="ellipsis"
        )

    def _update(self, status: str) -> None:
        self.shown_at = time.perf_counter()
        if self.live is not None:
            self.live.update(self._text(status))

    def stop(self) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None


def make_progress(
    mode: str, report: Report, total: int, metric: str, names: dict[str, str], console: Any = None
) -> Progress:
    if mode == "quiet":
        return QuietProgress(report, total, metric, names)
    if mode == "rich" and console is not None:
        return RichProgress(report, total, metric, names, console)
    return Progress(report, total, metric, names)
