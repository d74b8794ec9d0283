"""Helpers shared by the HTTP routes: fast JSON responses and the services handle."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request
from starlette.responses import Response


class JSONBody(Response):
    """A JSON response serialized once with orjson."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


JSON_OBJECT_BODY = {"requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}}}
"""OpenAPI note for routes that parse their JSON body themselves."""


def services(request: Request) -> Any:
    return request.app.state.services
