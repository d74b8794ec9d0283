"""The OpenAPI document describes every JSON request body the server parses, and accepts ours."""

from __future__ import annotations

import httpx
import jsonschema
import pytest

from test_malformed import BASE_REQUEST, TOOLS_REQUEST

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
