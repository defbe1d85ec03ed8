"""The server's settings: where it listens, how it batches, and what a request may hold."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from seqcls.errors import UsageError

# Read by a worker process of `--workers N`, which uvicorn starts by importing the app.
ENVIRONMENT_KEY = "SEQCLS_SERVE_SETTINGS"


@dataclass(frozen=True)
class ServeSettings:
    run_dir: Path
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    max_batch: int = 512  # texts merged into one batch (run in sorted model calls)
    max_wait_ms: float = 2.0  # how long a lone request waits for company
    max_texts: int = 256  # texts per request
    max_body: int = 1_048_576  # bytes per request body
    max_text_chars: int = 10_000  # characters per text
    max_queue: int = 4096  # texts waiting or being predicted; beyond, 503 overloaded
    access_log: bool = False

    def check(self) -> ServeSettings:
        """Refuse impossible values with the option to change."""
        bounds = [
            ("--port", self.port, 0, 65535),
            ("--workers", self.workers, 1, 64),
            ("--max-batch", self.max_batch, 1, 100_000),
            ("--max-texts", self.max_texts, 1, 1_000_000),
            ("--max-body", self.max_body, 64, 1 << 31),
            ("--max-text-chars", self.max_text_chars, 1, 10_000_000),
            ("--max-queue", self.max_queue, 1, 10_000_000),
        ]
        for option, value, low, high in bounds:
            if not low <= value <= high:
                raise UsageError(f"{option} must be between {low} and {high}, got {value}")
        if not 0 <= self.max_wait_ms <= 10_000:
            raise UsageError(f"--max-wait-ms must be between 0 and 10000, got {self.max_wait_ms}")
        return self

    def to_environment(self) -> str:
        return json.dumps({**asdict(self), "run_dir": str(self.run_dir)})

    @classmethod
    def from_environment(cls) -> ServeSettings:
        raw = os.environ.get(ENVIRONMENT_KEY)
        if not raw:
            raise UsageError(f"{ENVIRONMENT_KEY} is not set: start the server with `seqcls serve`")
        values = json.loads(raw)
        return cls(**{**values, "run_dir": Path(values["run_dir"])})
