"""Malformed bodies are answered in OpenAI's words: the same messages, codes and parameter paths
(``Invalid type for 'temperature': expected a decimal, but got a string instead.``), and never a
word of the server's own code (pydantic's class names, union labels, discriminator tags)."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from conftest import Server

MODEL = "scripted/errors"
DROP = object()
"""A field left out of the body."""
ROLES = "Supported values are: 'user', 'assistant', 'system', and 'developer'."
OUR_CODE = re.compile(r"_item_tag|tool_item|function-(after|before|wrap)|tagged-union|literal\[|constrained-|"
                      r"Input should|Field required|Extra inputs|\[type=|Item\b|Request\b|Model\b|Choice\b|"
                      r"Ref\b|Config\b|pydantic")


def user(content: Any) -> dict[str, Any]:
    return {"role": "user", "content": content}


FN = {"type": "function", "name": "f", "parameters": {"type": "object"}}

CASES: dict[str, tuple[dict[str, Any], str, str, str]] = {
    # id: (body fields, param, code, message)
    "type-decimal": ({"temperature": "hot"}, "temperature", "invalid_type",
                     "Invalid type for 'temperature': expected a decimal, but got a string instead."),
    "type-numeric-string": ({"top_p": "0.5"}, "top_p", "invalid_type",
                            "Invalid type for 'top_p': expected a decimal, but got a string instead."),
    "type-boolean": ({"store": "yes"}, "store", "invalid_type",
                     "Invalid type for 'store': expected a boolean, but got a string instead."),
    "type-boolean-from-int": ({"stream": 1}, "stream", "invalid_type",
                              "Invalid type for 'stream': expected a boolean, but got an integer instead."),
    "type-integer": ({"max_output_tokens": 1.5}, "max_output_tokens", "invalid_type",
                     "Invalid type for 'max_output_tokens': expected an integer, but got a decimal number instead."),
    "type-string": ({"user": {"a": 1}}, "user", "invalid_type",
                    "Invalid type for 'user': expected a string, but got an object instead."),
    "type-null": ({"model": None}, "model", "invalid_type",
                  "Invalid type for 'model': expected a string, but got null instead."),
    "type-input": ({"input": 5}, "input", "invalid_type",
                   "Invalid type for 'input': expected one of a string or an array of objects, but got an integer "
                   "instead."),
    "type-tools": ({"tools": "none"}, "tools", "invalid_type",
                   "Invalid type for 'tools': expected an array of objects, but got a string instead."),
    "type-include": ({"include": "reasoning.encrypted_content"}, "include", "invalid_type",
                     "Invalid type for 'include': expected an array of strings, but got a string instead."),
    "type-tool-choice": ({"tool_choice": 7}, "tool_choice", "invalid_type",
                         "Invalid type for 'tool_choice': expected one of 'none', 'auto', 'required', or an object, "
                         "but got an integer instead."),
    "type-enum": ({"prompt_cache_retention": {"a": 1}}, "prompt_cache_retention", "invalid_type",
                  "Invalid type for 'prompt_cache_retention': expected one of 'in_memory' or '24h', but got an "
                  "object instead."),
    "type-conversation": ({"conversation": 5}, "conversation", "invalid_type",
                          "Invalid type for 'conversation': expected one of a string or an object, but got an "
                          "integer instead."),
    "type-item": ({"input": ["hi"]}, "input[0]", "invalid_type",
                  "Invalid type for 'input[0]': expected an object, but got a string instead."),
    "type-content": ({"input": [user(7)]}, "input[0].content", "invalid_type",
                     "Invalid type for 'input[0].content': expected one of a string or an array of objects, but got "
                     "an integer instead."),
    "type-part-text": ({"input": [user([{"type": "input_text", "text": 5}])]}, "input[0].content[0].text",
                       "invalid_type",
                       "Invalid type for 'input[0].content[0].text': expected a string, but got an integer instead."),
    "type-item-type": ({"input": [{"type": 5, "role": "user", "content": "hi"}]}, "input[0].type", "invalid_type",
                       "Invalid type for 'input[0].type': expected a string, but got an integer instead."),
    "type-tool-parameters": ({"tools": [{"type": "function", "name": "f", "parameters": []}]},
                             "tools[0].parameters", "invalid_type",
                             "Invalid type for 'tools[0].parameters': expected an object, but got an array instead."),
    "type-schema": ({"text": {"format": {"type": "json_schema", "name": "n", "schema": 5}}}, "text.format.schema",
                    "invalid_type",
                    "Invalid type for 'text.format.schema': expected an object, but got an integer instead."),
    "type-metadata-value": ({"metadata": {"k": 7}}, "metadata.k", "invalid_type",
                            "Invalid type for 'metadata.k': expected a string, but got an integer instead."),
    "type-summary-part": ({"input": [{"type": "reasoning", "summary": [1]}]}, "input[0].summary[0]", "invalid_type",
                          "Invalid type for 'input[0].summary[0]': expected an object, but got an integer instead."),

    "item-type-unknown": ({"input": [{"type": "bogus", "content": "hi"}]}, "input[0]", "invalid_value", ""),
    "item-type-empty": ({"input": [{"type": "", "role": "user", "content": "hi"}]}, "input[0]", "invalid_value", ""),
    "part-type-unknown": ({"input": [user([{"type": "text", "text": "hi"}])]}, "input[0].content[0]",
                          "invalid_value",
                          "Invalid value: 'text'. Supported values are: 'input_text', 'input_image', 'input_file', "
                          "'output_text', and 'refusal'."),
    "tool-type-unknown": ({"tools": [{"type": "web_search_preview_9000"}]}, "tools[0]", "invalid_value", ""),
    "tool-type-second": ({"tools": [FN, {"type": "retrieval"}]}, "tools[1]", "invalid_value", ""),
    "format-type": ({"text": {"format": {"type": "yaml"}}}, "text.format", "invalid_value",
                    "Invalid value: 'yaml'. Supported values are: 'text', 'json_object', and 'json_schema'."),
    "choice-type": ({"tools": [FN], "tool_choice": {"type": "magic"}}, "tool_choice", "invalid_value", ""),

    "enum-role": ({"input": [{"role": "robot", "content": "hi"}]}, "input[0].role", "invalid_value",
                  f"Invalid value: 'robot'. {ROLES}"),
    "enum-second-item-role": ({"input": [user("ok"), {"type": "message", "role": "bot", "content": "x"}]},
                              "input[1].role", "invalid_value", f"Invalid value: 'bot'. {ROLES}"),
    "enum-service-tier": ({"service_tier": "gold"}, "service_tier", "invalid_value",
                          "Invalid value: 'gold'. Supported values are: 'auto', 'default', 'flex', 'scale', "
                          "'priority', 'fast', and 'ultrafast'."),
    "enum-tool-choice": ({"tool_choice": "always"}, "tool_choice", "invalid_value",
                         "Invalid value: 'always'. Supported values are: 'none', 'auto', and 'required'."),
    "enum-effort": ({"reasoning": {"effort": "extreme"}}, "reasoning.effort", "invalid_value",
                    "Invalid value: 'extreme'. Supported values are: 'none', 'minimal', 'low', 'medium', 'high', "
                    "'xhigh', and 'max'."),
    "enum-verbosity": ({"text": {"verbosity": "loud"}}, "text.verbosity", "invalid_value",
                       "Invalid value: 'loud'. Supported values are: 'low', 'medium', and 'high'."),
    "enum-include": ({"include": ["message.output_text.logprobs", "nope"]}, "include[1]", "invalid_value", ""),
    "enum-detail": ({"input": [user([{"type": "input_image", "image_url": "http://x", "detail": "ultra"}])]},
                    "input[0].content[0].detail", "invalid_value",
                    "Invalid value: 'ultra'. Supported values are: 'low', 'high', 'auto', and 'original'."),
    "enum-allowed-mode": ({"tools": [FN], "tool_choice": {"type": "allowed_tools", "mode": "sometimes",
                                                          "tools": []}},
                          "tool_choice.mode", "invalid_value",
                          "Invalid value: 'sometimes'. Supported values are: 'auto' and 'required'."),

    "unknown-top": ({"foo": 1}, "foo", "unknown_parameter", "Unknown parameter: 'foo'."),
    "unknown-nested": ({"text": {"fmt": {"type": "text"}}}, "text.fmt", "unknown_parameter",
                       "Unknown parameter: 'text.fmt'."),
    "unknown-in-tool": ({"tools": [{**FN, "bogus": 1}]}, "tools[0].bogus", "unknown_parameter",
                        "Unknown parameter: 'tools[0].bogus'."),
    "unknown-stream-option": ({"stream_options": {"include_usage": True}}, "stream_options.include_usage",
                              "unknown_parameter", "Unknown parameter: 'stream_options.include_usage'."),
    "unknown-beats-bad-type": ({"zzz": 1, "temperature": "hot"}, "zzz", "unknown_parameter",
                               "Unknown parameter: 'zzz'."),

    "missing-model": ({"model": DROP, "foo": 1}, "model", "missing_required_parameter",
                      "Missing required parameter: 'model'."),
    "missing-content": ({"input": [{"type": "message", "role": "user"}]}, "input[0].content",
                        "missing_required_parameter", "Missing required parameter: 'input[0].content'."),
    "missing-call-id": ({"input": [{"type": "function_call", "name": "f", "arguments": "{}"}]}, "input[0].call_id",
                        "missing_required_parameter", "Missing required parameter: 'input[0].call_id'."),
    "missing-part-text": ({"input": [user([{"type": "input_text"}])]}, "input[0].content[0].text",
                          "missing_required_parameter", "Missing required parameter: 'input[0].content[0].text'."),
    "missing-tool-name": ({"tools": [{"type": "function"}]}, "tools[0].name", "missing_required_parameter",
                          "Missing required parameter: 'tools[0].name'."),
    "missing-tool-type": ({"tools": [{"name": "f"}]}, "tools[0].type", "missing_required_parameter",
                          "Missing required parameter: 'tools[0].type'."),
    "missing-part-type": ({"input": [user([{"text": "x"}])]}, "input[0].content[0].type",
                          "missing_required_parameter", "Missing required parameter: 'input[0].content[0].type'."),
    "missing-choice-name": ({"tools": [FN], "tool_choice": {"type": "function"}}, "tool_choice.name",
                            "missing_required_parameter", "Missing required parameter: 'tool_choice.name'."),
    "missing-schema": ({"text": {"format": {"type": "json_schema", "name": "n"}}}, "text.format.schema",
                       "missing_required_parameter", "Missing required parameter: 'text.format.schema'."),
    "missing-moderation-model": ({"moderation": {}}, "moderation.model", "missing_required_parameter",
                                 "Missing required parameter: 'moderation.model'."),

    "above-max-decimal": ({"temperature": 3}, "temperature", "decimal_above_max_value",
                          "Invalid 'temperature': decimal above maximum value. Expected a value <= 2, but got 3 "
                          "instead."),
    "below-min-decimal": ({"top_p": -0.5}, "top_p", "decimal_below_min_value",
                          "Invalid 'top_p': decimal below minimum value. Expected a value >= 0, but got -0.5 "
                          "instead."),
    "above-max-integer": ({"top_logprobs": 21}, "top_logprobs", "integer_above_max_value",
                          "Invalid 'top_logprobs': integer above maximum value. Expected a value <= 20, but got 21 "
                          "instead."),
    "below-min-integer": ({"max_output_tokens": 0}, "max_output_tokens", "integer_below_min_value",
                          "Invalid 'max_output_tokens': integer below minimum value. Expected a value >= 1, but got 0 "
                          "instead."),
    "penalty-bound": ({"presence_penalty": 2.5}, "presence_penalty", "decimal_above_max_value",
                      "Invalid 'presence_penalty': decimal above maximum value. Expected a value <= 2, but got 2.5 "
                      "instead."),
    "empty-string": ({"input": [{"type": "function_call", "call_id": "", "name": "f", "arguments": "{}"}]},
                     "input[0].call_id", "string_below_min_length",
                     "Invalid 'input[0].call_id': string too short. Expected a string with minimum length 1, but "
                     "got an empty string instead."),
    "pattern": ({"tools": [{"type": "function", "name": "no spaces"}]}, "tools[0].name", "invalid_value",
                "Invalid 'tools[0].name': string does not match pattern. Expected a string that matches the pattern "
                "'^[a-zA-Z0-9_-]{1,64}$'."),
    "metadata-properties": ({"metadata": {f"k{i}": "v" for i in range(17)}}, "metadata",
                            "object_above_max_properties",
                            "Invalid 'metadata': too many properties. Expected an object with at most 16 properties, "
                            "but got an object with 17 properties instead."),
    "metadata-value-length": ({"metadata": {"k": "x" * 600}}, "metadata.k", "string_above_max_length",
                              "Invalid 'metadata.k': string too long. Expected a string with maximum length 512, but "
                              "got a string with length 600 instead."),
    "metadata-key-length": ({"metadata": {"k" * 70: "v"}}, "metadata." + "k" * 70, "property_name_above_max_length",
                            "Invalid property name in 'metadata': 'kkk...kkk' is too long. Expected a string with "
                            "maximum length 64, but got a string with length 70 instead."),
    "input-items": ({"input": [user("x")] * 16385}, "input", "array_above_max_length",
                    "Invalid 'input': array too long. Expected an array with maximum length 16384, but got an array "
                    "with length 16385 instead."),
}


@pytest.fixture(scope="module")
def http(server: Server):
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        yield client


def error_of(http: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = http.post(path, json=body)
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert not OUR_CODE.search(error["message"]), f"the message names the server's code: {error['message']}"
    return error


@pytest.mark.parametrize(("fields", "param", "code", "message"), CASES.values(), ids=CASES.keys())
def test_malformed_bodies_are_answered_in_openais_words(http: httpx.Client, fields: dict[str, Any], param: str,
                                                        code: str, message: str) -> None:
    body = {"model": MODEL, "input": "hi", **fields}
    body = {key: value for key, value in body.items() if value is not DROP}
    error = error_of(http, "/responses", body)
    assert (error["param"], error["code"]) == (param, code), error
    if message:
        assert error["message"] == message


def test_an_unknown_item_type_lists_every_item_type_accepted(http: httpx.Client) -> None:
    error = error_of(http, "/responses", {"model": MODEL, "input": [{"type": "bogus"}]})
    assert error["message"].startswith("Invalid value: 'bogus'. Supported values are: 'message', 'function_call', ")
    listed = re.findall(r"'([a-z_]+)'", error["message"].split("Supported values are: ", 1)[1])
    assert {"message", "reasoning", "item_reference", "mcp_call", "computer_call", "code_interpreter_call"} <= set(
        listed)
    assert error["message"].endswith(f", and '{listed[-1]}'.")


def test_an_unknown_tool_type_lists_the_tool_types_the_server_runs(http: httpx.Client) -> None:
    error = error_of(http, "/responses", {"model": MODEL, "tools": [{"type": "retrieval"}]})
    listed = set(re.findall(r"'([a-z0-9_]+)'", error["message"].split("Supported values are: ", 1)[1]))
    assert {"function", "file_search", "web_search", "mcp", "custom"} <= listed
    assert not listed & {"computer", "code_interpreter", "image_generation"}, "refused tool types are not offered"


def test_refused_fields_say_why(http: httpx.Client) -> None:
    prompt = error_of(http, "/responses", {"model": MODEL, "input": "hi", "prompt": {"id": "pmpt_1"}})
    assert prompt["message"].startswith("Unsupported parameter: 'prompt' is not supported by this server: ")
    tool = error_of(http, "/responses", {"model": MODEL, "input": "hi", "tools": [{"type": "computer"}]})
    assert tool["message"].startswith("Unsupported tool: 'tools[0]' is a 'computer' tool, which this server does "
                                      "not run: ")
    item = error_of(http, "/responses", {"model": MODEL, "input": [{"type": "configuration_update"}]})
    assert item["message"].startswith("Unsupported value: 'input[0]' is an item of type 'configuration_update', ")


def test_conversation_items_are_worded_alike(http: httpx.Client) -> None:
    error = error_of(http, "/conversations", {"items": [{"role": "robot", "content": "x"}]})
    assert (error["param"], error["message"]) == ("items[0].role", f"Invalid value: 'robot'. {ROLES}")
    error = error_of(http, "/conversations", {"items": [{"type": "nonsense"}]})
    assert error["param"] == "items[0]" and error["message"].startswith("Invalid value: 'nonsense'. ")
    error = error_of(http, "/conversations", {"items": [user("x")] * 21})
    assert (error["param"], error["code"]) == ("items", "array_above_max_length"), error
    error = error_of(http, "/conversations", {"metadata": {f"k{i}": "v" for i in range(17)}})
    assert (error["param"], error["code"]) == ("metadata", "object_above_max_properties"), error
    error = error_of(http, "/vector_stores", {"metadata": {"k": "x" * 600}})
    assert (error["param"], error["code"]) == ("metadata.k", "string_above_max_length"), error


def test_the_most_input_items_openai_takes_are_taken(http: httpx.Client) -> None:
    answer = http.post("/responses/input_tokens", json={"model": MODEL, "input": [user("x")] * 16384})
    assert answer.status_code == 200, answer.text

