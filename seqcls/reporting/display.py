"""What training shows while it runs.

Three modes, one interface (training.callbacks.DisplayUpdates drives it):
- rich: a live progress bar per epoch (batches, samples/s, ETA, current loss and
  metrics) under a table that grows by one row per epoch, with the best epoch marked
  and the early-stopping patience left. Used when stderr is a terminal.
- plain: one line per epoch, for logs and CI (used when stderr is not a terminal).
- quiet: nothing per epoch; the header, warnings and final results still print.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable
from typing import Any

Report = Callable[[str], None]
MODES = ("auto", "rich", "plain", "quiet")
HIDDEN = ("learning_rate",)


def choose_mode(requested: str, stream: Any = None) -> str:
    """auto: rich on an interactive terminal, plain otherwise (pipes, files, CI, TERM=dumb)."""
    if requested != "auto":
        return requested
    stream = stream if stream is not None else sys.stderr
    interactive = hasattr(stream, "isatty") and stream.isatty()
    if not interactive or os.environ.get("TERM") == "dumb" or os.environ.get("CI"):
        return "plain"
    return "rich"


def _order(key: str) -> tuple[int, int, str]:
    # loss first, then the metrics; training before validation.
    validation = key.startswith("val_")
    name = key[4:] if validation else key
    return (int(validation), 0 if name == "loss" else 1, name)


def _shown(logs: dict[str, Any]) -> dict[str, float]:
    keys = sorted((key for key in logs if key not in HIDDEN), key=_order)
    return {key: float(logs[key]) for key in keys}


class Display:
    """Plain mode: one line per epoch through `report`."""

    def __init__(self, report: Report):
        self.report = report
        self.epochs = 0
        self.train_rows = 0
        self.steps: int | None = None
        self.patience: int | None = None

    def start(self, *, epochs: int, train_rows: int, steps: int | None, patience: int | None):
        self.epochs, self.train_rows, self.steps, self.patience = (
            epochs,
            train_rows,
            steps,
            patience,
        )

    def epoch_begin(self, epoch: int) -> None:
        pass

    def batch_end(self, step: int, logs: dict[str, Any]) -> None:
        pass

    def epoch_end(
        self, row: dict[str, Any], *, improved: bool, patience_left: int | None, steps: int
    ) -> None:
        if steps:
            self.steps = steps
        metrics = {k: v for k, v in row.items() if k not in ("epoch", "seconds")}
        shown = "  ".join(f"{key} {value:.4f}" for key, value in _shown(metrics).items())
        rate = self.train_rows / row["seconds"] if row["seconds"] > 0 else 0.0
        mark = "  *best" if improved else ""
        wait = (
            f"  (patience {patience_left} left)"
            if patience_left is not None and not improved and patience_left > 0
            else ""
        )
        self.report(
            f"epoch {row['epoch']}/{self.epochs}  {shown}  {row['seconds']:.1f}s "
            f"({rate:,.0f} samples/s){mark}{wait}"
        )

    def stop(self) -> None:
        pass


class QuietDisplay(Display):
    def epoch_end(self, row, *, improved, patience_left, steps) -> None:
        pass


class RichDisplay(Display):
    """A live bar for the running epoch over a table of finished epochs."""

    def __init__(self, report: Report, console: Any):
        super().__init__(report)
        self.console = console
        self.live: Any = None
        self.table: Any = None
        self.progress: Any = None
        self.task: Any = None
        self.columns: list[str] = []
        self.epoch = 0
        self.epoch_started = 0.0

    def start(self, *, epochs, train_rows, steps, patience):
        from rich.console import Group
        from rich.live import Live
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.table import Table

        super().start(epochs=epochs, train_rows=train_rows, steps=steps, patience=patience)
        self.table = Table(title_justify="left", box=None, header_style="bold")
        self.progress = Progress(
            TextColumn("epoch {task.fields[epoch]}/{task.fields[epochs]}"),
            BarColumn(bar_width=30),
            MofNCompleteColumn(),
            TextColumn("batches"),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[metrics]}"),
            console=self.console,
        )
        self.live = Live(
            Group(self.table, self.progress),
            console=self.console,
            refresh_per_second=4,
            transient=False,
        )
        self.live.start()

    def epoch_begin(self, epoch: int) -> None:
        self.epoch = epoch
        self.epoch_started = time.perf_counter()
        if self.task is not None:
            self.progress.remove_task(self.task)
        self.task = self.progress.add_task(
            "train",
            total=self.steps,
            epoch=epoch,
            epochs=self.epochs,
            rate="",
            metrics="",
        )

    def batch_end(self, step: int, logs: dict[str, Any]) -> None:
        if self.task is None:
            return
        elapsed = time.perf_counter() - self.epoch_started
        rate = ""
        if self.steps and elapsed > 0:
            samples = step * self.train_rows / self.steps
            rate = f"{samples / elapsed:,.0f} samples/s"
        metrics = "  ".join(f"{key} {value:.4f}" for key, value in _shown(logs).items())
        total = self.steps if self.steps and self.steps >= step else None
        self.progress.update(self.task, completed=step, total=total, rate=rate, metrics=metrics)

    def epoch_end(self, row, *, improved, patience_left, steps) -> None:
        if steps:
            self.steps = steps
        metrics = _shown({k: v for k, v in row.items() if k not in ("epoch", "seconds")})
        if not self.columns:
            self.columns = list(metrics)
            self.table.add_column("epoch", justify="right")
            for name in self.columns:
                self.table.add_column(name, justify="right")
            self.table.add_column("time", justify="right")
            self.table.add_column("samples/s", justify="right")
            self.table.add_column("", justify="left")
        rate = self.train_rows / row["seconds"] if row["seconds"] > 0 else 0.0
        if improved:
            from rich.text import Text

            note = Text("* best", style="bold green")
        elif patience_left is not None:
            note = f"patience {patience_left} left" if patience_left > 0 else "stopping"
        else:
            note = ""
        cells = [f"{metrics.get(name, math.nan):.4f}" for name in self.columns]
        style = "bold" if improved else None
        self.table.add_row(
            f"{row['epoch']}/{self.epochs}",
            *cells,
            f"{row['seconds']:.1f}s",
            f"{rate:,.0f}",
            note,
            style=style,
        )

    def stop(self) -> None:
        if self.live is None:
            return
        if self.task is not None:
            self.progress.remove_task(self.task)
            self.task = None
        # The finished epochs' table stays on screen; the bar goes.
        self.live.update(self.table, refresh=True)
        self.live.stop()
        self.live = None


def make_display(mode: str, report: Report, console: Any = None) -> Display:
    if mode == "rich" and console is not None:
        return RichDisplay(report, console)
    if mode == "quiet":
        return QuietDisplay(report)
    return Display(report)
