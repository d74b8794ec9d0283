"""How an upstream call can fail, in terms the Responses layer maps to statuses and codes."""

from __future__ import annotations

from typing import Any, Literal

UpstreamFailure = Literal["http", "timeout", "connect", "protocol"]


class UpstreamError(Exception):
    """The upstream answered with an error, timed out, refused, or broke its stream."""

    def __init__(self, kind: UpstreamFailure, message: str, *, status: int | None = None,
                 body: Any = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status = status
        self.body = body

    @property
    def http_status(self) -> int:
        """The status a non-streaming client sees: the upstream's 4xx, else 502, or 504."""
        if self.kind == "timeout":
            return 504
        if self.kind == "http" and self.status is not None and 400 <= self.status < 500:
            return self.status
        return 502

    @property
    def response_error_code(self) -> str:
        """A code from the Responses ``error.code`` vocabulary."""
        if self.status == 429:
            return "rate_limit_exceeded"
        if self.kind == "http" and self.status is not None and 400 <= self.status < 500:
            return "invalid_prompt"
        return "server_error"


def upstream_message(body: Any, fallback: str) -> str:
    """The ``error.message`` of an OpenAI-shaped error body, else ``fallback``."""
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return error["message"]
        if isinstance(error, str):
            return error
        if isinstance(body.get("message"), str):
            return body["message"]
        detail = body.get("detail")
        if isinstance(detail, str):
            return detail
        if isinstance(detail, dict) and isinstance(detail.get("error"), str):
            return detail["error"]
    return fallback
