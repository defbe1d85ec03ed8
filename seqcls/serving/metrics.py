"""The server's Prometheus metrics, and the middleware that counts and times every answer."""

from __future__ import annotations

import json
import time
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
)

ENDPOINTS = ("/predict", "/healthz", "/readyz", "/metadata", "/metrics")


class Metrics:
    """The server's Prometheus metrics, in a registry of its own."""

    def __init__(self, max_batch: int):
        disable_created_metrics()  # no *_created series: they double the output for nothing
        self.registry = CollectorRegistry()
        registry = self.registry
        self.requests = Counter(
            "seqcls_requests", "HTTP requests answered.", ["endpoint", "status"], registry=registry
        )
        self.texts = Counter("seqcls_texts", "Texts predicted.", registry=registry)
        self.errors = Counter(
            "seqcls_errors",
            "Requests answered with an error, by kind.",
            ["kind"],
            registry=registry,
        )
        self.latency = Histogram(
            "seqcls_request_seconds",
            "Time to answer a request.",
            ["endpoint"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=registry,
        )
        sizes, size = [], 1
        while size < max_batch:
            sizes.append(size)
            size *= 2
        self.batch_texts = Histogram(
            "seqcls_batch_texts",
            "Texts per batch (merged requests; dynamic batching).",
            buckets=(*sizes, max_batch),
            registry=registry,
        )
        self.batch_seconds = Histogram(
            "seqcls_batch_seconds",
            "Time to predict one batch: its model calls and its records.",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=registry,
        )

    def observe_batch(self, texts: int, seconds: float) -> None:
        self.batch_texts.observe(texts)
        self.batch_seconds.observe(seconds)


class RequestMetrics:
    """Counts every answer by endpoint and status, errors by kind, and times requests."""

    def __init__(self, app: Any, metrics: Metrics):
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope["path"]
        endpoint = path if path in ENDPOINTS else "other"
        started = time.perf_counter()
        status = {"code": 500}
        body: list[bytes] = []

        async def sending(message: dict) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            elif message["type"] == "http.response.body" and status["code"] >= 400:
                body.append(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            metrics = self.metrics
            metrics.requests.labels(endpoint, str(status["code"])).inc()
            metrics.latency.labels(endpoint).observe(time.perf_counter() - started)
            if status["code"] >= 400:
                metrics.errors.labels(_error_kind(b"".join(body), status["code"])).inc()


def _error_kind(body: bytes, status: int) -> str:
    try:
        return str(json.loads(body)["error"]["type"])
    except (ValueError, KeyError, TypeError):
        return f"http_{status}"
