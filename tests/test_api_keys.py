"""API keys: with none configured the server is open (and says so); with keys, every ``/v1/*``
route, the WebSocket mode included, answers 401 in OpenAI's shape without a known key. Keys come
from the configuration or from ``orrery keys create`` (kept hashed), and are never logged."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from conftest import Server, provider_config, start_server, stop_server
from scripted_upstream import Reply

ALICE, BOB = "sk-alice-0123456789", "sk-bob-9876543210"


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'keys.db'}"
    return request.getfixturevalue("own_postgres_url")


@contextmanager
def serving(upstream: Any, db_url: str, tmp_path: Path, **config: Any) -> Iterator[tuple[Server, Path]]:
    log = tmp_path / "server.log"
    process, url = start_server({"providers": provider_config(upstream), "db": db_url, "data_dir": str(tmp_path),
                                 **config}, log_path=log)
    try:
        yield Server(url=url, backend="keys", db_url=db_url, pid=process.pid), log
    finally:
        stop_server(process)


def keys_cli(db_url: str, *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "orrery", "keys", "--db", db_url, *args], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def routes(server: Server) -> list[tuple[str, str]]:
    """Every ``/v1/*`` method and path the server documents, ids filled in."""
    document = httpx.get(f"{server.url}/openapi.json").json()
    return [(method.upper(), path.replace("{", "").replace("}", "_x"))
            for path, methods in document["paths"].items() if path.startswith("/v1/")
            for method in methods if method in ("get", "post", "delete", "put", "patch")]


def check_401(answer: httpx.Response, code: str | None) -> None:
    assert answer.status_code == 401, (answer.request.url, answer.text)
    error = answer.json()["error"]
    assert (error["type"], error["code"], error["param"]) == ("invalid_request_error", code, None)
    assert answer.headers["www-authenticate"] == "Bearer"


def test_configured_keys_guard_every_route(upstream, db_url: str, tmp_path: Path) -> None:
    keys = [{"key": ALICE, "project": "alice"}, {"key": BOB, "project": "bob"}]
    with serving(upstream, db_url, tmp_path, api_keys=keys) as (server, log):
        documented = routes(server)
        assert len(documented) > 20
        with httpx.Client(timeout=30) as http:
            for method, path in documented:
                check_401(http.request(method, f"{server.url}{path}"), None)
                check_401(http.request(method, f"{server.url}{path}", headers={"authorization": "Bearer nope"}),
                          "invalid_api_key")
                check_401(http.request(method, f"{server.url}{path}", headers={"authorization": ALICE}), None)
            assert http.get(f"{server.url}/health").status_code == 200
        alice = openai.OpenAI(base_url=server.base_url, api_key=ALICE, max_retries=0)
        assert alice.responses.create(model="scripted/scripted-model", input="hi").status == "completed"
        assert openai.OpenAI(base_url=server.base_url, api_key=BOB, max_retries=0).models.list().data
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=server.base_url, api_key="sk-wrong", max_retries=0).models.list()
        ws_url = server.base_url.replace("http://", "ws://") + "/responses"
        with pytest.raises(InvalidStatus) as refused:
            connect(ws_url)
        assert refused.value.response.status_code == 401
        with connect(ws_url, additional_headers={"Authorization": f"Bearer {ALICE}"}) as socket:
            socket.send('{"type": "response.create", "model": "scripted/scripted-model", "input": "hi"}')
            assert '"response.created"' in str(socket.recv(timeout=30))
    text = log.read_text()
    assert ALICE not in text and BOB not in text and "no API keys configured" not in text


def test_keys_made_with_the_cli_close_an_open_server_and_revoking_one_shuts_it_out(
        upstream, db_url: str, tmp_path: Path, stored_bytes) -> None:
    with serving(upstream, db_url, tmp_path) as (server, log):
        assert httpx.get(f"{server.base_url}/models").status_code == 200, "open with no key"
        made = keys_cli(db_url, "create", "ci-runner", "--project", "team-a")
        key = made.splitlines()[0]
        assert key.startswith("sk-orrery-") and "team-a" in made
        deadline = time.monotonic() + 15
        while httpx.get(f"{server.base_url}/models").status_code != 401:
            assert time.monotonic() < deadline, "the server stayed open"
            time.sleep(0.2)
        assert httpx.get(f"{server.base_url}/models", headers={"authorization": f"Bearer {key}"}).status_code == 200
        listed = keys_cli(db_url, "list")
        assert "ci-runner" in listed and "team-a" in listed and key not in listed
        assert "revoked 1 key" in keys_cli(db_url, "revoke", "ci-runner")
        deadline = time.monotonic() + 15
        while httpx.get(f"{server.base_url}/models", headers={"authorization": f"Bearer {key}"}).status_code != 401:
            assert time.monotonic() < deadline, "the revoked key still works"
            time.sleep(0.2)
    text = log.read_text()
    assert "no API keys configured" in text and key not in text
    assert key.encode() not in stored_bytes(db_url, b"ci-runner")


def test_each_project_has_its_own_limits(upstream, db_url: str, tmp_path: Path) -> None:
    """Past ``requests_per_minute``, or with ``concurrent_responses`` running, a 429 with Retry-After."""
    keys = [{"key": ALICE, "project": "alice"}, {"key": BOB, "project": "bob"}]
    limits = {"requests_per_minute": 4, "concurrent_responses": 1}
    with serving(upstream, db_url, tmp_path, api_keys=keys, limits=limits) as (server, _):
        alice = {"authorization": f"Bearer {ALICE}"}
        bob = {"authorization": f"Bearer {BOB}"}
        with httpx.Client(base_url=server.base_url, timeout=30) as http:
            upstream.script("scripted-other", Reply(text="slow " * 20, chunk=5, delay=0.1))
            with http.stream("POST", "/responses", headers=alice, json={
                    "model": "scripted/scripted-other", "input": "x", "stream": True}) as running:
                chunks = running.iter_bytes()
                next(chunks)
                busy = http.post("/responses", headers=alice, json={"model": "scripted/scripted-model", "input": "y"})
                assert busy.status_code == 429 and busy.headers["retry-after"] == "1"
                assert busy.json()["error"]["code"] == "rate_limit_exceeded"
                assert http.post("/responses", headers=bob, json={"model": "scripted/scripted-model",
                                                                  "input": "bob's own"}).status_code == 200
                for _ in chunks:
                    pass
            assert http.get("/models", headers=alice).status_code == 200  # the 2nd of 4 this minute
            assert http.get("/models", headers=alice).status_code == 200
            assert http.get("/models", headers=alice).status_code == 200
            over = http.get("/models", headers=alice)
            assert over.status_code == 429, over.text
            error = over.json()["error"]
            assert (error["type"], error["code"]) == ("requests", "rate_limit_exceeded")
            assert int(over.headers["retry-after"]) >= 1 and "4 a minute" in error["message"]
            assert http.get("/models", headers=bob).status_code == 200
