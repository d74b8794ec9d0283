"""WebSocket mode of ``/v1/responses`` through the openai SDK's ``responses.connect()`` and raw
``websockets``, on both stores: every message validated as the SDK's ``ResponsesServerEvent``,
sequential responses on one connection, ``store: false`` chains kept by the connection, the
errors for a response it does not have, the error envelope, ``generate: false`` warm-up.
"""

from __future__ import annotations

import asyncio
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx2
import openai
import orjson
import pytest
from openai.types.responses import ResponsesServerEvent
from pydantic import TypeAdapter
from websockets.exceptions import ConnectionClosedOK
from websockets.sync.client import connect

from conftest import Server, provider_config, start_server, stop_server, upstream_name
from scripted_upstream import Reply, ToolCall
from wire import TERMINAL, check_events, output_text

SERVER_EVENT = TypeAdapter(ResponsesServerEvent)


def ws_url(server: Server) -> str:
    return server.base_url.replace("http://", "ws://") + "/responses"


class Socket:
    """A raw WebSocket connection to the server, each message it receives checked."""

    def __init__(self, server: Server) -> None:
        self.connection = connect(ws_url(server), open_timeout=10)

    def __enter__(self) -> Socket:
        return self

    def __exit__(self, *_: object) -> None:
        self.connection.close()

    def send(self, message: dict[str, Any]) -> None:
        self.connection.send(orjson.dumps(message).decode())

    def receive(self) -> dict[str, Any]:
        raw = self.connection.recv(timeout=30)
        assert isinstance(raw, str), "events are text frames"
        event = orjson.loads(raw)
        SERVER_EVENT.validate_python(event)
        return event

    def response(self, **create: Any) -> list[dict[str, Any]]:
        """Send a ``response.create`` and read its events up to the terminal one (or one error)."""
        self.send({"type": "response.create", **create})
        events = [self.receive()]
        while events[-1]["type"] not in {*TERMINAL, "error"}:
            events.append(self.receive())
        return events


def answered(events: list[dict[str, Any]]) -> dict[str, Any]:
    final = check_events([{k: v for k, v in event.items() if k != "stream_id"} for event in events])
    assert final["status"] == "completed", final
    return final


def test_sdk_connection_runs_a_store_false_chain_turn_after_turn(server: Server, upstream, model: str) -> None:
    name = upstream_name(model)
    upstream.script(name, Reply(text="first"), Reply(text="second"), Reply(text="third"))
    client = server.client()
    previous: str | None = None
    with client.responses.connect() as connection:
        for turn in range(3):
            connection.response.create(model=model, input=f"turn {turn}", store=False,
                                       **({"previous_response_id": previous} if previous else {}))
            events = []
            for event in connection:
                events.append(event.model_dump(mode="json", exclude_unset=True))
                if event.type in TERMINAL:
                    break
            final = answered(events)
            assert final["store"] is False
            previous = final["id"]
    assert output_text(final) == "third"
    assert upstream.bodies(name)[-1]["messages"] == [
        {"role": "user", "content": "turn 0"}, {"role": "assistant", "content": "first"},
        {"role": "user", "content": "turn 1"}, {"role": "assistant", "content": "second"},
        {"role": "user", "content": "turn 2"}]
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(previous)


def test_only_the_latest_unstored_response_can_be_continued(server: Server, model: str) -> None:
    with Socket(server) as socket:
        first = answered(socket.response(model=model, input="a", store=False))
        answered(socket.response(model=model, input="b", store=False, previous_response_id=first["id"]))
        evicted = socket.response(model=model, input="c", store=False, previous_response_id=first["id"])
        assert len(evicted) == 1 and evicted[0]["type"] == "error"
        assert evicted[0]["status"] == 400
        assert evicted[0]["error"]["code"] == "previous_response_not_found"
        assert evicted[0]["error"]["param"] == "previous_response_id"
        # the connection goes on, and the error dropped what it kept
        answered(socket.response(model=model, input="d", store=False))
    with Socket(server) as other:
        unknown = other.response(model=model, input="e", store=False, previous_response_id=first["id"])
        assert unknown[0]["error"]["code"] == "previous_response_not_found"


def test_stored_responses_chain_across_connections_and_http(server: Server, upstream, model: str) -> None:
    name = upstream_name(model)
    over_http = server.client().responses.create(model=model, input="over http")
    with Socket(server) as socket:
        upstream.script(name, Reply(text="over the socket"))
        final = answered(socket.response(model=model, input="then", previous_response_id=over_http.id))
    assert upstream.bodies(name)[-1]["messages"][-1] == {"role": "user", "content": "then"}
    assert len(upstream.bodies(name)[-1]["messages"]) == 3
    assert server.client().responses.retrieve(final["id"]).output_text == "over the socket"


def test_generate_false_warms_up_a_chain(server: Server, upstream, model: str) -> None:
    name = upstream_name(model)
    with Socket(server) as socket:
        warm = socket.response(model=model, input="context to keep", instructions="be brief", store=False,
                               generate=False)
        final = answered(warm)
        assert final["output"] == [] and [event["type"] for event in warm] == [
            "response.created", "response.in_progress", "response.completed"]
        assert upstream.bodies(name) == []
        upstream.script(name, Reply(text="warm answer"))
        answered(socket.response(model=model, input="now answer", store=False, previous_response_id=final["id"]))
    assert upstream.bodies(name)[-1]["messages"] == [
        {"role": "user", "content": "context to keep"}, {"role": "user", "content": "now answer"}]


def test_errors_arrive_as_error_events_and_the_connection_stays_open(server: Server, model: str) -> None:
    with Socket(server) as socket:
        bad = socket.response(model=model, input="x", temperature="hot")
        assert bad == [{"type": "error", "status": 400, "error": bad[0]["error"]}]
        assert bad[0]["error"]["param"] == "temperature" and bad[0]["error"]["type"] == "invalid_request_error"
        background = socket.response(model=model, input="x", background=True)
        assert background[0]["error"]["param"] == "background"
        socket.send({"type": "response.cancel"})
        assert socket.receive()["error"]["param"] == "type"
        socket.connection.send("not json")
        assert socket.receive()["error"]["code"] == "invalid_json"
        missing_model = socket.response(model="nope/x", input="x")
        assert missing_model[0]["status"] == 404
        answered(socket.response(model=model, input="still here"))


def test_stream_id_is_echoed_and_steering_is_refused_in_the_sdk_shape(server: Server, model: str) -> None:
    with Socket(server) as socket:
        events = socket.response(model=model, input="lane", stream_id="lane-1")
        assert all(event["stream_id"] == "lane-1" for event in events)
        answered(events)
        response_id = events[-1]["response"]["id"]
        socket.send({"type": "response.steer", "input": "go left", "previous_response_id": response_id})
        refused = socket.receive()
        assert refused["type"] == "response.steer.failed"
        assert refused["error"]["code"] == "steering_not_supported" and refused["steer"]["input"] == "go left"



@contextmanager
def own_server(request: pytest.FixtureRequest, upstream, tmp_path: Path, *extra_args: str,
               **config: Any) -> Iterator[tuple[Server, Path]]:
    """A server of its own, on the store ``request.param`` names, and its log."""
    db_url = f"sqlite:///{tmp_path / 'ws.db'}" if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    log_path = tmp_path / "server.log"
    process, url = start_server({"providers": provider_config(upstream), "db": db_url, "data_dir": str(tmp_path),
                                 **config}, log_path=log_path, extra_args=extra_args)
    try:
        yield Server(url=url, backend=request.param, db_url=db_url, pid=process.pid), log_path
    finally:
        stop_server(process)


@pytest.fixture(params=["sqlite", "postgres"])
def logged_server(request: pytest.FixtureRequest, upstream, tmp_path: Path) -> Iterator[tuple[Server, Path]]:
    """A server that logs each WebSocket connection it accepts."""
    with own_server(request, upstream, tmp_path, "--log-level", "info") as started:
        yield started


@pytest.fixture(params=["sqlite", "postgres"])
def short_lived_sockets(request: pytest.FixtureRequest, upstream, tmp_path: Path) -> Iterator[Server]:
    with own_server(request, upstream, tmp_path, websocket={"max_age": 1}) as (server, _):
        yield server


def test_a_connection_past_its_age_says_so_and_closes(short_lived_sockets: Server, model: str) -> None:
    with Socket(short_lived_sockets) as socket:
        answered(socket.response(model=model, input="in time"))
        time.sleep(1.2)
        limit = socket.response(model=model, input="too late")
        assert limit[0]["error"]["code"] == "websocket_connection_limit_reached" and limit[0]["status"] == 400
        with pytest.raises(ConnectionClosedOK):
            socket.connection.recv(timeout=5)


def test_pydantic_ai_runs_a_tool_loop_over_the_socket(logged_server, upstream, model: str) -> None:
    """``openai_transport='websocket'``: both turns of a tool loop go over one connection, the
    second sending only the tool's output after ``previous_response_id``."""
    from pydantic_ai import Agent
    from pydantic_ai.exceptions import UnsupportedSettingWarning
    from pydantic_ai.models.openai import OpenAIResponsesModel, OpenAIResponsesModelSettings
    from pydantic_ai.providers.openai import OpenAIProvider

    server, log_path = logged_server
    name = upstream_name(model)
    upstream.script(name, Reply(tool_calls=[ToolCall("get_weather", '{"city": "Paris"}', id="call_ws1")]),
                    Reply(text="Sunny in Paris."))
    over_http: list[str] = []

    async def sent_over_http(request: httpx2.Request) -> None:
        over_http.append(request.url.path)

    http_client = httpx2.AsyncClient(event_hooks={"request": [sent_over_http]})
    provider = OpenAIProvider(openai_client=openai.AsyncOpenAI(base_url=server.base_url, api_key="test-key",
                                                               http_client=http_client))
    settings = OpenAIResponsesModelSettings(openai_transport="websocket")
    agent = Agent(OpenAIResponsesModel(model, provider=provider, settings=settings))

    @agent.tool_plain
    def get_weather(city: str) -> str:
        """Weather by city."""
        return f"sunny in {city}"

    with warnings.catch_warnings():
        warnings.simplefilter("error", UnsupportedSettingWarning)
        result = asyncio.run(agent.run("Weather in Paris?"))
    assert result.output == "Sunny in Paris."
    messages = upstream.bodies(name)[-1]["messages"]
    assert messages[0] == {"role": "user", "content": "Weather in Paris?"}
    assert messages[-1] == {"role": "tool", "tool_call_id": "call_ws1", "content": "sunny in Paris"}
    assert over_http == [], "a turn fell back to HTTP"
    log = log_path.read_text()
    assert log.count("WebSocket /v1/responses") == 1, log
