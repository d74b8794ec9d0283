"""Helpers shared by the HTTP routes: fast JSON responses and the services handle."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel
from starlette.requests import HTTPConnection
from starlette.responses import Response

from orrery.errors import InvalidRequest
from orrery.services import Services
from orrery.wire.responses import INCLUDABLE


class JSONBody(Response):
    """A JSON response serialized once with orjson."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


JSON_OBJECT_BODY = {"requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}}}
"""OpenAPI note for routes that pass any JSON object on (the chat and embeddings pass-through)."""

REQUEST_MODELS: list[type[BaseModel]] = []
"""The models of the bodies routes parse themselves, published in the OpenAPI document."""


def json_body(model: type[BaseModel]) -> dict[str, Any]:
    """OpenAPI note for a route that parses its JSON body itself as ``model``."""
    REQUEST_MODELS.append(model)
    reference = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": reference}}}}


def openapi_document(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document, with the request body models (which FastAPI never sees) as components."""
    if app.openapi_schema is None:
        document = get_openapi(title=app.title, version=app.version, routes=app.routes)
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        for model in REQUEST_MODELS:
            schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
            schemas.update(schema.pop("$defs", {}))
            schemas[model.__name__] = schema
        app.openapi_schema = document
    return app.openapi_schema


def services(connection: HTTPConnection) -> Services:
    found: Services = connection.app.state.services
    return found


def include_param(request: Request) -> list[str]:
    """The ``include`` query parameter, as ``include[]=…`` (how the openai SDK sends it) or ``include=…``."""
    include = request.query_params.getlist("include[]") + request.query_params.getlist("include")
    for value in include:
        if value not in INCLUDABLE:
            raise InvalidRequest(f"Invalid value for 'include': '{value[:140]}'. Supported values are: "
                                 f"{', '.join(sorted(INCLUDABLE))}.", param="include", code="invalid_value")
    return include
