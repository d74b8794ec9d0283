"""Metrics, traces and logs of a real server: ``/metrics`` after real requests (one worker and two),
spans sent to a scripted OTLP/HTTP collector, the log's lines, and no secret in any of them."""

from __future__ import annotations

import gzip
import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from prometheus_client.parser import text_string_to_metric_families

from conftest import WEB_SEARCH_KEY, free_port, start_server, stop_server, upstream_name
from scripted_upstream import Reply, ToolCall
from test_mcp import TOKEN as MCP_TOKEN
from test_mcp import start_mcp_server, stop_mcp_server
from wire import check_events, read_sse, stream

PROVIDER_KEY = "sk-provider-secret-7777"
CLIENT_KEY = "sk-client-secret-8888"
ADMIN_KEY = "sk-admin-secret-3333"
URL_PASSWORD = "url-password-9999"
URL_TOKEN = "url-query-token-1111"
MCP_QUERY_TOKEN = "mcp-query-token-2222"
SECRETS = (PROVIDER_KEY, CLIENT_KEY, ADMIN_KEY, URL_PASSWORD, URL_TOKEN, MCP_QUERY_TOKEN, MCP_TOKEN, WEB_SEARCH_KEY)
USAGE = {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}
WEATHER = {"type": "function", "name": "get_weather", "parameters": {"type": "object", "properties": {}}}
RESPONSES = "/v1/responses"
AUTH = {"authorization": f"Bearer {CLIENT_KEY}"}
ADMIN = {"authorization": f"Bearer {ADMIN_KEY}"}


@dataclass
class Observed:
    url: str
    log: Path
    pid: int

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    def client(self) -> openai.OpenAI:
        return openai.OpenAI(base_url=self.base_url, api_key=CLIENT_KEY, max_retries=0)

    def log_lines(self) -> list[str]:
        return self.log.read_text().splitlines()


def providers(upstream, stalled_port: int) -> list[dict]:
    """``creds``: the scripted upstream again, at a URL with credentials in it; ``stalled``: a port
    that takes connections and never answers."""
    credentials_url = upstream.url.replace("://", f"://tests:{URL_PASSWORD}@") + f"?token={URL_TOKEN}"
    return [{"id": "scripted", "base_url": upstream.url, "api_key": PROVIDER_KEY, "timeout": 5},
            {"id": "creds", "base_url": credentials_url, "timeout": 5},
            {"id": "down", "base_url": f"http://127.0.0.1:{free_port()}/v1", "timeout": 2},
            {"id": "stalled", "base_url": f"http://127.0.0.1:{stalled_port}/v1", "timeout": 3}]


@contextmanager
def observed_server(directory: Path, upstream, *args: str, name: str = "server") -> Iterator[Observed]:
    """A server of its own logging at INFO, with the scripted upstreams and the web search API, that
    wants ``CLIENT_KEY`` (``ADMIN_KEY`` for its metrics)."""
    directory.mkdir(parents=True, exist_ok=True)
    with socket.socket() as stalled:
        stalled.bind(("127.0.0.1", 0))
        stalled.listen(8)
        config = {"providers": providers(upstream, stalled.getsockname()[1]), "data_dir": str(directory),
                  "db": f"sqlite:///{directory / 'orrery.db'}", "outbound": {"allow": ["127.0.0.1"]},
                  "api_keys": [{"key": CLIENT_KEY, "project": "tests"},
                               {"key": ADMIN_KEY, "project": "operators", "admin": True}],
                  "web_search": {"base_url": upstream.search_url, "api_key": WEB_SEARCH_KEY, "timeout": 2}}
        log = directory / f"{name}.log"
        process, url = start_server(config, log_path=log, extra_args=("--log-level", "info", *args))
        try:
            yield Observed(url, log, process.pid)
        finally:
            stop_server(process)


@pytest.fixture(scope="module")
def mcp_url() -> Iterator[str]:
    process, url = start_mcp_server(MCP_TOKEN)
    yield url
    stop_mcp_server(process)


@pytest.fixture(scope="module")
def json_server(upstream, tmp_path_factory) -> Iterator[Observed]:
    with observed_server(tmp_path_factory.mktemp("observed"), upstream, "--log-format", "json") as server:
        yield server


def scrape(url: str) -> list[Any]:
    """Every sample ``/metrics`` shows, parsed as Prometheus parses it."""
    answer = httpx.get(f"{url}/metrics", headers=ADMIN, timeout=10)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    return [sample for family in text_string_to_metric_families(answer.text) for sample in family.samples]


def value(samples: list[Any], name: str, **labels: str) -> float:
    """The sum of the samples ``name`` whose labels include ``labels``."""
    return sum(s.value for s in samples if s.name == name and labels.items() <= s.labels.items())


def labels_of(samples: list[Any]) -> set[str]:
    return {label for s in samples for label in s.labels.values()}


def test_with_keys_the_metrics_need_an_admin_key(json_server):
    """They count every project's work: a project's key gets a 403, no key a 401."""
    unkeyed = httpx.get(f"{json_server.url}/metrics", timeout=10)
    assert unkeyed.status_code == 401 and unkeyed.json()["error"]["type"] == "invalid_request_error"
    project = httpx.get(f"{json_server.url}/metrics", headers=AUTH, timeout=10)
    assert project.status_code == 403 and project.json()["error"]["code"] == "admin_key_required"
    assert "orrery_requests_total" not in project.text
    assert scrape(json_server.url)


def test_requests_responses_tokens_tools_and_errors_are_counted(json_server, upstream, model):
    name = upstream_name(model)
    before = scrape(json_server.url)
    client = json_server.client()
    upstream.script(name, Reply(text="plain answer", usage=USAGE), Reply(text="streamed answer", usage=USAGE),
                    Reply(tool_calls=[ToolCall("get_weather", "{}", id="call_w")], usage=USAGE),
                    Reply(status=500, error={"message": "scripted outage"}))
    plain = client.responses.create(model=model, input="hello")
    events = stream(json_server.base_url, {"model": model, "input": "hello"}, headers=AUTH)
    called = client.responses.create(model=model, input="weather?", tools=[WEATHER])
    with pytest.raises(openai.InternalServerError):
        client.responses.create(model=model, input="fail")
    with pytest.raises(openai.APIStatusError):
        client.responses.create(model="down/m", input="unreachable")
    client.responses.retrieve(plain.id)
    assert httpx.post(f"{json_server.base_url}/responses", json={"model": model, "input": "no key"}).status_code == 401
    assert httpx.get(f"{json_server.url}/no/such/{plain.id}").status_code == 404
    after = scrape(json_server.url)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert called.output[0].type == "function_call" and check_events(events)["status"] == "completed"
    assert moved("orrery_requests_total", route=RESPONSES, method="POST", status="200") == 3
    assert moved("orrery_requests_total", route=RESPONSES, method="POST", status="502") == 2
    assert moved("orrery_requests_total", route="/v1/responses/{response_id}", method="GET", status="200") == 1
    assert moved("orrery_requests_total", route=RESPONSES, method="POST", status="401") == 1
    assert moved("orrery_requests_total", route="unmatched", status="404") == 1
    assert moved("orrery_request_duration_seconds_count", route=RESPONSES, method="POST") == 6
    assert moved("orrery_responses_total", status="completed") == 3
    assert moved("orrery_responses_total", status="failed") == 2
    assert value(after, "orrery_tokens_total", model=model, direction="input") == 3 * USAGE["prompt_tokens"]
    assert value(after, "orrery_tokens_total", model=model, direction="output") == 3 * USAGE["completion_tokens"]
    assert value(after, "orrery_time_to_first_token_seconds_count", model=model) == 3
    assert moved("orrery_tool_calls_total", kind="function_call") == 1
    assert moved("orrery_upstream_errors_total", provider="scripted", kind="http") == 1
    assert moved("orrery_upstream_errors_total", provider="down", kind="connect") == 1
    assert "down/m" not in labels_of(after), "a model no upstream answered is no series"
    assert not any(plain.id in label for label in labels_of(after)), "a route is labelled by its template"


def test_open_streams_count_while_a_stream_runs(json_server, upstream, model):
    upstream.script(upstream_name(model), Reply(text="a slow answer, four characters a second", chunk=4, delay=0.1))
    with httpx.stream("POST", f"{json_server.base_url}/responses", timeout=30, headers=AUTH,
                      json={"model": model, "input": "slowly", "stream": True}) as answer:
        body = answer.iter_bytes()
        first = next(body)
        assert b"response.created" in first
        assert value(scrape(json_server.url), "orrery_open_streams") == 1
        rest = b"".join(body)
    assert check_events(read_sse(first + rest))["status"] == "completed"
    assert value(scrape(json_server.url), "orrery_open_streams") == 0


def test_the_ingestion_queue_depth_and_an_embedding_timeout(json_server):
    client = json_server.client()
    before = scrape(json_server.url)
    file_id = client.files.create(file=("notes.txt", b"Saturn has rings."), purpose="assistants").id
    store = client.vector_stores.create(name="stalled", file_ids=[file_id],
                                        extra_body={"embedding_model": "stalled/embedder"})
    assert value(scrape(json_server.url), "orrery_ingestion_queue_depth") == 1
    deadline = time.monotonic() + 20
    while client.vector_stores.files.retrieve(file_id, vector_store_id=store.id).status == "in_progress":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    after = scrape(json_server.url)
    assert value(after, "orrery_ingestion_queue_depth") == 0
    assert value(after, "orrery_background_queue_depth") == 0
    assert (value(after, "orrery_upstream_errors_total", provider="stalled", kind="timeout")
            - value(before, "orrery_upstream_errors_total", provider="stalled", kind="timeout")) == 1


def test_json_logs_carry_a_line_per_response_and_no_secret(json_server, upstream, model, mcp_url):
    name = upstream_name(model)
    client = json_server.client()
    upstream.script(name, Reply(text="logged", usage=USAGE))
    logged = client.responses.create(model=model, input="hello")
    upstream.script(name, Reply(tool_calls=[ToolCall("echo", '{"text":"x"}', id="call_e")]), Reply(text="x"))
    mcp = {"type": "mcp", "server_label": "tools", "server_url": f"{mcp_url}?token={MCP_QUERY_TOKEN}",
           "authorization": MCP_TOKEN, "require_approval": "never"}
    assert client.responses.create(model=model, input="echo", tools=[mcp]).output[1].output == "x"
    client.responses.create(model=f"creds/{name}", input="through a URL with credentials")
    with pytest.raises(openai.APIStatusError):
        client.responses.create(model="down/m", input="unreachable")

    deadline = time.monotonic() + 10
    while not any(logged.id in line for line in json_server.log_lines()):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    lines = [json.loads(line) for line in json_server.log_lines()]
    assert all({"time", "level", "logger", "message"} <= line.keys() for line in lines)
    [ended] = [line for line in lines if line.get("response_id") == logged.id and "duration_ms" in line]
    assert ended["model"] == model and ended["status"] == "completed" and ended["logger"] == "orrery.responses"
    assert (ended["input_tokens"], ended["output_tokens"]) == (USAGE["prompt_tokens"], USAGE["completion_tokens"])
    assert ended["duration_ms"] > 0 and logged.id in ended["message"]
    assert any(line.get("model") == "down/m" and line.get("status") == "failed" for line in lines)
    text = json_server.log.read_text()
    for secret in SECRETS:
        assert secret not in text


@dataclass
class Collector:
    """A scripted OTLP/HTTP collector: keeps the spans it is sent, attributes decoded."""

    server: ThreadingHTTPServer

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    @property
    def spans(self) -> list[dict[str, Any]]:
        return list(self.server.spans)  # type: ignore[attr-defined]


def _attribute(value: Any) -> Any:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers["content-length"]))
        if self.headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        request = ExportTraceServiceRequest.FromString(body)
        for resource in request.resource_spans:
            service = {a.key: _attribute(a.value) for a in resource.resource.attributes}.get("service.name")
            for scope in resource.scope_spans:
                for span in scope.spans:
                    self.server.spans.append({  # type: ignore[attr-defined]
                        "name": span.name, "service": service, "trace_id": span.trace_id.hex(),
                        "span_id": span.span_id.hex(), "parent_span_id": span.parent_span_id.hex(),
                        "status": span.status.code,
                        "attributes": {a.key: _attribute(a.value) for a in span.attributes}})
        answer = ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def collector() -> Iterator[Collector]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.spans = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Collector(server)
    server.shutdown()


@pytest.fixture(scope="module")
def traced_server(upstream, collector, tmp_path_factory) -> Iterator[Observed]:
    with pytest.MonkeyPatch.context() as env:
        env.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.endpoint)
        env.setenv("OTEL_BSP_SCHEDULE_DELAY", "50")
        with observed_server(tmp_path_factory.mktemp("traced"), upstream, "--log-format", "json",
                             name="traced") as server:
            yield server


def spans_of(collector: Collector, response_id: str, children: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The response's span and its children, once the collector has ``children`` of them."""
    deadline = time.monotonic() + 15
    while True:
        spans = collector.spans
        roots = [s for s in spans if s["name"] == "response" and s["attributes"]["orrery.response.id"] == response_id]
        below = [s for s in spans if roots and s["parent_span_id"] == roots[0]["span_id"]]
        if roots and len(below) >= children:
            return roots[0], below
        assert time.monotonic() < deadline, spans
        time.sleep(0.1)


def test_a_response_is_one_span_with_its_upstream_calls_tool_calls_and_store_writes(
        traced_server, collector, upstream, model, mcp_url):
    name = upstream_name(model)
    upstream.script(name, Reply(tool_calls=[ToolCall("echo", '{"text":"traced"}', id="call_t")], usage=USAGE),
                    Reply(text="traced", usage=USAGE))
    mcp = {"type": "mcp", "server_label": "tools", "server_url": f"{mcp_url}?token={MCP_QUERY_TOKEN}",
           "authorization": MCP_TOKEN, "require_approval": "never"}
    events = stream(traced_server.base_url, {"model": model, "input": "echo", "tools": [mcp]},
                    headers=AUTH)
    response_id = check_events(events)["id"]
    root, children = spans_of(collector, response_id, 5)
    assert root["service"] == "orrery" and root["parent_span_id"] == ""
    assert root["attributes"]["gen_ai.request.model"] == model
    assert root["attributes"]["orrery.response.status"] == "completed"
    assert root["attributes"]["gen_ai.usage.output_tokens"] == 2 * USAGE["completion_tokens"]
    assert sorted(s["name"] for s in children) == ["store write", "store write", "tool mcp_call",
                                                  "upstream chat/completions", "upstream chat/completions"]
    assert {s["trace_id"] for s in children} == {root["trace_id"]}
    upstream_calls = [s["attributes"] for s in children if s["name"].startswith("upstream")]
    assert all(a["orrery.provider.id"] == "scripted" and a["gen_ai.request.model"] == name
               and a["http.response.status_code"] == 200 and a["url.full"] == f"{upstream.url}/chat/completions"
               for a in upstream_calls)
    [tool] = [s["attributes"] for s in children if s["name"].startswith("tool")]
    assert tool == {"orrery.tool.type": "mcp_call", "gen_ai.tool.name": "echo", "gen_ai.tool.call.id": "call_t",
                    "orrery.tool.status": "completed"}
    assert sorted(s["attributes"]["orrery.store.write"] for s in children if s["name"] == "store write") == [
        "announce", "finish"]

    deadline = time.monotonic() + 10
    while not (ended := [json.loads(line) for line in traced_server.log_lines() if response_id in line
                         and "duration_ms" in line]):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert ended[0]["trace_id"] == root["trace_id"] and ended[0]["span_id"] == root["span_id"]


def test_a_failed_upstream_call_span_has_its_kind_and_no_credentials(traced_server, collector, upstream, model):
    name = upstream_name(model)
    upstream.script(name, Reply(status=500, error={"message": f"refused {URL_TOKEN}"}))
    with pytest.raises(openai.InternalServerError) as failed:
        traced_server.client().responses.create(model=f"creds/{name}", input="fail")
    root, children = spans_of(collector, failed.value.response.headers["x-response-id"], 2)
    [call] = [s for s in children if s["name"] == "upstream chat/completions"]
    assert root["attributes"]["orrery.response.status"] == "failed" and root["status"] == 2
    assert call["attributes"]["error.type"] == "http" and call["status"] == 2
    assert call["attributes"]["url.full"] == (upstream.url.replace("://", "://***@")
                                              + "/chat/completions?token=***")
    every = json.dumps(collector.spans)
    for secret in SECRETS:
        assert secret not in every


def multiprocess_directory(pid: int) -> Path:
    """The metrics directory the server made for its workers, as their environment has it."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(") ", 1)[1].split()[1])
            environ = (stat.parent / "environ").read_bytes().split(b"\0")
        except (OSError, IndexError):
            continue
        for variable in environ if parent == pid else ():
            if variable.startswith(b"PROMETHEUS_MULTIPROC_DIR="):
                return Path(variable.split(b"=", 1)[1].decode())
    raise AssertionError("no worker has PROMETHEUS_MULTIPROC_DIR")


def test_two_workers_serve_metrics_added_up_and_the_text_log_has_each_response(upstream, tmp_path):
    with observed_server(tmp_path, upstream, "--workers", "2") as server:
        directory = multiprocess_directory(server.pid)
        model = f"scripted/m-{uuid.uuid4().hex[:12]}"
        count = 12
        for turn in range(count):
            upstream.script(upstream_name(model), Reply(text=f"answer {turn}", usage=USAGE))
            answer = httpx.post(f"{server.base_url}/responses", json={"model": model, "input": "hi"}, headers=AUTH,
                                timeout=30)
            assert answer.status_code == 200
        for _ in range(6):  # each scrape on a connection of its own: either worker may answer
            samples = scrape(server.url)
            assert value(samples, "orrery_requests_total", route=RESPONSES, status="200") == count
            assert value(samples, "orrery_tokens_total", model=model, direction="input") == count * 11
            assert value(samples, "orrery_open_streams") == 0
        assert directory.is_dir()
        text = server.log.read_text()
        assert sum(f"completed: model {model}, 11 input and 7 output tokens" in line
                   for line in text.splitlines()) == count
    assert not directory.exists()


def test_otel_sdk_disabled_sends_no_span(upstream, collector, tmp_path, model):
    upstream.script(upstream_name(model), Reply(text="untraced"))
    with pytest.MonkeyPatch.context() as env:
        env.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.endpoint)
        env.setenv("OTEL_BSP_SCHEDULE_DELAY", "50")
        env.setenv("OTEL_SDK_DISABLED", "true")
        with observed_server(tmp_path, upstream, name="untraced") as server:
            response_id = server.client().responses.create(model=model, input="hello").id
            time.sleep(1)
    assert not [s for s in collector.spans if s["attributes"].get("orrery.response.id") == response_id]
