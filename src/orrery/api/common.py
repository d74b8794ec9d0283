"""Helpers shared by the HTTP routes: fast JSON responses and the services handle."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request
from starlette.responses import Response

from orrery.errors import InvalidRequest
from orrery.wire.requests import INCLUDABLE


class JSONBody(Response):
    """A JSON response serialized once with orjson."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


JSON_OBJECT_BODY = {"requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}}}
"""OpenAPI note for routes that parse their JSON body themselves."""


def services(request: Request) -> Any:
    return request.app.state.services


def include_param(request: Request) -> list[str]:
    """The ``include`` query parameter, as ``include[]=…`` (how the openai SDK sends it) or ``include=…``."""
    include = request.query_params.getlist("include[]") + request.query_params.getlist("include")
    for value in include:
        if value not in INCLUDABLE:
            raise InvalidRequest(f"Invalid value for 'include': '{value[:140]}'. Supported values are: "
                                 f"{', '.join(sorted(INCLUDABLE))}.", param="include", code="invalid_value")
    return include
