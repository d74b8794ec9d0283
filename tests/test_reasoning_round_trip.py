"""Reasoning carried by the client: sealed ``encrypted_content`` only this server can read, and
reasoning items sent back as input, shown again to upstreams that take reasoning back."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import openai
import pytest
from cryptography.fernet import Fernet

from conftest import Server, sqlite_server, upstream_name
from scripted_upstream import Reply, ToolCall
from wire import create

ENCRYPTED = ["reasoning.encrypted_content"]
TOOLS = [{"type": "function", "name": "look", "parameters": {"type": "object"}}]


def reasoning_server(upstream, directory: Path, name: str, settings: dict | None = None,
                     **provider: object) -> AbstractContextManager[Server]:
    config = {"providers": [{"id": "scripted", "base_url": upstream.url, **provider}], **(settings or {})}
    return sqlite_server(directory, config, name=name)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("reasoning")


@pytest.fixture(scope="module")
def history_server(upstream, data_dir: Path) -> Iterator[Server]:
    """A server whose provider is shown the reasoning of earlier turns."""
    with reasoning_server(upstream, data_dir, "history", reasoning_history=True) as server:
        yield server


def first_turn(server: Server, upstream, model: str, *, streamed: bool) -> dict:
    upstream.script(upstream_name(model), Reply(reasoning="The user wants a look.",
                                                tool_calls=[ToolCall("look", "{}", id="call_look")]))
    body = {"model": model, "input": "Look around.", "tools": TOOLS, "store": False, "include": ENCRYPTED}
    return create(server.base_url, body, streamed)


@pytest.mark.parametrize("streamed", [True, False], ids=["streamed", "json"])
def test_a_stateless_client_carries_the_reasoning_to_the_next_turn(history_server, upstream, model, streamed):
    first = first_turn(history_server, upstream, model, streamed=streamed)
    reasoning, call = first["output"]
    sealed = reasoning["encrypted_content"]
    assert reasoning["type"] == "reasoning" and sealed and "look" not in sealed
    upstream.script(upstream_name(model), Reply(text="A room."))
    carried = {key: value for key, value in reasoning.items() if key != "content"}
    second = history_server.client().responses.create(model=model, tools=TOOLS, store=False, input=[
        {"role": "user", "content": "Look around."}, carried, call,
        {"type": "function_call_output", "call_id": "call_look", "output": "a room"}])
    assert second.output_text == "A room."
    assistant = upstream.bodies(upstream_name(model))[-1]["messages"][1]
    assert assistant["reasoning_content"] == "The user wants a look."
    assert assistant["tool_calls"][0]["id"] == "call_look"


def test_reasoning_sent_back_as_summary_or_content_only_is_accepted(history_server, upstream, model):
    name = upstream_name(model)
    upstream.script(name, Reply(text="one"), Reply(text="two"))
    client = history_server.client()
    for reasoning in ({"type": "reasoning", "id": "rs_a", "summary": [{"type": "summary_text", "text": "short"}]},
                      {"type": "reasoning", "id": "rs_b", "summary": [],
                       "content": [{"type": "reasoning_text", "text": "long"}]}):
        client.responses.create(model=model, store=False, input=[
            {"role": "user", "content": "hi"}, reasoning, {"role": "assistant", "content": "hello"},
            {"role": "user", "content": "again"}])
    assert [body["messages"][1].get("reasoning_content") for body in upstream.bodies(name)] == ["short", "long"]


def test_other_upstreams_are_not_shown_reasoning(server, upstream, model):
    name = upstream_name(model)
    upstream.script(name, Reply(text="plain"))
    server.client().responses.create(model=model, input=[
        {"role": "user", "content": "hi"},
        {"type": "reasoning", "id": "rs_c", "summary": [{"type": "summary_text", "text": "hidden"}]},
        {"role": "assistant", "content": "hello"}, {"role": "user", "content": "again"}])
    assert upstream.bodies(name)[-1]["messages"] == [
        {"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"},
        {"role": "user", "content": "again"}]


def test_changed_or_foreign_encrypted_content_is_a_400(history_server, upstream, model):
    reasoning, _ = first_turn(history_server, upstream, model, streamed=False)["output"]
    token = reasoning["encrypted_content"]
    for forged in (token[:-8] + "AAAAAAAA", "gAAAAABnot-a-token"):
        with pytest.raises(openai.BadRequestError) as raised:
            history_server.client().responses.create(model=model, store=False, input=[
                {"role": "user", "content": "hi"}, {**reasoning, "encrypted_content": forged}])
        assert raised.value.body["param"] == "input[1].encrypted_content"


def test_the_generated_key_outlives_a_restart_and_another_key_cannot_read(upstream, data_dir, history_server,
                                                                         model, tmp_path):
    reasoning, _ = first_turn(history_server, upstream, model, streamed=False)["output"]
    assert (data_dir / "state.key").stat().st_mode & 0o077 == 0
    upstream.script(upstream_name(model), Reply(text="still readable"))
    with reasoning_server(upstream, data_dir, "again", reasoning_history=True) as again:
        answer = again.client().responses.create(model=model, store=False, input=[
            {"role": "user", "content": "hi"}, reasoning, {"role": "user", "content": "go on"}])
        assert answer.output_text == "still readable"
    with reasoning_server(upstream, tmp_path, "foreign") as foreign, pytest.raises(openai.BadRequestError):
        foreign.client().responses.create(model=model, store=False, input=[
            {"role": "user", "content": "hi"}, reasoning])


def test_servers_sharing_a_configured_key_read_each_other(upstream, model, tmp_path):
    key = {"state_key": Fernet.generate_key().decode()}
    sealed_by, read_by = tmp_path / "a", tmp_path / "b"
    sealed_by.mkdir(), read_by.mkdir()
    with reasoning_server(upstream, sealed_by, "a", key) as first:
        reasoning, _ = first_turn(first, upstream, model, streamed=False)["output"]
    assert not (sealed_by / "state.key").exists()
    upstream.script(upstream_name(model), Reply(text="shared"))
    with reasoning_server(upstream, read_by, "b", key) as second:
        answer = second.client().responses.create(model=model, store=False, input=[
            {"role": "user", "content": "hi"}, reasoning, {"role": "user", "content": "go on"}])
        assert answer.output_text == "shared"


def test_a_state_key_that_is_not_a_fernet_key_stops_the_server(upstream, tmp_path):
    with pytest.raises(RuntimeError, match="state_key must be a Fernet key") as raised, \
            reasoning_server(upstream, tmp_path, "bad", {"state_key": "hunter2"}):
        pass
    assert "hunter2" not in str(raised.value)
