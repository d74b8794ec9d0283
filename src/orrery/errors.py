"""Errors that leave the server as OpenAI-shaped bodies: {"error": {message, type, param, code}}."""

from __future__ import annotations

from typing import Any


class APIError(Exception):
    """An error with an HTTP status and an OpenAI-shaped body."""

    status_code = 400
    error_type = "invalid_request_error"

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        status_code: int | None = None,
        error_type: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code
        self.headers = headers or {}
        if status_code is not None:
            self.status_code = status_code
        if error_type is not None:
            self.error_type = error_type

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.error_type, "param": self.param, "code": self.code}}


class InvalidRequest(APIError):
    status_code = 400


class NotFound(APIError):
    status_code = 404

    def __init__(self, message: str, *, param: str | None = None, code: str | None = "not_found") -> None:
        super().__init__(message, param=param, code=code)


class AdminOnly(APIError):
    """What belongs to the server, not to a project, asked for with a project's key."""

    status_code = 403
    error_type = "permission_error"

    def __init__(self, what: str) -> None:
        super().__init__(f"{what} the server's, not a project's: reading them needs an admin key.",
                         code="admin_key_required")


class Conflict(APIError):
    status_code = 409
