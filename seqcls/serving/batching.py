"""Dynamic batching: requests that arrive together share one batch.

Each request's texts go on a queue with a future. One task takes the first waiting
request, then whatever else arrives within `max_wait_ms` (or is already waiting), up to
`max_batch` texts; the model runs on the merged texts in a worker thread (the event loop
never waits on it), sorted by length in calls of up to MODEL_CALL_TEXTS texts, and each
request gets its own records back, in its own order, with its own top_k and attention
options. While a batch runs, the next one fills up, so under load batches grow with
concurrency and a lone request waits at most `max_wait_ms`. A request larger than
`max_batch` runs as a batch of its own.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

# A merged batch is sorted by length and run in model calls of at most this many texts:
# each call pads to its own longest text, so short texts do not pay for long ones.
# benchmarks/NOTES.md ("seqcls serve: bigger batches, sorted calls") measured 128.
MODEL_CALL_TEXTS = 128


class Overloaded(Exception):
    """More texts are waiting than the batcher may hold: the client should retry later."""


@dataclass
class Pending:
    texts: list[str]
    top_k: int
    attention: bool
    future: asyncio.Future = field(repr=False)
    abstain: float | None = None  # a threshold (Classifier.abstain_threshold)


class Batcher:
    """`await batcher.submit(texts, top_k, attention)` gives the records of `texts`.

    `classifier` is a seqcls.api.Classifier (its `outputs` and `records`); `observe`, if
    given, is called with (texts in the batch, seconds the model took) after each batch.
    """

    def __init__(
        self,
        classifier: Any,
        max_batch: int,
        max_wait_ms: float,
        observe: Callable[[int, float], None] | None = None,
        max_pending: int | None = None,
    ):
        self.classifier = classifier
        self.max_batch = max_batch
        self.max_wait = max_wait_ms / 1000
        self.observe = observe
        # At most this many texts queued or running (None: no bound); beyond, Overloaded.
        self.max_pending = max_pending
        self.pending_texts = 0
        self._queue: asyncio.Queue[Pending | None] = asyncio.Queue()
        self._carry: Pending | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="seqcls-model")
        self._task: asyncio.Task | None = None
        self._getter: asyncio.Future | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="seqcls-batcher")

    async def stop(self) -> None:
        """Finish the batches already queued, then stop."""
        if self._task is not None:
            await self._queue.put(None)
            await self._task
            self._task = None
        self._executor.shutdown(wait=True)

    async def submit(
        self,
        texts: list[str],
        top_k: int = 0,
        attention: bool = False,
        abstain: float | None = None,
    ) -> list:
        if self._task is None or self._task.done():
            raise RuntimeError("the batcher is not running")
        if self.max_pending is not None and self.pending_texts + len(texts) > self.max_pending:
            raise Overloaded(
                f"{self.pending_texts} texts are waiting, and {len(texts)} more would pass the "
                f"{self.max_pending} the server holds (--max-queue); retry shortly"
            )
        future = asyncio.get_running_loop().create_future()
        self.pending_texts += len(texts)
        try:
            await self._queue.put(Pending(texts, top_k, attention, future, abstain))
            return await future
        finally:
            self.pending_texts -= len(texts)

    # ------------------------------------------------------------------------ the loop

    async def _loop(self) -> None:
        while True:
            batch = await self._gather()
            if batch is None:
                return
            await self._run(batch)

    async def _next(self, timeout: float | None) -> Pending | None:
        """The next request (None: stop), or TimeoutError after `timeout` seconds. One get()
        stays pending across timeouts, so no request is lost to a cancelled get."""
        if self._carry is not None:
            item, self._carry = self._carry, None
            return item
        if self._getter is None:
            self._getter = asyncio.ensure_future(self._queue.get())
        done, _ = await asyncio.wait({self._getter}, timeout=timeout)
        if not done:
            raise TimeoutError
        item, self._getter = self._getter.result(), None
        return item

    async def _gather(self) -> list[Pending] | None:
        """The next batch; None once stop() was called and everything before it is done."""
        first = await self._next(None)
        if first is None:
            return None
        batch, count = [first], len(first.texts)
        deadline = time.monotonic() + self.max_wait
        while count < self.max_batch:
            try:
                # Whatever is already waiting joins at once; then wait out the deadline.
                item = await self._next(max(deadline - time.monotonic(), 0))
            except TimeoutError:
                break
            if item is None:  # stop(): run this batch, then end
                self._queue.put_nowait(None)
                break
            if count + len(item.texts) > self.max_batch:
                self._carry = item  # first in the next batch
                break
            batch.append(item)
            count += len(item.texts)
        return batch

    async def _run(self, batch: list[Pending]) -> None:
        live = [item for item in batch if not item.future.done()]  # a client may have gone
        if not live:
            return
        loop = asyncio.get_running_loop()
        try:
            results = await loop.run_in_executor(self._executor, self._predict, live)
        except Exception as error:  # noqa: BLE001 -- every waiting request gets the failure
            for item in live:
                if not item.future.done():
                    item.future.set_exception(error)
            return
        for item, records in zip(live, results):
            if not item.future.done():
                item.future.set_result(records)

    def _predict(self, batch: list[Pending]) -> list[list[dict[str, Any]]]:
        texts = [text for item in batch for text in item.texts]
        started = time.perf_counter()
        outputs = self.classifier.outputs(texts, batch_size=MODEL_CALL_TEXTS)
        results, start = [], 0
        for item in batch:
            end = start + len(item.texts)
            mine = {key: values[start:end] for key, values in outputs.items()}
            results.append(
                self.classifier.records(
                    item.texts, mine, item.top_k, item.attention, abstain=item.abstain
                )
            )
            start = end
        if self.observe is not None:
            self.observe(len(texts), time.perf_counter() - started)
        return results
