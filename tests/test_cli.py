"""The command line: ``orrery serve`` flags (providers, keys from the environment, workers, the example
config), quick help, client commands with no server, and a reader that leaves early."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from conftest import free_port, start_server, stop_server
from orrery.config import Settings, _Entries, _yaml_keys
from scripted_upstream import Reply, ToolCall

ROOT = Path(__file__).resolve().parent.parent
SERVER_MODULES = ("fastapi", "starlette", "sqlalchemy", "uvicorn", "aiohttp", "torch", "orrery.app")


def test_provider_flag_and_api_key_from_env(upstream, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("ORRERY_CLIFLAG_API_KEY", "sk-from-env")
    process, url = start_server({}, log_path=tmp_path / "cli.log", extra_args=(
        "--provider", f"cliflag={upstream.url}", "--db", f"sqlite:///{tmp_path / 'cli.db'}"),
        keep_env=("ORRERY_CLIFLAG_API_KEY",))
    try:
        answer = httpx.post(f"{url}/v1/responses", json={"model": "cliflag/flag-model", "input": "hi"})
        assert answer.status_code == 200, answer.text
        received = [r for r in upstream.requests if r.body.get("model") == "flag-model"][-1]
        assert received.headers["authorization"] == "Bearer sk-from-env"
        assert (tmp_path / "cli.db").exists()
        models = httpx.get(f"{url}/v1/models").json()["data"]
        assert "cliflag/scripted-model" in [m["id"] for m in models]
    finally:
        stop_server(process)
    log = (tmp_path / "cli.log").read_text()
    assert "sk-from-env" not in log


def test_several_workers_share_one_store(upstream, tmp_path: Path):
    config = {"providers": [{"id": "scripted", "base_url": upstream.url}], "db": f"sqlite:///{tmp_path / 'w.db'}",
              "web_search": {"base_url": upstream.search_url}, "response_lease": 30}
    process, url = start_server(config, log_path=tmp_path / "workers.log", extra_args=("--workers", "2"))
    try:
        with httpx.Client(timeout=30) as http:
            previous = None
            for turn in range(20):
                body = {"model": "scripted/workers", "input": f"t{turn}", "previous_response_id": previous}
                answer = http.post(f"{url}/v1/responses", json={k: v for k, v in body.items() if v})
                assert answer.status_code == 200, answer.text
                previous = answer.json()["id"]
                assert http.get(f"{url}/v1/responses/{previous}").json()["status"] == "completed"
            for _ in range(4):
                upstream.script("workers-search", Reply(tool_calls=[ToolCall("web_search", '{"query":"workers"}')]),
                                Reply(text="found"))
                answer = http.post(f"{url}/v1/responses", json={"model": "scripted/workers-search", "input": "q",
                                                               "tools": [{"type": "web_search"}]})
                assert answer.json()["output"][0]["status"] == "completed", "every worker has the search API"
    finally:
        stop_server(process)
    assert len(upstream.bodies("workers")[-1]["messages"]) == 39



def _worker_pids(parent: int) -> list[int]:
    """uvicorn's worker processes under ``parent`` (multiprocessing's resource tracker aside)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rpartition(")")[2].split()[1])
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if ppid == parent and b"resource_tracker" not in command:
            pids.append(int(entry.name))
    return pids


ESTABLISHED, LISTENING = "01", "0A"


def _sockets(pid: int, port: int, state: str) -> int:
    """How many of ``pid``'s sockets on ``port`` are in ``state`` (as /proc/net/tcp spells it)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1].endswith(f":{port:04X}") and fields[3] == state and fields[9] in inodes:
            count += 1
    return count


def test_workers_share_the_keep_alive_connections_evenly(upstream, tmp_path: Path):
    config = {"providers": [{"id": "scripted", "base_url": upstream.url}], "db": f"sqlite:///{tmp_path / 'w.db'}"}
    process, url = start_server(config, log_path=tmp_path / "spread.log", extra_args=("--workers", "2"))
    port = int(url.rpartition(":")[2])
    connections = []
    try:
        deadline = time.monotonic() + 30
        while len(workers := _worker_pids(process.pid)) < 2 or not all(
                _sockets(pid, port, LISTENING) for pid in workers):
            assert time.monotonic() < deadline, "both workers listen"
            time.sleep(0.1)
        for _ in range(32):
            connection = socket.create_connection(("127.0.0.1", port))
            connection.sendall(b"GET /health HTTP/1.1\r\nhost: orrery\r\n\r\n")
            assert connection.recv(4096).startswith(b"HTTP/1.1 200")
            connections.append(connection)
        held = sorted(_sockets(pid, port, ESTABLISHED) for pid in workers)
        assert sum(held) == 32 and held[0] >= 6, f"connections per worker: {held}"
        second = subprocess.run([sys.executable, "-m", "orrery", "serve", "--workers", "2", "--port", str(port),
                                 "--db", f"sqlite:///{tmp_path / 'other.db'}", "--provider", f"x={upstream.url}"],
                                capture_output=True, text=True, timeout=60)
        assert second.returncode != 0 and f"127.0.0.1:{port} is already in use" in second.stderr, second.stderr
    finally:
        for connection in connections:
            connection.close()
        stop_server(process)


def test_bad_flags_fail_clearly(tmp_path: Path):
    result = subprocess.run([sys.executable, "-m", "orrery", "serve", "--provider", "no-equals-sign"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "--provider expects ID=BASE_URL" in result.stderr


def test_keep_alive_sets_how_long_an_idle_connection_stays_open(upstream, tmp_path: Path):
    config = {"providers": [{"id": "scripted", "base_url": upstream.url}], "db": f"sqlite:///{tmp_path / 'k.db'}",
              "data_dir": str(tmp_path), "keep_alive": 1}
    process, url = start_server(config, log_path=tmp_path / "keep-alive.log")
    try:
        host, port = url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as connection:
            connection.sendall(b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n")
            answer = b""
            while not answer.endswith(b'{"status":"ok"}'):
                answer += connection.recv(4096)
            assert answer.startswith(b"HTTP/1.1 200")
            started = time.monotonic()
            assert connection.recv(4096) == b"", "the server closes the idle connection"
            assert 0.5 < time.monotonic() - started < 4
    finally:
        stop_server(process)


@pytest.mark.parametrize("command", [("--help",), ("serve", "--help"), ("files", "list", "--help"),
                                     ("vector-stores", "--help"), ("keys", "--help"), ("recordings", "list", "--help")])
def test_help_imports_none_of_the_server(command: tuple[str, ...]):
    probe = ("import runpy, sys\n"
             f"sys.argv = ['orrery', *{command!r}]\n"
             "try:\n"
             "    runpy.run_module('orrery', run_name='__main__', alter_sys=True)\n"
             "except SystemExit as exc:\n"
             "    assert exc.code == 0, exc.code\n"
             f"print('imported:', *[m for m in {SERVER_MODULES!r} if m in sys.modules], file=sys.stderr)\n")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: orrery")
    assert result.stderr == "imported:\n"


def _env(**variables: str) -> dict[str, str]:
    """This environment without the variables that point a client command somewhere."""
    kept = {k: v for k, v in os.environ.items()
            if not k.startswith("ORRERY_") and k not in ("OPENAI_BASE_URL", "OPENAI_API_KEY")}
    return {**kept, **variables}


def test_client_commands_without_a_server_say_so_in_one_line(tmp_path: Path):
    port = free_port()
    note = tmp_path / "note.txt"
    note.write_text("Saturn")
    for args, env in [(("files", "list", "--url", f"http://127.0.0.1:{port}/v1"), _env()),
                      (("files", "upload", str(note)), _env(ORRERY_URL=f"http://127.0.0.1:{port}/")),
                      (("vector-stores", "create", "s", "--files", str(note)),
                       _env(OPENAI_BASE_URL=f"http://127.0.0.1:{port}/v1", OPENAI_API_KEY="sk-x")),
                      (("vector-stores", "search", "vs_1", "rings"), _env(ORRERY_URL=f"http://127.0.0.1:{port}"))]:
        result = subprocess.run([sys.executable, "-m", "orrery", *args], capture_output=True, text=True,
                                timeout=60, env=env)
        assert (result.returncode, result.stdout) == (1, ""), result.stderr
        assert result.stderr == f"orrery: no orrery at http://127.0.0.1:{port}: connection refused\n"


def test_a_reader_that_leaves_early_ends_the_listing_quietly(tmp_path: Path):
    recording = next((ROOT / "tests" / "recordings").glob("*.json")).read_bytes()
    for number in range(3000):
        (tmp_path / f"{number:064x}.json").write_bytes(recording)
    process = subprocess.Popen([sys.executable, "-m", "orrery", "recordings", "list", "--dir", str(tmp_path)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env())
    assert process.stdout is not None and process.stderr is not None
    first = process.stdout.readline()
    process.stdout.close()  # as `| head -1` does, with most of the listing still to write
    assert process.wait(timeout=60) == 141
    assert process.stderr.read() == b""
    assert first.startswith(b"000000000000  ")


def test_the_example_config_starts_a_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    example = ROOT / "orrery.example.yaml"
    text = example.read_text()

    def keys(shape: dict) -> list[str]:
        nested = [inner.keys if isinstance(inner, _Entries) else inner for inner in shape.values()]
        return [*shape, *(key for inner in nested if isinstance(inner, dict) for key in keys(inner))]

    assert [key for key in keys(_yaml_keys(Settings)) if f"{key}:" not in text] == [], "every key is shown"
    monkeypatch.setenv("ORRERY_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ORRERY_RECORDING_DIR", str(tmp_path / "recordings"))
    process, url = start_server({}, log_path=tmp_path / "example.log",
                                keep_env=("ORRERY_DATA_DIR", "ORRERY_RECORDING_DIR"),
                                extra_args=("--config", str(example), "--db", f"sqlite:///{tmp_path / 'example.db'}"))
    try:
        assert httpx.get(f"{url}/health").json() == {"status": "ok"}
    finally:
        stop_server(process)
