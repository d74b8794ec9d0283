"""Where a client's URLs may make the server go: an ``mcp`` tool's ``server_url`` on loopback,
private, link-local (metadata) or other non-global addresses is refused (a 424, before any
connection), after resolving its host name, unless ``outbound.allow`` lists it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from conftest import Server, provider_config, sqlite_server


class Listener:
    """A local HTTP server counting what reaches it; ``redirect_to`` answers every request 307 there."""

    def __init__(self, redirect_to: str | None = None) -> None:
        self.hits: list[str] = []
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                listener.hits.append(self.path)
                if redirect_to:
                    self.send_response(307)
                    self.send_header("location", redirect_to)
                else:
                    self.send_response(404)
                self.send_header("content-length", "0")
                self.end_headers()

            do_GET = do_POST

            def log_message(self, *_: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def listener() -> Iterator[Listener]:
    started = Listener()
    yield started
    started.close()


def create_with_mcp(server: Server, url: str) -> httpx.Response:
    return httpx.post(f"{server.base_url}/responses", timeout=30, json={
        "model": "scripted/scripted-model", "input": "x",
        "tools": [{"type": "mcp", "server_label": "s", "server_url": url, "require_approval": "never"}]})


@pytest.fixture
def strict(upstream, tmp_path: Path) -> Iterator[Server]:
    with sqlite_server(tmp_path, {"providers": provider_config(upstream)}) as server:
        yield server


@pytest.mark.parametrize(("host", "kind"), [
    ("127.0.0.1", "loopback"), ("localhost", "loopback"), ("[::1]", "loopback"),
    ("[::ffff:127.0.0.1]", "loopback"), ("169.254.169.254", "link-local"), ("10.1.2.3", "private"),
    ("192.168.0.7", "private"), ("0.0.0.0", "unspecified"), ("100.64.0.1", "not global"),
])
def test_a_non_global_address_is_refused_before_any_connection(strict: Server, listener: Listener, host: str,
                                                                kind: str) -> None:
    port = listener.port if host in ("127.0.0.1", "localhost") else 80
    answer = create_with_mcp(strict, f"http://{host}:{port}/mcp?token=never-shown")
    assert answer.status_code == 424, answer.text
    error = answer.json()["error"]
    assert error["type"] == "external_connector_error" and f"is a {kind} address" in error["message"]
    assert "outbound.allow" in error["message"] and "never-shown" not in error["message"]
    assert listener.hits == []


def test_an_allowed_host_is_reached_and_a_redirect_elsewhere_is_not(upstream, tmp_path: Path,
                                                                    listener: Listener) -> None:
    redirector = Listener(redirect_to=f"http://127.0.0.1:{listener.port}/elsewhere")
    try:
        config = {"providers": provider_config(upstream), "outbound": {"allow": [f"127.0.0.1:{redirector.port}"]}}
        with sqlite_server(tmp_path, config) as server:
            answer = create_with_mcp(server, f"http://127.0.0.1:{redirector.port}/mcp")
            assert answer.status_code == 424, answer.text
            assert redirector.hits, "the allowed host was reached"
            assert listener.hits == [], "the redirect to another origin was not followed"
            refused = create_with_mcp(server, f"http://127.0.0.1:{listener.port}/mcp")
            assert "is a loopback address" in refused.json()["error"]["message"]
    finally:
        redirector.close()
