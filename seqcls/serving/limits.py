"""Limits on a request's body, checked before FastAPI parses it: its size and its encoding."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse


def error_response(status: int, kind: str, message: str) -> JSONResponse:
    """The JSON of every error the server answers: {"error": {"type", "message"}}."""
    return JSONResponse({"error": {"type": kind, "message": message}}, status_code=status)


class BodyLimits:
    """Bodies over --max-body are 413 (by Content-Length, or while they stream in); a body
    that is not UTF-8 is 400. Checked before FastAPI parses the JSON."""

    def __init__(self, app: Any, max_body: int):
        self.app, self.max_body = app, max_body

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            return await self.app(scope, receive, send)
        limit = self.max_body
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return await self._too_large(scope, receive, send)
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                return await self._too_large(scope, receive, send)
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if _not_json(headers.get(b"content-type")):
            # The endpoints take JSON only: curl -d sends application/x-www-form-urlencoded,
            # others text/plain or nothing; the body is read as JSON all the same.
            scope = {**scope, "headers": _with_json_type(scope.get("headers") or [])}
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as error:
            response = error_response(
                400, "not_utf8", f"the body is not UTF-8 (byte {error.start}); send UTF-8 JSON"
            )
            return await response(scope, receive, send)
        delivered = False

        async def replay() -> dict:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, scope: dict, receive: Any, send: Any) -> None:
        limit = self.max_body
        response = error_response(
            413,
            "body_too_large",
            f"the body is larger than the {limit} bytes a request may "
            "have (--max-body); send fewer texts per request",
        )
        await response(scope, receive, send)


def _not_json(content_type: bytes | None) -> bool:
    return content_type is None or not content_type.lower().startswith(b"application/json")


def _with_json_type(headers: list) -> list:
    kept = [(name, value) for name, value in headers if name.lower() != b"content-type"]
    return [*kept, (b"content-type", b"application/json")]
