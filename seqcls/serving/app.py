"""The FastAPI application of `seqcls serve`.

    POST /predict   {"texts": [...], "top_k": 0, "attention": false} -> one result per text
    GET  /healthz   the process is alive (also while the model loads)
    GET  /readyz    the model is loaded and warmed (503 until then)
    GET  /metadata  labels, task, run id, config, versions, limits
    GET  /metrics   Prometheus text: requests, texts, errors by kind, latency, batch sizes
    GET  /docs      OpenAPI documentation

Every error is JSON, {"error": {"type": ..., "message": ...}}, never a traceback: 400 a body
that is not UTF-8, 413 a body, a request or a text over its limit, 422 malformed JSON, a
wrong type, an unknown field, an empty list or an option the run cannot honour, 503 before
the model is ready, 500 a failure of the model (logged with its traceback). A body sent
with any other content type (a form from curl -d, text/plain, none) is read as JSON.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr
from starlette.exceptions import HTTPException

from seqcls.errors import SeqclsError
from seqcls.serving.batching import MODEL_CALL_TEXTS, Batcher, Overloaded
from seqcls.serving.limits import BodyLimits, error_response
from seqcls.serving.metrics import Metrics, RequestMetrics
from seqcls.serving.settings import ServeSettings

log = logging.getLogger("seqcls.serve")

WARM_UP_TEXTS = ["warm up", "a somewhat longer text to warm up the model with"]


class PredictRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    texts: list[StrictStr] = Field(min_length=1, description="The texts to classify, in order.")
    top_k: StrictInt = Field(0, ge=0, description="Also return the k most probable labels.")
    attention: StrictBool = Field(False, description="Return each token's attention weight.")
    abstain: Literal["auto"] | Annotated[float, Field(ge=0.0, le=1.0, strict=True)] | None = Field(
        None,
        description='"auto" (the threshold fitted on valid) or a probability: a text whose '
        "top probability is below it gets the run's abstention.unknown_label.",
    )


class PredictResponse(BaseModel):
    predictions: list[dict[str, Any]]


class ErrorBody(BaseModel):
    type: str = Field(
        description="What went wrong, for programs: invalid_json, too_many_texts, ..."
    )
    message: str = Field(description="What went wrong and how to fix it, for people.")


class ErrorResponse(BaseModel):
    error: ErrorBody


# What the OpenAPI schema (/docs) says each error answer holds: this server's JSON errors,
# not FastAPI's default {"detail": [...]}.
ERRORS = {
    400: {"model": ErrorResponse, "description": "The body is not UTF-8."},
    413: {"model": ErrorResponse, "description": "A body, a request or a text over its limit."},
    422: {"model": ErrorResponse, "description": "Malformed JSON, a wrong type or option."},
    503: {"model": ErrorResponse, "description": "Not ready yet, or overloaded: retry."},
}


class State:
    """What the endpoints share: the classifier once loaded, the batcher, the metrics."""

    def __init__(self, settings: ServeSettings):
        self.settings = settings
        self.metrics = Metrics(settings.max_batch)
        self.classifier: Any = None
        self.batcher: Batcher | None = None
        self.ready = threading.Event()
        self.failure: BaseException | None = None  # why the model could not be loaded
        self.metadata: dict[str, Any] = {}
        self.on_failure: Any = None  # called with the error (the server shuts down)
        self.on_ready: Any = None  # called with the number of labels once ready
        self.loop: asyncio.AbstractEventLoop | None = None
        self.stopping = False  # the server is shutting down


def create_app(settings: ServeSettings, on_failure: Any = None, on_ready: Any = None) -> FastAPI:
    """The application for `settings`. The model loads in a thread once the server starts,
    so /healthz answers at once and /readyz says when predictions can be made; if it
    cannot load, `on_failure(error)` is called (`seqcls serve` then stops with the error
    `seqcls predict` would give)."""
    state = State(settings)
    state.on_failure, state.on_ready = on_failure, on_ready

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        state.loop = asyncio.get_running_loop()
        loading = state.loop.run_in_executor(None, _load, state)
        try:
            yield
        finally:
            # A stop while the model loads: the loading thread finishes (it cannot be
            # interrupted), but starts nothing and announces nothing.
            state.stopping = True
            loading.cancel()
            if state.batcher is not None:
                await state.batcher.stop()

    app = FastAPI(
        title="seqcls",
        summary=f"Predictions of the seqcls run in {settings.run_dir}",
        lifespan=lifespan,
    )
    app.state.seqcls = state
    _add_error_handlers(app, state)
    # The last added is the outermost: the metrics see the limits' 413 and 400 answers too.
    app.add_middleware(BodyLimits, max_body=settings.max_body)
    app.add_middleware(RequestMetrics, metrics=state.metrics)

    @app.post("/predict", response_model=PredictResponse, responses=ERRORS)
    async def predict(request: PredictRequest) -> Any:
        """Classify texts: one result per text, in the order given."""
        busy = _unavailable(state)
        if busy is not None:
            return busy
        problem = _request_problem(request, state)
        if problem is not None:
            return problem
        cut = state.classifier.abstain_threshold(request.abstain)
        try:
            records = await state.batcher.submit(
                request.texts, request.top_k, request.attention, cut
            )
        except Overloaded as error:
            response = error_response(503, "overloaded", str(error))
            response.headers["Retry-After"] = "1"
            return response
        state.metrics.texts.inc(len(request.texts))
        return {"predictions": records}

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        """The process is alive (the model may still be loading: see /readyz)."""
        return {"status": "alive"}

    @app.get("/readyz", responses={503: {}})
    async def readyz() -> Any:
        """Ready once the model is loaded and has answered a warm-up batch."""
        busy = _unavailable(state)
        return busy if busy is not None else {"status": "ready"}

    @app.get("/metadata", responses={503: {}})
    async def metadata() -> Any:
        """The run behind the server: labels, task, run id, config, versions, limits."""
        busy = _unavailable(state)
        return busy if busy is not None else state.metadata

    @app.get("/metrics", response_class=PlainTextResponse)
    async def metrics() -> PlainTextResponse:
        """Prometheus text format."""
        return PlainTextResponse(
            generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST
        )

    return app


def _unavailable(state: State) -> JSONResponse | None:
    """503 while the model is loading or after it failed to; None once ready."""
    if state.failure is not None:
        return error_response(503, "model_failed", f"the model failed to load: {state.failure}")
    if not state.ready.is_set():
        busy = error_response(503, "not_ready", "the model is still loading; retry shortly")
        busy.headers["Retry-After"] = "2"
        return busy
    return None


def _request_problem(request: PredictRequest, state: State) -> JSONResponse | None:
    """413 for a request over the limits, 422 for options the run cannot honour."""
    settings = state.settings
    if len(request.texts) > settings.max_texts:
        return error_response(
            413,
            "too_many_texts",
            f"{len(request.texts)} texts, more than the {settings.max_texts} a request may "
            "hold (--max-texts); split them over several requests",
        )
    for index, text in enumerate(request.texts):
        if len(text) > settings.max_text_chars:
            return error_response(
                413,
                "text_too_long",
                f"texts[{index}] has {len(text)} characters, more than the "
                f"{settings.max_text_chars} a text may have (--max-text-chars)",
            )
    try:
        state.classifier.check_options(request.top_k, request.attention, None)
        state.classifier.abstain_threshold(request.abstain)
    except SeqclsError as error:
        message = str(error).replace("--top-k", "top_k")
        return error_response(
            422, "invalid_option", message.replace("--with-attention/--explain", "attention")
        )
    return None


def _load(state: State) -> None:
    """Load and warm the model (in a thread); record a failure for /readyz and the CLI."""
    try:
        from seqcls.api import load

        classifier = load(state.settings.run_dir, engine="keras")  # batched: Keras is faster
        if state.stopping:
            return
        classifier.outputs(WARM_UP_TEXTS[:1])
        # A full model call, as batches make them (MODEL_CALL_TEXTS texts at most).
        size = min(state.settings.max_batch, MODEL_CALL_TEXTS)
        classifier.outputs(WARM_UP_TEXTS * (size // 2 or 1), batch_size=MODEL_CALL_TEXTS)
        state.metadata = _metadata(classifier, state.settings)
        state.classifier = classifier
        state.batcher = Batcher(
            classifier,
            state.settings.max_batch,
            state.settings.max_wait_ms,
            observe=state.metrics.observe_batch,
            max_pending=state.settings.max_queue,
        )
        state.loop.call_soon_threadsafe(_start_batcher, state)
    except BaseException as error:  # noqa: BLE001 -- reported by /readyz and the CLI
        state.failure = error
        log.error("the model failed to load: %s", error)
        if state.on_failure is not None:
            state.on_failure(error)


def _start_batcher(state: State) -> None:
    if state.stopping:
        return
    state.batcher.start()
    state.ready.set()
    if state.on_ready is not None:
        state.on_ready(len(state.classifier.labels))


def from_environment() -> FastAPI:
    """The app of one worker process of `seqcls serve --workers N` (uvicorn imports it)."""
    return create_app(ServeSettings.from_environment())


def _metadata(classifier: Any, settings: ServeSettings) -> dict[str, Any]:
    from importlib.metadata import PackageNotFoundError, version

    from seqcls.config import resolved_dict
    from seqcls.inference.onnx_engine import model_fingerprint
    from seqcls.run import artifacts

    versions = {}
    for package in ("seqcls", "tensorflow", "keras", "fastapi", "uvicorn"):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = None
    manifest_path = classifier.run_dir / artifacts.MANIFEST_FILE
    manifest = artifacts.read_json(manifest_path) if manifest_path.is_file() else {}
    return {
        "run_dir": str(classifier.run_dir),
        # The model served, exactly: the sha256 of its model.keras (what an export records).
        "run_id": model_fingerprint(classifier.run_dir / artifacts.MODEL_FILE),
        "trained_at": manifest.get("started_at"),
        "task": classifier.task,
        "labels": classifier.labels,
        "max_length": classifier.run.max_length,
        "attention": classifier.has_attention,
        "thresholds": classifier.run.thresholds,
        "calibration": classifier.run.calibration,
        "abstention": classifier.run.abstention,
        "config": resolved_dict(classifier.config),
        "versions": versions,
        "limits": {
            "max_texts": settings.max_texts,
            "max_body": settings.max_body,
            "max_text_chars": settings.max_text_chars,
            "max_batch": settings.max_batch,
            "max_wait_ms": settings.max_wait_ms,
            "max_queue": settings.max_queue,
        },
    }


# ---------------------------------------------------------------------- errors and limits


def _add_error_handlers(app: FastAPI, state: State) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        errors = error.errors()
        malformed = next((item for item in errors if item.get("type") == "json_invalid"), None)
        if malformed is not None:
            position = malformed.get("loc", ("body", "?"))[-1]
            why = (malformed.get("ctx") or {}).get("error", "not valid JSON")
            return error_response(
                422, "invalid_json", f"the body is not valid JSON: {why} at character {position}"
            )
        problems = [f"{_where(item.get('loc', ()))}: {item.get('msg')}" for item in errors]
        message = "; ".join(problems) or "invalid request"
        message += ' (expected {"texts": ["...", ...], "top_k": 0, "attention": false})'
        return error_response(422, "invalid_request", message)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> JSONResponse:
        kinds = {404: "not_found", 405: "method_not_allowed"}
        return error_response(
            error.status_code, kinds.get(error.status_code, "http_error"), str(error.detail)
        )

    @app.exception_handler(Exception)
    async def failure(request: Request, error: Exception) -> JSONResponse:
        log.exception("predicting failed")
        return error_response(500, "internal", f"{type(error).__name__}: {error}")


def _where(location: tuple) -> str:
    """("body", "texts", 0) -> "texts[0]"."""
    where = ""
    for part in location:
        if part == "body" and not where:
            continue
        where += f"[{part}]" if isinstance(part, int) else (f".{part}" if where else str(part))
    return where or "body"
