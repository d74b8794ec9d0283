"""Request bodies past the limit: Starlette's limiter (``RequestBodyLimitMiddleware``, which a
route's ``max_body_size`` overrides) finds them before any work, whether the body declares its
length or not; this middleware, around it, makes its plain-text 413 an OpenAI-shaped error."""

from __future__ import annotations

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orrery.errors import APIError


def too_large(limit: int) -> APIError:
    return APIError(f"The request body is larger than this server accepts ({limit} bytes for JSON, 512 MB for "
                    "a file).", status_code=413, code="request_too_large")


class OpenAIShaped413:
    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.body = orjson.dumps(too_large(limit).body())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        replacing = False

        async def shaped(message: Message) -> None:
            nonlocal replacing
            if message["type"] == "http.response.start" and message["status"] == 413:
                content_type = dict(message.get("headers") or []).get(b"content-type", b"")
                replacing = not content_type.startswith(b"application/json")
                if replacing:
                    message = {**message, "headers": [(b"content-type", b"application/json"),
                                                      (b"content-length", str(len(self.body)).encode())]}
            elif message["type"] == "http.response.body" and replacing:
                if message.get("more_body"):
                    return
                message = {"type": "http.response.body", "body": self.body}
            await send(message)

        await self.app(scope, receive, shaped)
