"""The batcher merges concurrent requests into model calls, each request gets its own
records back in order, and the listening socket answers without Nagle's delay."""

import asyncio
import socket

import pytest

import seqcls
from seqcls.serving.batching import MODEL_CALL_TEXTS, Batcher
from seqcls.serving.server import bind


@pytest.fixture(scope="module")
def classifier(trained_run):
    return seqcls.load(trained_run[1])


def run_batches(classifier, requests, max_batch, max_wait_ms):
    """Submit every request at once; returns (each request's records, batch sizes)."""
    sizes = []

    async def main():
        batcher = Batcher(classifier, max_batch, max_wait_ms, observe=lambda n, s: sizes.append(n))
        batcher.start()
        try:
            return await asyncio.gather(
                *(batcher.submit(texts, top_k, attention) for texts, top_k, attention in requests)
            )
        finally:
            await batcher.stop()

    return asyncio.run(main()), sizes


def test_batcher_merges_requests_and_keeps_each_ones_options(classifier):
    requests = [
        (["my card is lost"], 0, False),
        (["exchange rate", "top up please", ""], 2, False),
        (["where is my card"], 0, True),
    ]
    results, sizes = run_batches(classifier, requests, max_batch=64, max_wait_ms=200)
    assert sizes == [5]  # one model call for the three requests
    for (texts, top_k, attention), records in zip(requests, results):
        assert records == classifier.predict(texts, top_k=top_k, attention=attention)


class CountingModel:
    """The run's real Keras model, counting the texts of each call the batcher makes."""

    def __init__(self, model):
        self.model, self.calls = model, []

    def predict_on_batch(self, texts):
        self.calls.append(len(texts))
        return self.model.predict_on_batch(texts)

    def __getattr__(self, name):
        return getattr(self.model, name)


def test_a_batch_larger_than_a_model_call_runs_sorted_and_answers_in_order(trained_run):
    """A merged batch of more than MODEL_CALL_TEXTS texts of mixed lengths runs as several
    model calls of at most MODEL_CALL_TEXTS; every request still gets its own texts'
    records, attention included, in order."""
    classifier = seqcls.load(trained_run[1])
    expected_of = seqcls.load(trained_run[1])
    counting = classifier.run.model = CountingModel(classifier.run.model)
    words = "my card was lost abroad and the exchange rate looks wrong".split()
    requests = [
        ([" ".join(words[: (i * 7 + j) % 12]) for j in range(10)], i % 3, i % 4 == 0)
        for i in range(30)
    ]
    results, sizes = run_batches(classifier, requests, max_batch=512, max_wait_ms=200)
    assert sizes == [300] and counting.calls == [MODEL_CALL_TEXTS] * 2 + [
        300 - 2 * MODEL_CALL_TEXTS
    ]
    for (texts, top_k, attention), records in zip(requests, results):
        assert records == expected_of.predict(texts, top_k=top_k, attention=attention)


def test_batcher_never_exceeds_max_batch_and_loses_no_request(classifier):
    requests = [
        ([f"text {i} {j}" for j in range(size)], 0, False)
        for i, size in enumerate([3, 3, 3, 1, 7, 2, 2])
    ]
    results, sizes = run_batches(classifier, requests, max_batch=5, max_wait_ms=50)
    # A request larger than max_batch (7) runs alone; the others fill batches up to 5.
    assert sum(sizes) == 21
    assert all(size <= 5 for size in sizes if size != 7) and 7 in sizes
    for (texts, _, _), records in zip(requests, results):
        assert records == classifier.predict(texts)


def test_batcher_stop_finishes_what_was_queued(classifier):
    async def main():
        batcher = Batcher(classifier, 64, max_wait_ms=500)
        batcher.start()
        pending = asyncio.ensure_future(batcher.submit(["queued before stop"]))
        await asyncio.sleep(0.01)
        await batcher.stop()
        return await pending

    assert asyncio.run(main()) == classifier.predict(["queued before stop"])


def test_bound_socket_gives_connections_tcp_nodelay():
    # Without TCP_NODELAY a response written in two parts waits ~40 ms for a delayed ACK.
    listening = bind("127.0.0.1", 0)
    port = listening.getsockname()[1]

    async def main():
        accepted = asyncio.get_running_loop().create_future()

        def connected(reader, writer):
            sock = writer.get_extra_info("socket")
            accepted.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()

        server = await asyncio.start_server(connected, sock=listening)
        async with server:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            value = await asyncio.wait_for(accepted, 10)
            writer.close()
        return value

    assert asyncio.run(main()) != 0


def test_batcher_refuses_texts_beyond_its_queue_and_counts_them_out_again(classifier):
    from seqcls.serving.batching import Overloaded

    async def main():
        batcher = Batcher(classifier, 64, max_wait_ms=1, max_pending=3)
        batcher.start()
        try:
            with pytest.raises(Overloaded, match="--max-queue"):
                await batcher.submit(["a", "b", "c", "d"])
            first = await batcher.submit(["a", "b", "c"])  # fits exactly
            assert batcher.pending_texts == 0  # answered texts leave the count
            return first
        finally:
            await batcher.stop()

    assert asyncio.run(main()) == classifier.predict(["a", "b", "c"])
