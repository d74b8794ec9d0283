"""Helpers shared by the HTTP routes: fast JSON responses, the services handle, and the OpenAPI
document (request bodies the routes parse themselves, the statuses and media types they answer)."""

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
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": _reference(model)}}}}


class ErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None
    code: str | None


class ErrorResponse(BaseModel):
    """The body of every error the server answers, shaped as OpenAI's."""

    error: ErrorDetail


ERROR_STATUSES = {
    400: "The request is invalid: malformed, a parameter missing, unknown, of the wrong type or out of range.",
    401: "API keys are configured and the request has none that is known.",
    404: "An object the request names does not exist.",
    409: "Another response is in progress on the conversation (code conversation_locked).",
    413: "The request body is larger than the server accepts (code request_too_large).",
    424: "An MCP server of the request's tools could not be reached or listed.",
    502: "The upstream failed, or broke or garbled its answer.",
    504: "The upstream timed out.",
}

STREAMED: dict[int | str, dict[str, Any]] = {200: {
    "description": "The object; with stream=true, its events as server-sent events.",
    "content": {"text/event-stream": {"schema": {"type": "string"}}}}}
"""``responses=`` of a route that answers ``stream=true`` with an SSE stream."""


def _reference(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _error(status: int) -> dict[str, Any]:
    return {"description": ERROR_STATUSES[status],
            "content": {"application/json": {"schema": _reference(ErrorResponse)}}}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for the error statuses a route answers besides those ``openapi_document``
    infers (400 for a body or query parameters, 404 for ids in the path)."""
    return {status: _error(status) for status in statuses}


def _document_errors(path: str, operation: dict[str, Any]) -> None:
    """FastAPI's 422 gone (the server answers 400 instead, see ``orrery.app``); the 401 of every
    ``/v1/*`` route; the 400 of a route that takes a body or query parameters, and the 413 of one
    with a body; the 404 of one with ids in its path."""
    responses = operation["responses"]
    responses.pop("422", None)
    if path.startswith("/v1/"):
        responses.setdefault("401", _error(401))
    places = {parameter["in"] for parameter in operation.get("parameters", [])}
    if "requestBody" in operation:
        responses.setdefault("413", _error(413))
    if "requestBody" in operation or "query" in places:
        responses.setdefault("400", _error(400))
    if "path" in places:
        responses.setdefault("404", _error(404))
    operation["responses"] = dict(sorted(responses.items()))


def _publish(schemas: dict[str, Any], models: list[type[BaseModel]]) -> None:
    """``models`` as components, for the schemas that name them."""
    for model in models:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema


def openapi_document(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document, with the request body models and the error body (which FastAPI never
    sees) as components, and the error statuses each route really answers."""
    if app.openapi_schema is None:
        document = get_openapi(title=app.title, version=app.version, routes=app.routes)
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        for unused in ("HTTPValidationError", "ValidationError"):
            schemas.pop(unused, None)
        _publish(schemas, [*REQUEST_MODELS, ErrorResponse])
        for path, operations in document["paths"].items():
            for operation in operations.values():
                _document_errors(path, operation)
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
