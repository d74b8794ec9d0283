"""The OpenAPI document describes every JSON request body the server parses, and accepts ours; and
every status and media type the routes answer, errors in OpenAI's shape (never FastAPI's 422)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import jsonschema
import pytest

from conftest import Server, free_port, upstream_name
from scripted_upstream import Reply, ScriptedUpstream
from test_malformed import BASE_REQUEST, TOOLS_REQUEST

ERROR_SCHEMA = {"$ref": "#/components/schemas/ErrorResponse"}
STREAMED = [("/v1/responses", "post"), ("/v1/responses/{response_id}", "get")]
CREATE_ERRORS = {400, 404, 409, 424, 502, 504}

BODIES = {
    "/v1/responses": "CreateResponseRequest",
    "/v1/conversations": "CreateConversationRequest",
    "/v1/conversations/{conversation_id}": "UpdateConversationRequest",
    "/v1/conversations/{conversation_id}/items": "CreateItemsRequest",
    "/v1/vector_stores": "CreateVectorStoreRequest",
    "/v1/vector_stores/{store_id}/search": "SearchRequest",
    "/v1/vector_stores/{store_id}/file_batches": "CreateFileBatchRequest",
}


@pytest.fixture(scope="module")
def document(server) -> dict:
    answer = httpx.get(f"{server.url}/openapi.json")
    assert answer.status_code == 200
    return answer.json()


def validator(document: dict, model: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator({"$ref": f"#/components/schemas/{model}",
                                            "components": document["components"]})


def test_every_parsed_body_is_described(document):
    for path, model in BODIES.items():
        body = document["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
        assert body == {"$ref": f"#/components/schemas/{model}"}, path
        jsonschema.Draft202012Validator.check_schema(document["components"]["schemas"][model])


@pytest.mark.parametrize("body", [BASE_REQUEST, TOOLS_REQUEST, {"model": "m", "input": "hi"}],
                         ids=["core", "server-tools", "minimal"])
def test_bodies_the_server_accepts_match_the_schema(document, body):
    validator(document, "CreateResponseRequest").validate(body)


@pytest.mark.parametrize("body", [{"input": "hi"}, {"model": "m", "temperature": 5},
                                  {"model": "m", "tools": [{"type": "mcp", "server_label": "bad label"}]},
                                  {"model": "m", "surprise": True}])
def test_bodies_the_server_refuses_do_not_match_the_schema(document, body):
    assert not validator(document, "CreateResponseRequest").is_valid(body)


def operations(document: dict) -> Iterator[tuple[str, str, dict]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


def statuses(operation: dict) -> set[int]:
    return {int(status) for status in operation["responses"]}


def parameters(operation: dict) -> set[str]:
    """Where the operation's parameters go: ``path``, ``query``."""
    return {parameter["in"] for parameter in operation.get("parameters", [])}


def check_documented(document: dict, operation: dict, answer: httpx.Response) -> None:
    """The status is one the operation documents, and an error's body is the error schema's."""
    assert answer.status_code in statuses(operation), (answer.request.method, answer.request.url, answer.text)
    if answer.status_code >= 400:
        validator(document, "ErrorResponse").validate(answer.json())


def test_no_422_and_every_error_is_openai_shaped(document):
    for path, method, operation in operations(document):
        assert "422" not in operation["responses"], (method, path)
        for status, answer in operation["responses"].items():
            if int(status) >= 400:
                assert answer["content"] == {"application/json": {"schema": ERROR_SCHEMA}}, (method, path, status)
                assert answer["description"], (method, path, status)
    assert not {"HTTPValidationError", "ValidationError"} & set(document["components"]["schemas"])


def test_the_error_schema_is_openai_s(document):
    error = validator(document, "ErrorResponse")
    shaped = {"message": "m", "type": "invalid_request_error", "param": None, "code": None}
    assert error.is_valid({"error": shaped}) and error.is_valid({"error": {**shaped, "param": "p", "code": "c"}})
    for broken in ({"message": None}, {"type": 1}, {"param": 1}, {"code": []}):
        assert not error.is_valid({"error": {**shaped, **broken}}), broken
    assert not error.is_valid({"error": {"message": "m", "type": "t"}}) and not error.is_valid(shaped)


def test_streamed_routes_document_event_streams(document):
    for path, method in STREAMED:
        content = document["paths"][path][method]["responses"]["200"]["content"]
        assert {"application/json", "text/event-stream"} <= set(content), path
    assert "text/event-stream" not in document["paths"]["/v1/responses"]["get"]["responses"]["200"]["content"]


def test_routes_document_their_errors(document):
    """A route with ids in its path can answer 404, one with a body or query parameters 400; a
    create, besides, 409 (conversation locked), 424 (MCP server unreachable), 502 and 504 (upstream)."""
    assert CREATE_ERRORS <= statuses(document["paths"]["/v1/responses"]["post"])
    for path, method, operation in operations(document):
        if "path" in parameters(operation):
            assert 404 in statuses(operation), (method, path)
        if "query" in parameters(operation) or "requestBody" in operation:
            assert 400 in statuses(operation), (method, path)
    for path in ("/v1/conversations/{conversation_id}", "/v1/conversations/{conversation_id}/items/{item_id}"):
        assert all(400 in statuses(operation) for operation in document["paths"][path].values()), path


def test_every_route_answers_what_it_documents(server: Server, document):
    """Every route, called with ids that name nothing (and an empty body where it takes one), then
    with a ``limit`` out of range where it takes one, answers a status it documents, in the error
    schema's shape; with ids alone, that is a 404 (a 400 for ids that are no conversation's)."""
    with httpx.Client(base_url=server.url, timeout=30) as http:
        for path, method, operation in operations(document):
            url = re.sub(r"\{[^}]+\}", "nope", path)
            answer = http.request(method, url, json={} if "requestBody" in operation else None)
            check_documented(document, operation, answer)
            if "path" in parameters(operation) and "requestBody" not in operation:
                if "{conversation_id}" in path:
                    assert answer.status_code == 400, (method, path, answer.text)
                    answer = http.request(method, url.replace("nope", "conv_nope", 1))
                    check_documented(document, operation, answer)
                assert answer.status_code == 404, (method, path, answer.text)
            if any(parameter["name"] == "limit" for parameter in operation.get("parameters", [])):
                answer = http.request(method, url, params={"limit": 0})
                assert answer.status_code == 400, (method, path)
                check_documented(document, operation, answer)


def provoke(status: int, http: httpx.Client, upstream: ScriptedUpstream, model: str) -> httpx.Response:
    """A create that fails with ``status``, for real."""
    body: dict[str, Any] = {"model": model, "input": "x"}
    refused = {400: {"temperature": 5}, 404: {"model": "nope/x"}, 502: {"model": "down/x"},
               424: {"tools": [{"type": "mcp", "server_label": "gone", "require_approval": "never",
                                "server_url": f"http://127.0.0.1:{free_port()}/mcp"}]}}
    if status in refused:
        return http.post("/responses", json={**body, **refused[status]})
    if status == 504:
        upstream.script(upstream_name(model), Reply(text="too slow", delay=3))
        return http.post("/responses", json=body)
    assert status == 409  # a second create on the conversation a first one, still streaming, holds
    upstream.script(upstream_name(model), Reply(text="slowly", delay=1.5))
    held = {**body, "conversation": http.post("/conversations", json={}).json()["id"]}
    with http.stream("POST", "/responses", json={**held, "stream": True}):
        return http.post("/responses", json=held)


@pytest.mark.parametrize("status", sorted(CREATE_ERRORS))
def test_create_answers_the_errors_it_documents(server: Server, upstream, model, document, status):
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        answer = provoke(status, http, upstream, model)
    assert answer.status_code == status, answer.text
    check_documented(document, document["paths"]["/v1/responses"]["post"], answer)


def test_streams_are_the_documented_event_streams(server: Server, upstream, model):
    upstream.script(upstream_name(model), Reply(text="streamed"), Reply(text="in the background"))
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        streamed = http.post("/responses", json={"model": model, "input": "x", "stream": True})
        queued = http.post("/responses", json={"model": model, "input": "x", "background": True}).json()
        resumed = http.get(f"/responses/{queued['id']}", params={"stream": "true"})
    for answer in (streamed, resumed):
        assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/event-stream")
        assert "event: response.completed" in answer.text, answer.text
