"""How an upstream call can fail, in terms the Responses layer maps to statuses and codes."""

from __future__ import annotations

from typing import Any, Literal

from orrery.errors import APIError

UpstreamFailure = Literal["http", "timeout", "connect", "protocol"]


class UpstreamError(Exception):
    """The upstream answered with an error, timed out, refused, or broke its stream."""

    def __init__(self, kind: UpstreamFailure, message: str, *, status: int | None = None,
                 body: Any = None, retry_after: int | None = None) -> None:
        """``retry_after``: seconds after which the same request may well succeed (a busy model)."""
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status = status
        self.body = body
        self.retry_after = retry_after

    @property
    def http_status(self) -> int:
        """The status a non-streaming client sees: the upstream's 4xx, or its 503 with a time to
        retry after, else 502, or 504."""
        if self.kind == "timeout":
            return 504
        if self.kind == "http" and self.status is not None and (
                400 <= self.status < 500 or self.status == 503 and self.retry_after is not None):
            return self.status
        return 502

    @property
    def headers(self) -> dict[str, str]:
        return {"retry-after": str(self.retry_after)} if self.retry_after is not None else {}

    @property
    def response_error_code(self) -> str:
        """A code from the Responses ``error.code`` vocabulary."""
        if self.status == 429:
            return "rate_limit_exceeded"
        return response_error_code(self.status) if self.kind == "http" else "server_error"


def response_error_code(status: int | None) -> str:
    """The Responses ``error.code`` of a failure answered with HTTP ``status`` (``None``: none)."""
    if status == 429:
        return "rate_limit_exceeded"
    if status is not None and 400 <= status < 500:
        return "invalid_prompt"
    return "server_error"


def upstream_message(body: Any, fallback: str) -> str:
    """The ``error.message`` of an OpenAI-shaped error body, else ``fallback``."""
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and isinstance(message := error.get("message"), str):
            return message
        if isinstance(error, str):
            return error
        if isinstance(message := body.get("message"), str):
            return message
        detail = body.get("detail")
        if isinstance(detail, str):
            return detail
        if isinstance(detail, dict) and isinstance(message := detail.get("error"), str):
            return message
    return fallback


def http_error(exc: UpstreamError, *, response_id: str | None = None) -> APIError:
    """The HTTP error for ``exc``: as passed through, or, with ``response_id``, as a failed response's.

    Passed through, an OpenAI-shaped upstream error keeps its type, param and code; others are
    ``upstream_error`` with the failure's kind as code.
    """
    if response_id is not None:
        status = exc.http_status
        return APIError(
            f"Response {response_id} failed: {exc.message}",
            status_code=status,
            error_type="invalid_request_error" if status < 500 else "server_error",
            code=exc.response_error_code,
            headers={"x-response-id": response_id, **exc.headers},
        )
    if exc.kind == "http" and isinstance(exc.body, dict) and isinstance(exc.body.get("error"), dict):
        error = exc.body["error"]
        return APIError(exc.message, status_code=exc.status, error_type=str(error.get("type") or "upstream_error"),
                        param=error.get("param"), code=error.get("code"), headers=exc.headers)
    status = exc.status if exc.kind == "http" and exc.status else exc.http_status
    return APIError(exc.message, status_code=status, error_type="upstream_error", code=exc.kind, headers=exc.headers)
