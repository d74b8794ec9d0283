"""Which test made the current request: the ``X-Orrery-Test-Id`` header, per request."""

from __future__ import annotations

from contextvars import ContextVar

from starlette.types import ASGIApp, Receive, Scope, Send

TEST_ID_HEADER = "x-orrery-test-id"
current_test_id: ContextVar[str | None] = ContextVar("orrery_test_id", default=None)


class RecordingContextMiddleware:
    """Copies the header into ``current_test_id`` for the lifetime of the request (or WebSocket)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        test_id = next((value.decode("latin-1") for name, value in scope["headers"]
                        if name == TEST_ID_HEADER.encode()), None)
        token = current_test_id.set(test_id)
        try:
            await self.app(scope, receive, send)
        finally:
            current_test_id.reset(token)
