"""What training shows while it runs.

Three modes, one interface (training.callbacks.DisplayUpdates drives it):
- rich: a live progress bar per epoch (batches, elapsed time, ETA, current loss and
  metrics; samples/s on a wide terminal) under a table that grows by one row per epoch,
  with the best epoch marked and the early-stopping patience left, fitted to the
  terminal's width (80 columns and up). Used when stderr is a terminal.
- plain: one line per epoch, for logs and CI (used when stderr is not a terminal).
- quiet: nothing per epoch; the header, warnings and final results still print.
Rich and plain mark the epoch after which early stopping ends training.
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

    def stops_here(self, row: dict[str, Any], patience_left: int | None) -> bool:
        """Whether early stopping ends training after this epoch: its patience is used up
        (training.callbacks.EarlyStopping's rule), and it is not the last epoch anyway."""
        return patience_left == 0 and row["epoch"] < self.epochs

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
        if self.stops_here(row, patience_left):
            wait += f"  -> early stop: no improvement for {self.patience} epoch(s)"
        self.report(
            f"epoch {row['epoch']}/{self.epochs}  {shown}  {row['seconds']:.1f}s "
            f"({rate:,.0f} samples/s){mark}{wait}"
        )

    def stop(self) -> None:
        pass


class QuietDisplay(Display):
    def epoch_end(self, row, *, improved, patience_left, steps) -> None:
        pass


# The live display fits the terminal's width, down to 80 columns. The bar keeps the
# epoch, the batch count, the elapsed time, the ETA and the loss; it is shortened first,
# then the running metrics after the loss go (the table below has them per epoch), and
# samples/s is shown (in the bar and the table) only on a wide terminal.
BAR_WIDTHS = (10, 30)  # (narrowest, widest)
BAR_METRICS = len("loss 0.0000 accuracy 0.0000")  # room kept for them before the bar grows
RATE_WIDTH = len("999,999 samples/s")
WIDE = 100  # columns from which samples/s is shown


class RichDisplay(Display):
    """A live bar for the running epoch over a table of finished epochs, sized to the
    console's width (see BAR_WIDTHS above)."""

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
        self.wide = False
        self.metrics_width = BAR_METRICS

    def start(self, *, epochs, train_rows, steps, patience):
        from rich.console import Group
        from rich.live import Live
        from rich.progress import Progress
        from rich.table import Table

        super().start(epochs=epochs, train_rows=train_rows, steps=steps, patience=patience)
        self.table = Table(title_justify="left", box=None, header_style="bold")
        self.progress = Progress(*self._bar_columns(), console=self.console)
        self.live = Live(
            Group(self.table, self.progress),
            console=self.console,
            refresh_per_second=4,
            transient=False,
        )
        self.live.start()

    def _bar_columns(self) -> list[Any]:
        """The bar's columns for this console's width; sets `wide` and `metrics_width`."""
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.table import Column

        # One column short of the width: a terminal may wrap a line that fills it.
        width = self.console.width - 1
        self.wide = width + 1 >= WIDE
        steps_width = 2 * len(str(self.steps or 99999)) + 1  # "70/141"
        # epoch, steps, elapsed (0:00:00), "ETA", remaining (up to 0:00:00), the 6 gaps
        fixed = len(f"epoch {self.epochs}/{self.epochs}") + steps_width + 7 + 3 + 7 + 6
        if self.wide:
            fixed += RATE_WIDTH + 1
        narrowest, widest = BAR_WIDTHS
        bar = max(narrowest, min(widest, width - fixed - BAR_METRICS))
        self.metrics_width = max(0, width - fixed - bar)
        columns = [
            TextColumn("epoch {task.fields[epoch]}/{task.fields[epochs]}"),
            BarColumn(bar_width=bar),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(compact=True),
        ]
        if self.wide:
            room = Column(width=RATE_WIDTH, no_wrap=True, overflow="ellipsis")
            columns.append(TextColumn("{task.fields[rate]}", table_column=room))
        return [*columns, TextColumn("{task.fields[metrics]}")]

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
            rate = _rate(samples / elapsed)
        items = [f"{key} {value:.4f}" for key, value in _shown(logs).items()]
        metrics = _fitted(items, self.metrics_width)
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
            if self.wide:
                self.table.add_column("samples/s", justify="right")
            self.table.add_column("", justify="left", no_wrap=True)
        rate = self.train_rows / row["seconds"] if row["seconds"] > 0 else 0.0
        from rich.text import Text

        if improved:
            note = Text("* best", style="bold green")
        elif self.stops_here(row, patience_left):
            note = Text("early stop", style="bold yellow")
        elif patience_left is not None:
            note = f"patience {patience_left} left"
        else:
            note = ""
        cells = [f"{metrics.get(name, math.nan):.4f}" for name in self.columns]
        self.table.add_row(
            f"{row['epoch']}/{self.epochs}",
            *cells,
            f"{row['seconds']:.1f}s",
            *([f"{rate:,.0f}"] if self.wide else []),
            note,
            style="bold" if improved else None,
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


def _rate(samples_per_second: float) -> str:
    if samples_per_second >= 1e6:
        return f"{samples_per_second / 1e6:,.1f}M samples/s"
    return f"{samples_per_second:,.0f} samples/s"


def _fitted(items: list[str], width: int) -> str:
    """As many of `items` as fit in `width` characters, in order, one space apart."""
    shown = ""
    for item in items:
        candidate = f"{shown} {item}" if shown else item
        if len(candidate) > width:
            break
        shown = candidate
    return shown


def make_display(mode: str, report: Report, console: Any = None) -> Display:
    if mode == "rich" and console is not None:
        return RichDisplay(report, console)
    if mode == "quiet":
        return QuietDisplay(report)
    return Display(report)
