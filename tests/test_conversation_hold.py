"""A stored response's hold on its conversation is released on every path.

Each failure a create can meet after the hold is taken is tried, then another stored response on
the same conversation must go through (a hold left behind would answer 409 until its lease ran
out, 60 s). Real failures go through the real server; steps that cannot fail on their own are made
to raise in a server run in this process, with the real store behind it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from conftest import free_port, upstream_name
from orrery.app import create_app
from orrery.config import load_settings
from orrery.responses import service as response_service
from orrery.store.conversations import ConversationStore
from orrery.store.responses import ResponseStore
from orrery.tools.toolset import ToolRegistry
from scripted_upstream import Reply

RELEASE_WAIT = 5.0
"""How long a released hold may take to be written: the release is a batched write."""


def post_when_free(post: Callable[[], httpx.Response]) -> httpx.Response:
    """``post()`` again while the conversation is still held, for at most ``RELEASE_WAIT`` seconds."""
    deadline = time.monotonic() + RELEASE_WAIT
    while True:
        answer = post()
        if answer.status_code != 409 or time.monotonic() > deadline:
            return answer
        time.sleep(0.05)


def listing_item(label: str) -> dict[str, Any]:
    return {"type": "mcp_list_tools", "id": "mcpl_given", "server_label": label,
            "tools": [{"name": "echo", "input_schema": {"type": "object"}}]}


FAILURES = {
    "unknown vector store": ({"tools": [{"type": "file_search", "vector_store_ids": ["vs_missing"]}]}, 404),
    "unreachable MCP server": ({"tools": [{"type": "mcp", "server_label": "gone", "require_approval": "never",
                                           "server_url": f"http://127.0.0.1:{free_port()}/mcp"}]}, 424),
    "unknown approval request": ({"tools": [{"type": "mcp", "server_label": "known",
                                             "server_url": f"http://127.0.0.1:{free_port()}/mcp"}],
                                  "input": [listing_item("known"),
                                            {"type": "mcp_approval_response", "approval_request_id": "mcpr_nope",
                                             "approve": True}]}, 400),
    "failing upstream": ({"model": "down/any"}, 502),
}


@pytest.mark.parametrize("case", FAILURES)
def test_a_failed_create_releases_its_conversation(server, client, upstream, model, case):
    fields, status = FAILURES[case]
    upstream.script(upstream_name(model), Reply(text="after the failure"))
    conversation = client.conversations.create()
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        failed = http.post("/responses", json={"model": model, "input": "first", "conversation": conversation.id,
                                               **fields})
        assert failed.status_code == status, failed.text
        answer = post_when_free(lambda: http.post("/responses", json={
            "model": model, "input": "second", "conversation": conversation.id}))
        assert answer.status_code == 200, answer.text
        items = http.get(f"/conversations/{conversation.id}/items", params={"order": "asc"}).json()["data"]
    assert [item["type"] for item in items] == ["message", "message"]
    assert items[1]["content"][0]["text"] == "after the failure"


def test_a_client_gone_before_the_stream_releases_its_conversation(server, client, upstream, model):
    upstream.script(upstream_name(model), Reply(text="never read", delay=0.2), Reply(text="read"))
    conversation = client.conversations.create()
    body = {"model": model, "input": "hello", "conversation": conversation.id, "stream": True}
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        with http.stream("POST", "/responses", json=body) as stream:
            assert stream.status_code == 200
        answer = post_when_free(lambda: http.post("/responses", json={**body, "stream": False}))
    assert answer.status_code == 200, answer.text


class Injected(RuntimeError):
    """The failure made to happen at one step of a create."""


def _raise(*args: Any, **kwargs: Any) -> Any:
    raise Injected("injected")


async def _async_raise(*args: Any, **kwargs: Any) -> Any:
    raise Injected("injected")


STEPS: dict[str, tuple[Any, str, Callable[..., Any]]] = {
    "reading the conversation's items": (ConversationStore, "all_items", _async_raise),
    "preparing the tools": (ToolRegistry, "prepare", _async_raise),
    "converting the items to messages": (response_service, "items_to_messages", _raise),
    "building the upstream body": (response_service, "chat_request_body", _raise),
    "building the response's fields": (response_service.objects, "response_params", _raise),
    "starting to store the response": (ResponseStore, "begin", _raise),
}


@pytest.fixture(scope="module")
def in_process_settings(tmp_path_factory: pytest.TempPathFactory, upstream) -> Any:
    directory: Path = tmp_path_factory.mktemp("hold")
    config = directory / "orrery.yaml"
    config.write_text(yaml.safe_dump({"providers": [{"id": "scripted", "base_url": upstream.url, "timeout": 5}],
                                      "db": f"sqlite:///{directory / 'orrery.db'}", "data_dir": str(directory)}))
    return load_settings(config_path=str(config), env={})


@pytest.mark.parametrize("step", STEPS)
def test_an_exception_at_any_step_releases_the_conversation(in_process_settings, upstream, model, monkeypatch, step):
    owner, name, failure = STEPS[step]
    upstream.script(upstream_name(model), Reply(text="answered"))

    async def scenario() -> None:
        app = create_app(in_process_settings)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url="http://orrery/v1") as http:
                conversation = (await http.post("/conversations", json={})).json()["id"]
                body = {"model": model, "input": "hello", "conversation": conversation}
                with monkeypatch.context() as patch:
                    patch.setattr(owner, name, failure)
                    failed = await http.post("/responses", json=body)
                assert failed.status_code == 500, failed.text
                deadline = time.monotonic() + RELEASE_WAIT
                answer = await http.post("/responses", json=body)
                while answer.status_code == 409 and time.monotonic() < deadline:
                    await asyncio.sleep(0.05)
                    answer = await http.post("/responses", json=body)
                assert answer.status_code == 200, answer.text
                assert answer.json()["output"][0]["content"][0]["text"] == "answered"

    asyncio.run(scenario())
