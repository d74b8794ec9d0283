"""Garbage over real HTTP: the server never answers 5xx to a malformed request, and every error
it does answer is OpenAI-shaped — ``{"error": {"message", "type", "param", "code"}}`` with a 4xx.

Every test runs against both stores (the ``server`` fixture is parametrized over SQLite and
PostgreSQL). Requests that happen to stay valid name ``scripted/garbage``, which the scripted
upstream answers by echoing the last user message.
"""

from __future__ import annotations

import json
import random
import string
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from conftest import Server
from wire import check_events, read_sse

MODEL = "scripted/garbage"
VALID: dict[str, Any] = {"model": MODEL, "input": "hi"}
POSTS = ("/responses", "/responses/compact", "/responses/input_tokens", "/chat/completions", "/embeddings")
ERROR_KEYS = {"message", "type", "param", "code"}


@pytest.fixture(scope="module")
def http(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        yield client


def describe(response: httpx.Response) -> str:
    request = response.request
    sent = request.content[:300] if request.content else b""
    return (f"{request.method} {request.url} body={sent!r}{'…' if len(request.content or b'') > 300 else ''}"
            f" -> {response.status_code} {response.text[:500]!r}")


def check_error_shape(response: httpx.Response) -> dict[str, Any]:
    """Assert an OpenAI-shaped 4xx error and return its ``error`` object."""
    assert response.status_code < 500, describe(response)
    assert 400 <= response.status_code < 500, describe(response)
    assert response.headers.get("content-type", "").startswith("application/json"), describe(response)
    try:
        body = response.json()
    except ValueError:
        raise AssertionError(f"error body is not JSON: {describe(response)}") from None
    assert isinstance(body, dict) and set(body) == {"error"}, describe(response)
    error = body["error"]
    assert isinstance(error, dict) and set(error) == ERROR_KEYS, describe(response)
    assert isinstance(error["message"], str) and error["message"], describe(response)
    assert isinstance(error["type"], str) and error["type"], describe(response)
    assert error["param"] is None or isinstance(error["param"], str), describe(response)
    assert error["code"] is None or isinstance(error["code"], str), describe(response)
    return error


def expect_error(response: httpx.Response, status: int, *, code: str | None = None,
                 param: str | None = None, param_root: str | None = None) -> dict[str, Any]:
    error = check_error_shape(response)
    assert response.status_code == status, describe(response)
    if code is not None:
        assert error["code"] == code, describe(response)
    if param is not None:
        assert error["param"] == param, describe(response)
    if param_root is not None:
        assert error["param"] is not None and root_of(error["param"]) == param_root, describe(response)
    return error


def root_of(param: str) -> str:
    return param.split(".", 1)[0].split("[", 1)[0]


def check_not_5xx(response: httpx.Response) -> None:
    """Any status below 500; errors must be OpenAI-shaped, and event streams complete and valid."""
    assert response.status_code < 500, describe(response)
    if response.status_code >= 400:
        check_error_shape(response)
    elif response.headers.get("content-type", "").startswith("text/event-stream"):
        check_events(read_sse(response.content))


def post_raw(http: httpx.Client, path: str, content: bytes, content_type: str | None = "application/json",
             **headers: str) -> httpx.Response:
    if content_type is not None:
        headers["content-type"] = content_type
    return http.post(path, content=content, headers=headers)


def encode(body: Any) -> bytes:
    """JSON bytes of ``body``; the recursion limit is lifted so nesting depth 1000 encodes."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10_000))
    try:
        return json.dumps(body, allow_nan=False).encode()
    finally:
        sys.setrecursionlimit(limit)


def post(http: httpx.Client, path: str, body: Any) -> httpx.Response:
    return post_raw(http, path, encode(body))


def nested_dict(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


def nested_list(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth - 1):
        value = [value]
    return value


# ---------------------------------------------------------------------------------------------
# bodies that are not JSON, or not a JSON object


NOT_JSON = {
    "empty": b"",
    "whitespace": b"   \n\t ",
    "text": b"hello there",
    "truncated": b'{"model": "scripted/garbage", "input": "hi"',
    "single-quotes": b"{'model': 'scripted/garbage'}",
    "trailing-comma": b'{"model": "scripted/garbage",}',
    "two-documents": b'{"model": "a"}{"model": "b"}',
    "nan": b'{"model": "scripted/garbage", "temperature": NaN}',
    "infinity": b'{"model": "scripted/garbage", "temperature": Infinity}',
    "number-overflow": b'{"model": "scripted/garbage", "temperature": 1e400}',
    "comment": b'{"model": "scripted/garbage" /* hi */}',
    "nul-byte": b"\x00",
    "binary": bytes(range(256)),
    "invalid-utf8-value": b'{"model": "scripted/garbage", "input": "\xff\xfe"}',
    "invalid-utf8-key": b'{"mo\xc3del": "scripted/garbage"}',
    "overlong-utf8": b'{"model": "scripted/garbage", "input": "\xc0\xaf"}',
    "utf8-encoded-surrogate": b'{"model": "scripted/garbage", "input": "\xed\xa0\x80"}',
    "lone-surrogate-escape": b'{"model": "scripted/garbage", "input": "\\ud800"}',
    "bad-escape": b'{"model": "scripted/garbage", "input": "\\q"}',
    "raw-control-char": b'{"model": "scripted/garbage", "input": "a\x01b"}',
    "utf16": '{"model": "scripted/garbage", "input": "hi"}'.encode("utf-16"),
    "depth-2000": b"[" * 2000 + b"]" * 2000,
    "unclosed-depth": b"{" * 5000,
    "form-encoded": b"model=scripted%2Fgarbage&input=hi",
}


@pytest.mark.parametrize("path", POSTS)
@pytest.mark.parametrize("raw", NOT_JSON.values(), ids=NOT_JSON.keys())
def test_body_not_json(http: httpx.Client, path: str, raw: bytes) -> None:
    expect_error(post_raw(http, path, raw), 400, code="invalid_json")


NOT_OBJECT = {"list": [], "list-of-request": [VALID], "string": "hello", "int": 1, "float": 1.5,
              "true": True, "false": False, "null": None}


@pytest.mark.parametrize("path", POSTS)
@pytest.mark.parametrize("body", NOT_OBJECT.values(), ids=NOT_OBJECT.keys())
def test_body_not_an_object(http: httpx.Client, path: str, body: Any) -> None:
    expect_error(post(http, path, body), 400, code="invalid_json")


CONTENT_TYPES = ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=xyz",
                 "application/xml", "application/json; charset=utf-16", "garbage;;;=", None]


@pytest.mark.parametrize("content_type", CONTENT_TYPES)
def test_wrong_content_type(http: httpx.Client, content_type: str | None) -> None:
    """A content type that lies about the body is never a server error, whatever the body is."""
    check_not_5xx(post_raw(http, "/responses", json.dumps(VALID).encode(), content_type))
    check_not_5xx(post_raw(http, "/responses", b"model=x&input=hi", content_type))
    check_not_5xx(post_raw(http, "/responses", b"--xyz\r\ncontent-disposition: form-data\r\n\r\n", content_type))


@pytest.mark.parametrize("headers", [
    {"content-encoding": "gzip"},
    {"content-encoding": "br"},
    {"accept": "text/html"},
    {"accept-charset": "latin-1"},
    {"expect": "100-continue"},
], ids=lambda h: next(iter(h.items()))[0] + "=" + next(iter(h.values())))
def test_misleading_headers(http: httpx.Client, headers: dict[str, str]) -> None:
    check_not_5xx(post_raw(http, "/responses", json.dumps({"model": 5}).encode(), **headers))


# ---------------------------------------------------------------------------------------------
# wrong types for every top-level field of the create request

WRONG_TYPES: dict[str, list[Any]] = {
    "model": [None, 5, 1.5, True, [], ["scripted/garbage"], {}, {"id": "x"}, ""],
    "input": [None, 5, 1.5, True, {}, {"role": "user", "content": "hi"}],
    "instructions": [5, 1.5, True, [], ["hi"], {}],
    "previous_response_id": [5, True, [], {}, {"id": "resp_x"}],
    "conversation": [5, True, [], {}, {"id": 5}, {"id": "c", "x": 1}],
    "store": ["maybe", 2, -1, 1.5, [], {}, None],
    "stream": ["maybe", 2, 1.5, [], {}, None],
    "stream_options": ["x", 5, [], {"include_obfuscation": "maybe"}, {"include_usage": True}],
    "background": ["maybe", 2, [], {}],
    "temperature": ["hot", "", [], [1], {}, {"value": 1}],
    "top_p": ["high", [], {}, [0.5]],
    "max_output_tokens": ["many", 1.5, [], {}, [10]],
    "max_tool_calls": ["x", 1.5, [], {}],
    "metadata": ["x", 5, True, [], [["k", "v"]], {"k": 5}, {"k": None}, {"k": {"a": "b"}}, {"k": ["v"]}],
    "text": ["x", 5, True, [], {"format": "json"}, {"format": {"type": "yaml"}}, {"format": {}},
             {"format": {"type": "json_schema"}}, {"format": {"type": "json_schema", "name": "n", "schema": 5}},
             {"format": {"type": "json_schema", "name": "bad name", "schema": {}}},
             {"format": {"type": "text", "extra": 1}}, {"verbosity": "loud"}, {"verbosity": 5}, {"unknown": 1}],
    "tools": ["x", 5, True, {}, {"type": "function", "name": "f"}, [5], ["f"], [None], [[]]],
    "tool_choice": [5, True, "sometimes", "", [], {}, {"type": "function"}, {"type": "magic"},
                    {"type": "function", "name": 5}],
    "parallel_tool_calls": ["maybe", 2, 1.5, [], {}],
    "include": ["reasoning.encrypted_content", 5, True, {}, ["nope"], [5], [None], [[]]],
    "top_logprobs": ["x", 1.5, [], {}],
    "user": [5, 1.5, True, [], {}],
    "safety_identifier": [5, True, [], {}],
    "prompt_cache_key": [5, True, [], {}],
    "prompt_cache_retention": ["forever", 5, True, []],
    "reasoning": ["high", 5, True, [], {"effort": "extreme"}, {"effort": 5}, {"summary": "long"}, {"foo": 1}],
    "service_tier": ["gold", 5, True, []],
    "truncation": ["sometimes", 5, True, []],
}
WRONG_TYPE_CASES = [(field, value) for field, values in WRONG_TYPES.items() for value in values]


@pytest.mark.parametrize(("field", "value"), WRONG_TYPE_CASES,
                         ids=[f"{f}={json.dumps(v)[:40]}" for f, v in WRONG_TYPE_CASES])
def test_create_wrong_type(http: httpx.Client, field: str, value: Any) -> None:
    body = {**VALID, field: value}
    expect_error(post(http, "/responses", body), 400, param_root=field)


@pytest.mark.parametrize(("extra", "status", "param"), [
    ({"temperature": "hot"}, 400, "temperature"),
    ({"input": [{"role": "robot", "content": "hi"}]}, 400, "input[0].role"),
    ({"unknown": 1}, 400, "unknown"),
    ({"model": "nope/x"}, 404, "model"),
    ({"previous_response_id": "resp_nope"}, 404, "previous_response_id"),
    ({"background": True, "store": False}, 400, "store"),
    ({"background_options": {"completion_window": "2h"}}, 400, "background_options.completion_window"),
    ({"conversation": "conv_x"}, 404, "conversation"),
    ({"conversation": "not-a-conversation-id"}, 400, "conversation"),
    ({"conversation": "conv_x", "previous_response_id": "resp_x"}, 400, "conversation"),
])
def test_streaming_create_rejects_before_streaming(http: httpx.Client, extra: dict[str, Any], status: int,
                                                   param: str) -> None:
    """``stream: true`` with garbage answers a plain JSON error, not an event stream."""
    expect_error(post(http, "/responses", {**VALID, "stream": True, **extra}), status, param=param)


def test_create_missing_model(http: httpx.Client) -> None:
    expect_error(post(http, "/responses", {"input": "hi"}), 400, code="missing_required_parameter",
                 param="model")
    expect_error(post(http, "/responses", {}), 400, code="missing_required_parameter", param="model")


@pytest.mark.parametrize(("field", "value"), [
    ("temperature", -0.01), ("temperature", 2.01), ("temperature", 1e308), ("temperature", -1e308),
    ("top_p", -0.5), ("top_p", 1.0001), ("top_p", 100),
    ("max_output_tokens", 0), ("max_output_tokens", -5), ("max_output_tokens", -(2**63)),
    ("max_output_tokens", 10**30), ("max_output_tokens", 1e20),
    ("max_tool_calls", 0), ("max_tool_calls", -1),
    ("top_logprobs", -1), ("top_logprobs", 21), ("top_logprobs", 10**30),
    ("metadata", {f"k{i}": "v" for i in range(17)}),
    ("metadata", {"k" * 65: "v"}),
    ("metadata", {"k": "v" * 513}),
    ("model", ""),
])
def test_create_out_of_range(http: httpx.Client, field: str, value: Any) -> None:
    expect_error(post(http, "/responses", {**VALID, field: value}), 400, param_root=field)


# ---------------------------------------------------------------------------------------------
# unknown parameters

UNKNOWN = ["foo", "messages", "Model", "", " ", "temperature ", "a.b", "x[0]", "ünïcödé", "\u2028",
           "functions", "max_tokens", "n", "logit_bias"]


@pytest.mark.parametrize("name", UNKNOWN)
def test_unknown_parameter(http: httpx.Client, name: str) -> None:
    expect_error(post(http, "/responses", {**VALID, name: 1}), 400, code="unknown_parameter", param=name)


@pytest.mark.parametrize(("body", "param"), [
    ({**VALID, "text": {"fmt": {"type": "text"}}}, "text.fmt"),
    ({**VALID, "reasoning": {"effort": "low", "budget": 5}}, "reasoning.budget"),
    ({**VALID, "tools": [{"type": "function", "name": "f", "bogus": 1}]}, "tools[0].bogus"),
    ({**VALID, "stream_options": {"include_usage": True}}, "stream_options.include_usage"),
    ({**VALID, "tool_choice": {"type": "function", "name": "f", "extra": 1}}, "tool_choice.extra"),
])
def test_unknown_nested_parameter(http: httpx.Client, body: dict[str, Any], param: str) -> None:
    expect_error(post(http, "/responses", body), 400, code="unknown_parameter", param=param)


# ---------------------------------------------------------------------------------------------
# malformed input items

def user(content: Any) -> dict[str, Any]:
    return {"role": "user", "content": content}


BAD_ITEMS: dict[str, tuple[list[Any], str | None]] = {
    # id: (input list, expected param, or None to only check the root)
    "unknown-type": ([{"type": "bogus", "role": "user", "content": "hi"}], "input[0]"),
    "type-null": ([{"type": None, "role": "user", "content": "hi"}], "input[0].type"),
    "type-int": ([{"type": 5, "role": "user", "content": "hi"}], "input[0].type"),
    "type-list": ([{"type": [], "role": "user", "content": "hi"}], "input[0].type"),
    "type-dict": ([{"type": {"a": 1}, "role": "user", "content": "hi"}], "input[0].type"),
    "type-empty": ([{"type": "", "role": "user", "content": "hi"}], "input[0]"),
    "bad-role": ([{"role": "robot", "content": "hi"}], "input[0].role"),
    "role-int": ([{"role": 5, "content": "hi"}], "input[0].role"),
    "role-null": ([{"role": None, "content": "hi"}], "input[0].role"),
    "missing-role": ([{"content": "hi"}], "input[0].role"),
    "missing-content": ([{"type": "message", "role": "user"}], "input[0].content"),
    "content-null": ([user(None)], "input[0].content"),
    "content-int": ([user(5)], "input[0].content"),
    "content-dict": ([user({"type": "input_text", "text": "hi"})], "input[0].content"),
    "part-unknown-type": ([user([{"type": "weird", "text": "x"}])], "input[0].content[0]"),
    "part-no-type": ([user([{"text": "x"}])], "input[0].content[0].type"),
    "part-type-list": ([user([{"type": [], "text": "x"}])], "input[0].content[0].type"),
    "part-string": ([user(["hi"])], "input[0].content[0]"),
    "part-null": ([user([None])], "input[0].content[0]"),
    "part-missing-text": ([user([{"type": "input_text"}])], "input[0].content[0].text"),
    "part-text-int": ([user([{"type": "input_text", "text": 5}])], "input[0].content[0].text"),
    "part-image-detail": ([user([{"type": "input_image", "image_url": "http://x", "detail": "ultra"}])],
                          "input[0].content[0].detail"),
    "part-refusal-missing": ([{"role": "assistant", "content": [{"type": "refusal"}]}],
                             "input[0].content[0].refusal"),
    "second-item-bad": ([user("ok"), {"role": "robot", "content": "hi"}], "input[1].role"),
    "function-call-no-call-id": ([{"type": "function_call", "name": "f", "arguments": "{}"}],
                                 "input[0].call_id"),
    "function-call-empty-call-id": ([{"type": "function_call", "call_id": "", "name": "f", "arguments": "{}"}],
                                    "input[0].call_id"),
    "function-call-no-name": ([{"type": "function_call", "call_id": "c", "arguments": "{}"}], "input[0].name"),
    "function-call-args-dict": ([{"type": "function_call", "call_id": "c", "name": "f", "arguments": {"a": 1}}],
                                "input[0].arguments"),
    "function-call-no-args": ([{"type": "function_call", "call_id": "c", "name": "f"}], "input[0].arguments"),
    "function-output-no-call-id": ([{"type": "function_call_output", "output": "x"}], "input[0].call_id"),
    "function-output-no-output": ([{"type": "function_call_output", "call_id": "c"}], "input[0].output"),
    "function-output-int": ([{"type": "function_call_output", "call_id": "c", "output": 5}], "input[0].output"),
    "reasoning-summary-str": ([{"type": "reasoning", "summary": "x"}], "input[0].summary"),
    "reasoning-summary-ints": ([{"type": "reasoning", "summary": [1, 2]}], "input[0].summary[0]"),
    "item-int": ([5], "input[0]"),
    "item-string": (["hi"], "input[0]"),
    "item-null": ([None], "input[0]"),
    "item-list": ([[]], "input[0]"),
    "item-id-int": ([{"role": "user", "content": "hi", "id": 5}], "input[0].id"),
    "file-search-call-no-id": ([{"type": "file_search_call"}], "input[0].id"),
    "file-search-call-queries-str": ([{"type": "file_search_call", "id": "fs_1", "queries": "x"}],
                                     "input[0].queries"),
    "file-search-call-result-int": ([{"type": "file_search_call", "id": "fs_1", "queries": ["x"], "results": [1]}],
                                    "input[0].results[0]"),
    "web-search-call-no-action": ([{"type": "web_search_call", "id": "ws_1", "status": "completed"}],
                                  "input[0].action"),
    "web-search-call-action-int": ([{"type": "web_search_call", "id": "ws_1", "status": "completed", "action": 5}],
                                   "input[0].action"),
    "web-search-call-page-no-url": ([{"type": "web_search_call", "id": "ws_1", "status": "completed",
                                      "action": {"type": "search"}, "results": [{"title": "t"}]}],
                                    "input[0].results[0].url"),
    "mcp-call-no-server": ([{"type": "mcp_call", "id": "mcp_1", "name": "f", "arguments": "{}"}],
                           "input[0].server_label"),
    "mcp-call-name-int": ([{"type": "mcp_call", "id": "mcp_1", "server_label": "s", "name": 3, "arguments": "{}"}],
                          "input[0].name"),
    "mcp-approval-request-no-args": ([{"type": "mcp_approval_request", "id": "r", "server_label": "s", "name": "f"}],
                                     "input[0].arguments"),
    "mcp-approval-response-no-request": ([{"type": "mcp_approval_response", "approve": True}],
                                         "input[0].approval_request_id"),
    "mcp-list-tools-tools-int": ([{"type": "mcp_list_tools", "id": "l", "server_label": "s", "tools": 5}],
                                 "input[0].tools"),
    "mcp-list-tools-tool-no-name": ([{"type": "mcp_list_tools", "id": "l", "server_label": "s", "tools": [{}]}],
                                    "input[0].tools[0].name"),
}


@pytest.mark.parametrize(("items", "param"), BAD_ITEMS.values(), ids=BAD_ITEMS.keys())
def test_malformed_input_items(http: httpx.Client, items: list[Any], param: str | None) -> None:
    error = expect_error(post(http, "/responses", {**VALID, "input": items}), 400, param_root="input")
    if param is not None:
        assert error["param"] == param, error


# ---------------------------------------------------------------------------------------------
# malformed tools and tool_choice

FN = {"type": "function", "name": "f", "parameters": {"type": "object"}}
BAD_TOOLS: dict[str, tuple[Any, Any, str]] = {
    # id: (tools, tool_choice, expected param)
    "tool-missing-name": ([{"type": "function"}], None, "tools[0].name"),
    "tool-name-spaces": ([{"type": "function", "name": "bad name!"}], None, "tools[0].name"),
    "tool-name-empty": ([{"type": "function", "name": ""}], None, "tools[0].name"),
    "tool-name-65": ([{"type": "function", "name": "f" * 65}], None, "tools[0].name"),
    "tool-name-int": ([{"type": "function", "name": 5}], None, "tools[0].name"),
    "tool-unknown-type": ([{"type": "web_search_preview_9000"}], None, "tools[0]"),
    "tool-no-type": ([{"name": "f"}], None, "tools[0].type"),
    "tool-type-list": ([{"type": [], "name": "f"}], None, "tools[0].type"),
    "tool-params-str": ([{"type": "function", "name": "f", "parameters": "x"}], None, "tools[0].parameters"),
    "tool-params-list": ([{"type": "function", "name": "f", "parameters": []}], None, "tools[0].parameters"),
    "tool-strict-str": ([{"type": "function", "name": "f", "strict": "maybe"}], None, "tools[0].strict"),
    "tool-description-int": ([{"type": "function", "name": "f", "description": 5}], None,
                             "tools[0].description"),
    "second-tool-bad": ([FN, {"type": "function", "name": "bad name"}], None, "tools[1].name"),
    "choice-function-no-name": ([FN], {"type": "function"}, "tool_choice"),
    "choice-function-name-int": ([FN], {"type": "function", "name": 5}, "tool_choice"),
    "choice-unknown-type": ([FN], {"type": "web_search"}, "tool_choice"),
    "choice-bad-string": ([FN], "always", "tool_choice"),
    "choice-allowed-bad-mode": ([FN], {"type": "allowed_tools", "mode": "sometimes", "tools": []}, "tool_choice"),
    "choice-allowed-no-tools": ([FN], {"type": "allowed_tools", "mode": "auto"}, "tool_choice"),
    "choice-allowed-bad-tool": ([FN], {"type": "allowed_tools", "mode": "auto", "tools": [{"type": "function"}]},
                                "tool_choice"),
    "choice-allowed-tools-str": ([FN], {"type": "allowed_tools", "mode": "auto", "tools": "f"}, "tool_choice"),
}


@pytest.mark.parametrize(("tools", "choice", "param"), BAD_TOOLS.values(), ids=BAD_TOOLS.keys())
def test_malformed_tools(http: httpx.Client, tools: Any, choice: Any, param: str) -> None:
    body = {**VALID, "tools": tools}
    if choice is not None:
        body["tool_choice"] = choice
    error = expect_error(post(http, "/responses", body), 400)
    if "." in param or "[" in param:
        assert error["param"] == param, error
    else:
        assert error["param"] is not None and root_of(error["param"]) == param, error


# ---------------------------------------------------------------------------------------------
# representative ``param`` values

@pytest.mark.parametrize(("body", "param", "code"), [
    ({**VALID, "temperature": 3}, "temperature", "decimal_above_max_value"),
    ({**VALID, "temperature": "hot"}, "temperature", None),
    ({**VALID, "input": [{"role": "robot", "content": "hi"}]}, "input[0].role", None),
    ({**VALID, "tools": [{"type": "function", "name": "no spaces allowed"}]}, "tools[0].name", "invalid_value"),
    ({**VALID, "metadata": {"k": 5}}, "metadata.k", "invalid_type"),
    ({**VALID, "max_output_tokens": 0}, "max_output_tokens", "integer_below_min_value"),
    ({**VALID, "stream": "maybe"}, "stream", None),
    ({**VALID, "include": ["nope"]}, "include[0]", None),
    ({**VALID, "input": [{"type": "function_call", "name": "f", "arguments": "{}"}]}, "input[0].call_id",
     "missing_required_parameter"),
])
def test_param_names_offending_field(http: httpx.Client, body: dict[str, Any], param: str,
                                     code: str | None) -> None:
    expect_error(post(http, "/responses", body), 400, param=param, code=code)


# ---------------------------------------------------------------------------------------------
# huge and deeply nested values

MB = "x" * (1 << 20)
HUGE_OR_DEEP: dict[str, tuple[dict[str, Any], str | None]] = {
    # id: (body, expected param root)
    "10k-garbage-items": ({**VALID, "input": [{"type": "bogus"}] * 10_000}, "input"),
    "10k-mixed-garbage": ({**VALID, "input": [5, "x", None, [], {"role": 1}] * 2_000}, "input"),
    "10k-items-one-bad-at-end": ({**VALID, "input": [{"role": "user", "content": "hi"}] * 9_999 + [{"role": 1}]},
                                 "input"),
    "1mb-unknown-field": ({**VALID, "garbage": MB}, "garbage"),
    "1mb-unknown-field-name": ({**VALID, MB: 1}, None),
    "1mb-model-bad-temperature": ({**VALID, "instructions": MB, "temperature": "x"}, "temperature"),
    "1mb-metadata-value": ({**VALID, "metadata": {"k": MB}}, "metadata"),
    "1mb-tool-name": ({**VALID, "tools": [{"type": "function", "name": MB}]}, "tools"),
    "depth-1000-unknown": ({**VALID, "garbage": nested_dict(1000)}, "garbage"),
    "depth-1000-metadata": ({**VALID, "metadata": nested_dict(1000)}, "metadata"),
    "depth-1000-input-lists": ({**VALID, "input": nested_list(1000)}, "input"),
    "depth-1000-text": ({**VALID, "text": nested_dict(1000)}, "text"),
    "depth-1000-reasoning": ({**VALID, "reasoning": nested_dict(1000)}, "reasoning"),
    "depth-1000-in-part": ({**VALID, "input": [user([{"type": "input_text", "text": nested_dict(990)}])]},
                           "input"),
}


TOO_LARGE = 33 * 1024 * 1024


@pytest.mark.parametrize("path", POSTS)
@pytest.mark.parametrize("chunked", [False, True], ids=["sized", "chunked"])
def test_a_body_over_the_limit_is_a_413_before_any_work(http: httpx.Client, path: str, chunked: bool) -> None:
    """32 MiB by default, whether the body says its length or not."""
    raw = b'{"model": "scripted/garbage", "input": "' + b"x" * TOO_LARGE + b'"}'
    content: Any = (raw[i:i + (1 << 20)] for i in range(0, len(raw), 1 << 20)) if chunked else raw
    answer = http.post(path, content=content, headers={"content-type": "application/json"})
    error = expect_error(answer, 413, code="request_too_large")
    assert "bytes" in error["message"]


@pytest.mark.parametrize(("body", "root"), HUGE_OR_DEEP.values(), ids=HUGE_OR_DEEP.keys())
def test_huge_or_deep(http: httpx.Client, body: dict[str, Any], root: str | None) -> None:
    error = expect_error(post(http, "/responses", body), 400)
    if root is not None and error["code"] != "invalid_json":  # a body refused as too deep names no field
        assert error["param"] is not None and root_of(error["param"]) == root, error
    assert len(error["message"]) < 2 * len(MB) + 1000


def deep_but_valid(kind: str, depth: int) -> dict[str, Any]:
    """A valid request whose free-form member (where any JSON goes) nests ``depth`` levels deep."""
    if kind == "tool-parameters":
        return {**VALID, "tools": [{"type": "function", "name": "f", "parameters": nested_dict(depth)}]}
    if kind == "json-schema":
        return {**VALID, "text": {"format": {"type": "json_schema", "name": "s", "schema": nested_dict(depth)}}}
    if kind == "item-extra":
        return {**VALID, "input": [{"role": "user", "content": "hi", "extra": nested_dict(depth)}]}
    if kind == "part-extra":
        return {**VALID, "input": [user([{"type": "input_text", "text": "hi", "extra": nested_list(depth)}])]}
    assert kind == "reasoning-summary"
    return {**VALID, "input": [{"type": "reasoning", "summary": [nested_dict(depth)]}, user("hi")]}


@pytest.mark.parametrize("depth", [100, 230, 240, 245, 250, 260, 1000])
@pytest.mark.parametrize("kind", ["tool-parameters", "json-schema", "item-extra", "part-extra",
                                  "reasoning-summary"])
def test_deep_values_where_anything_goes(http: httpx.Client, kind: str, depth: int) -> None:
    """Free-form places (tool parameters, schemas, lenient item extras) take deep values, or refuse
    them with a 400, but never fail with a 5xx (orjson stops at 255 levels when storing or
    forwarding), whether or not the response is stored or streamed."""
    body = deep_but_valid(kind, depth)
    check_not_5xx(post(http, "/responses", body))
    check_not_5xx(post(http, "/responses", {**body, "store": False}))
    check_not_5xx(post(http, "/responses", {**body, "stream": True}))


# ---------------------------------------------------------------------------------------------
# strings that are valid JSON but hostile to stores: NUL characters, over-long identifiers

HOSTILE_STRINGS: dict[str, dict[str, Any]] = {
    "nul-in-input": {**VALID, "input": "a\u0000b"},
    "nul-in-instructions": {**VALID, "instructions": "\u0000"},
    "nul-in-metadata": {**VALID, "metadata": {"k\u0000": "v\u0000"}},
    "nul-in-previous-response-id": {**VALID, "previous_response_id": "resp_\u0000"},
    "nul-in-model-name": {**VALID, "model": "scripted/gar\u0000bage"},
    "long-previous-response-id": {**VALID, "previous_response_id": "resp_" + "x" * 10_000},
    "long-model-name": {**VALID, "model": "scripted/" + "m" * 300},
    "long-item-id": {**VALID, "input": [{"role": "user", "content": "hi", "id": "msg_" + "x" * 300}]},
    "long-item-type-part": {**VALID, "input": [user([{"type": "input_text", "text": "hi", "k" * 1000: 1}])]},
}


@pytest.mark.parametrize("body", HOSTILE_STRINGS.values(), ids=HOSTILE_STRINGS.keys())
def test_hostile_strings(http: httpx.Client, body: dict[str, Any]) -> None:
    check_not_5xx(post(http, "/responses", body))


@pytest.mark.parametrize("body", HOSTILE_STRINGS.values(), ids=HOSTILE_STRINGS.keys())
def test_hostile_strings_streamed(http: httpx.Client, body: dict[str, Any]) -> None:
    """Streamed, the same bodies either fail up front or give a complete, well-formed stream."""
    try:
        response = post(http, "/responses", {**body, "stream": True})
    except httpx.RemoteProtocolError as exc:
        pytest.fail(f"the stream was cut off without a terminal event: {encode(body)[:200]!r}: {exc}")
    check_not_5xx(response)


# ---------------------------------------------------------------------------------------------
# unknown ids, models, routes and methods

UNKNOWN_IDS = ["resp_doesnotexist", "x", "resp_" + "x" * 5000, "ünïcödé", "resp%20x", "..", "resp_%00",
               "' OR 1=1 --", "%F0%9F%92%A9"]


@pytest.mark.parametrize("response_id", UNKNOWN_IDS)
def test_unknown_response_id(http: httpx.Client, response_id: str) -> None:
    for method, suffix in (("GET", ""), ("DELETE", ""), ("GET", "/input_items"), ("POST", "/cancel"),
                           ("GET", "?stream=true"), ("GET", "?stream=true&starting_after=3")):
        response = http.request(method, f"/responses/{response_id}{suffix}")
        if response_id == "..":
            check_not_5xx(response)  # normalized away by the URL, so any 4xx will do
            continue
        expect_error(response, 404)


def test_unknown_model(http: httpx.Client) -> None:
    expect_error(post(http, "/responses", {**VALID, "model": "nope/x"}), 404, code="model_not_found",
                 param="model")
    expect_error(http.get("/models/nope/x"), 404, code="model_not_found")
    expect_error(http.get("/models/nope"), 404, code="model_not_found")
    for path in ("/chat/completions", "/embeddings"):
        expect_error(post(http, path, {"model": "nope/x", "messages": [], "input": "x"}), 404,
                     code="model_not_found", param="model")


def test_unknown_previous_response_id(http: httpx.Client) -> None:
    expect_error(post(http, "/responses", {**VALID, "previous_response_id": "resp_nope"}), 404,
                 code="previous_response_not_found", param="previous_response_id")
    expect_error(post(http, "/responses", {**VALID, "previous_response_id": ""}), 404,
                 param="previous_response_id")


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/nope"), ("POST", "/nope"), ("GET", "/responses/x/y/z"), ("GET", "/response"),
    ("GET", "/chat/completions/x"), ("GET", "/../../etc/passwd"),
])
def test_unknown_route(http: httpx.Client, method: str, path: str) -> None:
    expect_error(http.request(method, path, content=b"garbage"), 404)


@pytest.mark.parametrize(("method", "path"), [
    ("PUT", "/responses"), ("PATCH", "/responses"), ("DELETE", "/responses"),
    ("POST", "/models"), ("DELETE", "/models"), ("POST", "/responses/resp_x"), ("PUT", "/responses/resp_x"),
    ("POST", "/responses/resp_x/input_items"), ("GET", "/chat/completions"), ("GET", "/embeddings"),
    ("PUT", "/embeddings"),
])
def test_wrong_method(http: httpx.Client, method: str, path: str) -> None:
    response = http.request(method, path, content=b"{garbage")
    error = check_error_shape(response)
    assert response.status_code in (404, 405), describe(response)
    assert error["message"]


# ---------------------------------------------------------------------------------------------
# query parameters of the wrong type on the list endpoints

BAD_QUERIES = [
    ("limit=-1", "limit"), ("limit=0", "limit"), ("limit=abc", "limit"), ("limit=1000", "limit"),
    ("limit=1.5", "limit"), ("limit=", "limit"), ("limit=1e2", "limit"), ("limit=99999999999999999999999", "limit"),
    ("order=sideways", "order"), ("order=ASC", "order"), ("order=", "order"), ("limit=5&order=%00", "order"),
]


@pytest.mark.parametrize(("query", "param"), BAD_QUERIES, ids=[q for q, _ in BAD_QUERIES])
def test_list_bad_query(http: httpx.Client, query: str, param: str) -> None:
    expect_error(http.get(f"/responses?{query}"), 400, param=param)
    expect_error(http.get(f"/responses/resp_doesnotexist/input_items?{query}"), 400, param=param)


@pytest.mark.parametrize(("query", "param"), [
    ("stream=maybe", "stream"), ("stream=true&starting_after=abc", "starting_after"),
    ("stream=true&starting_after=-2", "starting_after"), ("stream=true&starting_after=1.5", "starting_after"),
    ("stream=true&starting_after=99999999999999999999999", "starting_after"),
])
def test_retrieve_bad_stream_query(http: httpx.Client, query: str, param: str) -> None:
    expect_error(http.get(f"/responses/resp_doesnotexist?{query}"), 400, param=param)


@pytest.mark.parametrize("query", [
    "after=resp_nope", "after=", "after=%00", "model=%00", "after=" + "x" * 5000, "model=nope/x",
    "limit=5&limit=abc", "include[]=garbage", "unknown=1", "after[]=x", "%FF=%FE",
])
def test_list_odd_query(http: httpx.Client, query: str) -> None:
    check_not_5xx(http.get(f"/responses?{query}"))
    check_not_5xx(http.get(f"/responses/resp_doesnotexist/input_items?{query}"))


# ---------------------------------------------------------------------------------------------
# /v1/chat/completions and /v1/embeddings

PASSTHROUGH_MODEL_CASES = {
    "missing": {},
    "null": {"model": None},
    "int": {"model": 5},
    "list": {"model": ["scripted/garbage"]},
    "dict": {"model": {"id": "scripted/garbage"}},
    "empty": {"model": ""},
    "bool": {"model": True},
}


@pytest.mark.parametrize("path", ["/chat/completions", "/embeddings"])
@pytest.mark.parametrize("body", PASSTHROUGH_MODEL_CASES.values(), ids=PASSTHROUGH_MODEL_CASES.keys())
def test_passthrough_bad_model(http: httpx.Client, path: str, body: dict[str, Any]) -> None:
    garbage = {"messages": [{"role": "user", "content": "hi"}], "input": "hi", **body}
    expect_error(post(http, path, garbage), 400, code="missing_required_parameter", param="model")


@pytest.mark.parametrize("path", ["/chat/completions", "/embeddings"])
@pytest.mark.parametrize("body", [
    {"model": MODEL, "garbage": MB},
    {"model": MODEL, "garbage": nested_dict(1000)},
    {"model": "nope/x", "messages": [5] * 10_000},
    {"messages": [{"role": "user", "content": "hi"}], "input": "x", "model": "x" * 100_000},
], ids=["1mb-unknown-field", "depth-1000", "10k-garbage-unknown-model", "100k-model-name"])
def test_passthrough_huge_or_deep(http: httpx.Client, path: str, body: dict[str, Any]) -> None:
    check_not_5xx(post(http, path, body))


# ---------------------------------------------------------------------------------------------
# generated garbage: mutations of a valid request

BASE_REQUEST: dict[str, Any] = {
    "model": MODEL,
    "input": [
        {"role": "developer", "content": "be terse"},
        {"role": "user", "content": [{"type": "input_text", "text": "hello"}]},
        {"type": "function_call", "call_id": "call_1", "name": "lookup", "arguments": "{\"q\": 1}"},
        {"type": "function_call_output", "call_id": "call_1", "output": "42"},
        {"role": "user", "content": "and then?"},
    ],
    "instructions": "answer briefly",
    "temperature": 0.5,
    "top_p": 0.9,
    "max_output_tokens": 64,
    "metadata": {"suite": "malformed"},
    "text": {"format": {"type": "text"}, "verbosity": "low"},
    "tools": [{"type": "function", "name": "lookup", "description": "look up",
               "parameters": {"type": "object", "properties": {"q": {"type": "integer"}}}}],
    "tool_choice": "auto",
    "parallel_tool_calls": True,
    "include": ["message.output_text.logprobs"],
    "top_logprobs": 2,
    "reasoning": {"effort": "low"},
    "user": "fuzzer",
    "store": True,
    "stream": False,
    "truncation": "disabled",
    "service_tier": "auto",
}
FUZZ_SEED = 20240611
FUZZ_CASES = 400
TOOLS_REQUEST: dict[str, Any] = {
    "model": MODEL,
    "input": [
        {"role": "user", "content": "search"},
        {"type": "web_search_call", "id": "ws_1", "status": "completed",
         "action": {"type": "search", "query": "q", "sources": [{"type": "url", "url": "https://a.example"}]},
         "results": [{"title": "A", "url": "https://a.example", "content": "a"}]},
        {"type": "file_search_call", "id": "fs_1", "status": "completed", "queries": ["q"],
         "results": [{"file_id": "file-1", "filename": "a.txt", "score": 0.5, "text": "a", "attributes": {}}]},
        {"type": "mcp_list_tools", "id": "mcpl_1", "server_label": "calc",
         "tools": [{"name": "add", "input_schema": {"type": "object"}}]},
        {"type": "mcp_call", "id": "mcp_1", "server_label": "calc", "name": "add", "arguments": "{}",
         "status": "completed", "output": "3"},
        {"type": "mcp_approval_request", "id": "mcpr_1", "server_label": "calc", "name": "add", "arguments": "{}"},
        {"type": "mcp_approval_response", "approval_request_id": "mcpr_1", "approve": False},
    ],
    "tools": [{"type": "web_search", "search_context_size": "low", "filters": {"allowed_domains": ["a.example"]}},
              {"type": "mcp", "server_label": "calc", "server_url": "http://127.0.0.1:9/mcp",
               "require_approval": {"never": {"tool_names": ["add"]}}, "allowed_tools": ["add"]}],
    "tool_choice": {"type": "allowed_tools", "mode": "auto", "tools": [{"type": "mcp", "server_label": "calc"}]},
    "max_tool_calls": 2,
    "include": ["web_search_call.results", "web_search_call.action.sources", "file_search_call.results"],
}
"""Server-side tools and their items, sent back as input: the listing is found in the input, so no
MCP server is needed (the URL's port is closed)."""
TOOLS_FUZZ_CASES = 200
ALPHABET = string.ascii_letters + string.digits + string.punctuation + " éü日本\u2028\U0001F600"


def random_string(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.2:
        return rng.choice(["", "auto", "none", "user", "function", "message", "input_text", "scripted/garbage",
                           "nope/x", "text", "json_schema", "required", "low", "high", "resp_nope"])
    if roll < 0.25:
        return rng.choice(ALPHABET) * rng.randint(1, 5000)
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 20)))


def random_json(rng: random.Random, depth: int = 0) -> Any:
    kinds = ["null", "bool", "int", "float", "str"] + (["list", "dict"] * 2 if depth < 4 else [])
    kind = rng.choice(kinds)
    if kind == "null":
        return None
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "int":
        return rng.choice([0, 1, -1, 2, 21, 100, 2**31, -(2**63), 2**63 - 1, 2**64, rng.randint(-1000, 1000)])
    if kind == "float":
        return rng.choice([0.0, 0.5, -0.5, 1.5, 2.5, 1e308, -1e-308, rng.uniform(-10, 10)])
    if kind == "str":
        return random_string(rng)
    if kind == "list":
        return [random_json(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {random_string(rng): random_json(rng, depth + 1) for _ in range(rng.randint(0, 4))}


def containers(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Paths of every dict and list inside ``value``, the root included."""
    found = []
    if isinstance(value, dict):
        found.append(path)
        for key, child in value.items():
            found.extend(containers(child, (*path, key)))
    elif isinstance(value, list):
        found.append(path)
        for index, child in enumerate(value):
            found.extend(containers(child, (*path, index)))
    return found


def at(value: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        value = value[part]
    return value


def mutate(rng: random.Random, body: dict[str, Any]) -> None:
    """One random edit somewhere in the tree: drop, replace, add or duplicate a member."""
    target = at(body, rng.choice(containers(body)))
    operation = rng.choice(["drop", "replace", "replace", "add", "retype"])
    if isinstance(target, dict):
        if operation == "add" or not target:
            target[random_string(rng) if rng.random() < 0.5 else rng.choice(list(BASE_REQUEST))] = random_json(rng)
            return
        key = rng.choice(list(target))
        if operation == "drop":
            del target[key]
        elif operation == "retype" and isinstance(target[key], (dict, list)):
            target[key] = list(target[key].values()) if isinstance(target[key], dict) else {
                str(i): v for i, v in enumerate(target[key])}
        else:
            target[key] = random_json(rng)
        return
    if operation == "add" or not target:
        target.insert(rng.randint(0, len(target)), random_json(rng))
        return
    index = rng.randrange(len(target))
    if operation == "drop":
        del target[index]
    else:
        target[index] = random_json(rng)


def fuzz_bodies(seed: int, count: int, base: dict[str, Any]) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    bodies = []
    for _ in range(count):
        body = json.loads(json.dumps(base))
        for _ in range(rng.choice([1, 1, 1, 2, 3, 5])):
            mutate(rng, body)
        if body.get("stream") is True and rng.random() < 0.5:
            body["stream"] = False  # keep most valid survivors on the cheaper JSON path
        bodies.append(body)
    return bodies


@pytest.mark.parametrize("base, cases", [(BASE_REQUEST, FUZZ_CASES), (TOOLS_REQUEST, TOOLS_FUZZ_CASES)],
                         ids=["core", "server-tools"])
def test_generated_garbage(http: httpx.Client, base: dict[str, Any], cases: int) -> None:
    assert post(http, "/responses", base).status_code == 200, "the fuzzed bodies start from a valid one"
    failures = []
    statuses: dict[int, int] = {}
    for index, body in enumerate(fuzz_bodies(FUZZ_SEED, cases, base)):
        response = post(http, "/responses", body)
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        try:
            check_not_5xx(response)
        except AssertionError as exc:
            failures.append(f"case {index}: {json.dumps(body)[:600]}\n    {str(exc)[:700]}")
    print(f"generated garbage statuses: {statuses}")
    assert statuses.get(400, 0) > cases // 4, statuses  # the mutations really are mostly garbage
    assert not failures, f"{len(failures)} of {cases} bodies misanswered ({statuses}):\n" + "\n".join(
        failures[:20])


# ---------------------------------------------------------------------------------------------
# conversations


@pytest.fixture(scope="module")
def conversation_id(http: httpx.Client) -> str:
    answer = post(http, "/conversations", {"items": [{"role": "user", "content": "hi"}]})
    assert answer.status_code == 200, describe(answer)
    return answer.json()["id"]


CONVERSATION_GARBAGE = [
    ({"items": "hi"}, "items"),
    ({"items": [{"role": "robot", "content": "x"}]}, "items[0].role"),
    ({"items": [{"type": "nonsense"}]}, "items[0]"),
    ({"metadata": {"k": 5}}, "metadata.k"),
    ({"metadata": []}, "metadata"),
    ({"unknown": 1}, "unknown"),
    ({"items": [{"role": "user", "content": "x"}] * 21}, "items"),
]


@pytest.mark.parametrize(("body", "param"), CONVERSATION_GARBAGE)
def test_conversation_create_garbage(http: httpx.Client, body: dict[str, Any], param: str) -> None:
    expect_error(post(http, "/conversations", body), 400, param=param)


@pytest.mark.parametrize(("body", "param"), [*CONVERSATION_GARBAGE[:3], ({"items": []}, "items"), ({}, "items")])
def test_conversation_items_garbage(http: httpx.Client, conversation_id: str, body: dict[str, Any],
                                    param: str) -> None:
    expect_error(post(http, f"/conversations/{conversation_id}/items", body), 400, param=param)


@pytest.mark.parametrize("body", [{}, {"metadata": "x"}, {"metadata": {"a": 1}}, {"metadata": {}, "x": 1}])
def test_conversation_update_garbage(http: httpx.Client, conversation_id: str, body: dict[str, Any]) -> None:
    expect_error(post(http, f"/conversations/{conversation_id}", body), 400)


@pytest.mark.parametrize("raw", [b"", b"{", b"[]", b"null", b'{"items": [' + b"[" * 300 + b"]" * 300 + b"]}"])
def test_conversation_bodies_not_json(http: httpx.Client, conversation_id: str, raw: bytes) -> None:
    for path in ("/conversations", f"/conversations/{conversation_id}", f"/conversations/{conversation_id}/items"):
        expect_error(post_raw(http, path, raw), 400)


@pytest.mark.parametrize("bad_id", ["conv_doesnotexist", "nonsense", "conv_" + "x" * 300, "conv_%00",
                                    "' OR 1=1 --"])
def test_conversation_unknown_or_malformed_ids(http: httpx.Client, conversation_id: str, bad_id: str) -> None:
    for method, path in (("GET", f"/conversations/{bad_id}"), ("DELETE", f"/conversations/{bad_id}"),
                         ("GET", f"/conversations/{bad_id}/items"),
                         ("GET", f"/conversations/{conversation_id}/items/{bad_id}"),
                         ("DELETE", f"/conversations/{conversation_id}/items/{bad_id}")):
        answer = http.request(method, path)
        assert answer.status_code in (400, 404), describe(answer)
        check_error_shape(answer)
    check_not_5xx(post(http, f"/conversations/{bad_id}/items", {"items": [{"role": "user", "content": "x"}]}))
    check_not_5xx(post(http, f"/conversations/{bad_id}", {"metadata": {}}))


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "limit=abc", "order=sideways", "after=%00"])
def test_conversation_items_bad_query(http: httpx.Client, conversation_id: str, query: str) -> None:
    check_not_5xx(http.get(f"/conversations/{conversation_id}/items?{query}"))
    if not query.startswith("after"):
        expect_error(http.get(f"/conversations/{conversation_id}/items?{query}"), 400)


# ---------------------------------------------------------------------------------------------
# files and vector stores


@pytest.fixture(scope="module")
def vector_store_id(http: httpx.Client) -> str:
    answer = post(http, "/vector_stores", {"name": "garbage"})
    assert answer.status_code == 200, describe(answer)
    return answer.json()["id"]


VECTOR_STORE_GARBAGE = [
    ("/vector_stores", {"name": 5}, "name"),
    ("/vector_stores", {"file_ids": "file-1"}, "file_ids"),
    ("/vector_stores", {"chunking_strategy": {"type": "static", "static": {"max_chunk_size_tokens": 50,
                                                                           "chunk_overlap_tokens": 0}}},
     "chunking_strategy.static.max_chunk_size_tokens"),
    ("/vector_stores", {"chunking_strategy": {"type": "static", "static": {"max_chunk_size_tokens": 800,
                                                                           "chunk_overlap_tokens": 500}}},
     "chunking_strategy.static"),
    ("/vector_stores", {"expires_after": {"anchor": "created_at", "days": 1}}, "expires_after.anchor"),
    ("/vector_stores", {"expires_after": {"anchor": "last_active_at", "days": 0}}, "expires_after.days"),
    ("/vector_stores", {"unknown": True}, "unknown"),
    ("/vector_stores/{vs}/search", {}, "query"),
    ("/vector_stores/{vs}/search", {"query": ""}, "query"),
    ("/vector_stores/{vs}/search", {"query": "x", "max_num_results": 0}, "max_num_results"),
    ("/vector_stores/{vs}/search", {"query": "x", "search_mode": "psychic"}, "search_mode"),
    ("/vector_stores/{vs}/search", {"query": "x", "filters": {"type": "eq", "key": "k"}}, "filters.value"),
    ("/vector_stores/{vs}/search", {"query": "x", "filters": {"type": "and", "filters": []}}, "filters.filters"),
    ("/vector_stores/{vs}/search", {"query": "x", "ranking_options": {"score_threshold": 2}},
     "ranking_options.score_threshold"),
    ("/vector_stores/{vs}/files", {}, "file_id"),
    ("/vector_stores/{vs}/files", {"file_id": "f", "attributes": {"k": [1]}}, "attributes.k"),
    ("/vector_stores/{vs}/files", {"file_id": "f", "attributes": {f"k{i}": 1 for i in range(17)}}, "attributes"),
    ("/vector_stores/{vs}/file_batches", {"file_ids": []}, "file_ids"),
    ("/vector_stores/{vs}/file_batches", {"files": [{"attributes": {}}]}, "files[0].file_id"),
]


@pytest.mark.parametrize(("path", "body", "param"), VECTOR_STORE_GARBAGE)
def test_vector_store_garbage(http: httpx.Client, vector_store_id: str, path: str, body: dict[str, Any],
                              param: str) -> None:
    expect_error(post(http, path.replace("{vs}", vector_store_id), body), 400, param=param)


@pytest.mark.parametrize("bad_id", ["vs_doesnotexist", "nonsense", "vs_" + "x" * 300, "vs_%00", "' OR 1=1 --"])
def test_vector_store_unknown_ids(http: httpx.Client, vector_store_id: str, bad_id: str) -> None:
    for method, path in (("GET", f"/vector_stores/{bad_id}"), ("DELETE", f"/vector_stores/{bad_id}"),
                         ("GET", f"/vector_stores/{bad_id}/files"),
                         ("GET", f"/vector_stores/{vector_store_id}/files/{bad_id}"),
                         ("DELETE", f"/vector_stores/{vector_store_id}/files/{bad_id}"),
                         ("GET", f"/vector_stores/{vector_store_id}/files/{bad_id}/content"),
                         ("GET", f"/vector_stores/{vector_store_id}/file_batches/{bad_id}"),
                         ("POST", f"/vector_stores/{vector_store_id}/file_batches/{bad_id}/cancel"),
                         ("GET", f"/files/{bad_id}"), ("DELETE", f"/files/{bad_id}"),
                         ("GET", f"/files/{bad_id}/content")):
        expect_error(http.request(method, path), 404)
    check_not_5xx(post(http, f"/vector_stores/{bad_id}/search", {"query": "x"}))
    check_not_5xx(post(http, f"/vector_stores/{bad_id}/files", {"file_id": "file-x"}))
    check_not_5xx(post(http, "/vector_stores", {"file_ids": [bad_id]}))


@pytest.mark.parametrize("raw", [b"", b"{", b"[]", b"null", b'{"query": ' + b"[" * 300 + b"]" * 300 + b"}"])
def test_vector_store_bodies_not_json(http: httpx.Client, vector_store_id: str, raw: bytes) -> None:
    for path in ("/vector_stores", f"/vector_stores/{vector_store_id}", f"/vector_stores/{vector_store_id}/search",
                 f"/vector_stores/{vector_store_id}/files", f"/vector_stores/{vector_store_id}/file_batches"):
        expect_error(post_raw(http, path, raw), 400)


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "order=up", "filter=exploded", "after=%00"])
def test_vector_store_bad_list_queries(http: httpx.Client, vector_store_id: str, query: str) -> None:
    for path in ("/vector_stores", f"/vector_stores/{vector_store_id}/files", "/files"):
        check_not_5xx(http.get(f"{path}?{query}"))
