"""Background responses across ``orrery serve`` processes on one store (SQLite and PostgreSQL):
any process takes queued runs, streams resume on another process than the one running them,
cancellation reaches the run wherever it is, chains and conversations alternate processes, and a
process SIGKILLed under load loses no response and leaves none unfinished past its lease.

Each process calls the scripted upstream under a base URL of its own, so the upstream tells which
process ran each response.
"""

from __future__ import annotations

import itertools
import os
import signal
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import openai

from conftest import Server, start_server, stop_server, upstream_name
from scripted_upstream import Reply, ScriptedUpstream
from wire import check_events, output_text, wait_for_status
from wire import resumed as resumed_stream

LEASE = 1.0
ABANDONED = "The server running this response stopped before it finished."


@contextmanager
def processes(upstream: ScriptedUpstream, db_url: str, tmp_path: Path, names: list[str],
              concurrency: int = 64, own_key: frozenset[str] = frozenset()) -> Iterator[dict[str, tuple[Server, Any]]]:
    """Servers on one store and one data directory (so one state key; those in ``own_key`` have a
    data directory, so a key, of their own), stopped on exit."""
    with ExitStack() as stack:
        started: dict[str, tuple[Server, Any]] = {}
        for name in names:
            data_dir = tmp_path / (f"data-{name}" if name in own_key else "data")
            config = {"providers": [{"id": "scripted", "base_url": upstream.caller_url(name), "timeout": 5}],
                      "db": db_url, "data_dir": str(data_dir), "response_lease": LEASE,
                      "background": {"concurrency": concurrency, "poll": 0.05}}
            process, url = start_server(config, log_path=tmp_path / f"{name}.log")
            stack.callback(stop_server, process)
            started[name] = (Server(url=url, backend="shared", db_url=db_url, pid=process.pid), process)
        yield started


def client(server: Server) -> openai.OpenAI:
    return server.client(timeout=30)


def wait_for(server: Server, response_id: str, *statuses: str, seconds: float = 20) -> dict[str, Any]:
    return wait_for_status(server.base_url, response_id, *statuses, seconds=seconds)


def resumed(server: Server, response_id: str, after: int | None = None) -> list[dict[str, Any]]:
    return resumed_stream(server.base_url, response_id, after)


def test_queued_runs_go_to_any_process_and_streams_resume_on_another(upstream, model, db_url, tmp_path) -> None:
    name = upstream_name(model)
    upstream.script(name, *[Reply(text=f"answer {i}", chunk=3, delay=0.05) for i in range(4)])
    with processes(upstream, db_url, tmp_path, ["a", "b"], concurrency=1) as started:
        a, b = started["a"][0], started["b"][0]
        ids = [client(a).responses.create(model=model, input=f"q{i}", background=True).id for i in range(4)]
        # every run, followed from the process that did not create it
        for response_id in ids:
            final = check_events(resumed(b, response_id), background=True)
            assert final["status"] == "completed"
        assert sorted(output_text(wait_for(a, i, "completed")) for i in ids) == [f"answer {i}" for i in range(4)]
        callers = Counter(upstream.callers(name))
        assert set(callers) == {"a", "b"}, callers  # a runs one at a time: b took some of a's


def test_a_process_with_another_state_key_leaves_the_queue_alone(upstream, model, db_url, tmp_path) -> None:
    """It could not open the sealed requests: the processes holding their key run them."""
    name = upstream_name(model)
    upstream.script(name, *[Reply(text=f"answer {i}", chunk=3, delay=0.05) for i in range(3)])
    with processes(upstream, db_url, tmp_path, ["a", "stranger"], concurrency=1,
                   own_key=frozenset({"stranger"})) as started:
        a = started["a"][0]
        ids = [client(a).responses.create(model=model, input=f"q{i}", background=True).id for i in range(3)]
        assert sorted(output_text(wait_for(a, i, "completed")) for i in ids) == [f"answer {i}" for i in range(3)]
    assert upstream.callers(name) == ["a", "a", "a"]


def test_cancel_reaches_the_process_running_the_response(upstream, model, db_url, tmp_path) -> None:
    name = upstream_name(model)
    upstream.script(name, Reply(text="y" * 600, chunk=2, delay=0.03))
    with processes(upstream, db_url, tmp_path, ["a", "b"]) as started:
        servers = {key: server for key, (server, _) in started.items()}
        queued = client(servers["a"]).responses.create(model=model, input="long", background=True)
        deadline = time.monotonic() + 10
        while not upstream.callers(name):
            assert time.monotonic() < deadline
            time.sleep(0.02)
        running_on = upstream.callers(name)[0]
        elsewhere = servers["b" if running_on == "a" else "a"]
        cancelled = client(elsewhere).responses.cancel(queued.id)
        assert cancelled.status == "cancelled"
        stored = wait_for(servers[running_on], queued.id, "cancelled")
        assert len(output_text(stored)) < 300, "the run stopped"
        events = resumed(elsewhere, queued.id)
        assert events[0]["type"] == "response.created" and events[-1]["type"] != "response.completed"


def test_a_queued_response_is_cancelled_before_it_runs(upstream, model, db_url, tmp_path) -> None:
    name = upstream_name(model)
    upstream.script(name, Reply(text="first", chunk=1, delay=0.1))
    with processes(upstream, db_url, tmp_path, ["only"], concurrency=1) as started:
        server = started["only"][0]
        busy = client(server).responses.create(model=model, input="one", background=True)
        waiting = client(server).responses.create(model=model, input="two", background=True)
        assert client(server).responses.retrieve(waiting.id).status == "queued"
        assert client(server).responses.cancel(waiting.id).status == "cancelled"
        wait_for(server, busy.id, "completed")
        time.sleep(0.3)
        assert client(server).responses.retrieve(waiting.id).status == "cancelled"
        assert len(upstream.bodies(name)) == 1, "the cancelled response never ran"
        assert [event["type"] for event in resumed(server, waiting.id)] == ["response.created", "response.queued"]


def test_chains_and_conversations_alternate_processes(upstream, model, db_url, tmp_path) -> None:
    name = upstream_name(model)
    with processes(upstream, db_url, tmp_path, ["a", "b", "c"]) as started:
        servers = itertools.cycle([server for server, _ in started.values()])
        previous = None
        for turn in range(6):
            upstream.script(name, Reply(text=f"chain {turn}"))
            server = next(servers)
            if turn % 2:
                previous = client(server).responses.create(model=model, input=f"c{turn}",
                                                           previous_response_id=previous).id
            else:
                queued = client(server).responses.create(model=model, input=f"c{turn}", background=True,
                                                         previous_response_id=previous)
                previous = wait_for(server, queued.id, "completed")["id"]
        messages = upstream.bodies(name)[-1]["messages"]
        assert [m["content"] for m in messages] == [x for t in range(5) for x in (f"c{t}", f"chain {t}")] + ["c5"]

        conversation = client(next(servers)).conversations.create().id
        for turn in range(6):
            upstream.script(name, Reply(text=f"conv {turn}"))
            server = next(servers)
            created = client(server).responses.create(model=model, input=f"t{turn}", conversation=conversation,
                                                      background=bool(turn % 2))
            wait_for(server, created.id, "completed")
        items = client(next(servers)).conversations.items.list(conversation, order="asc", limit=100).data
        texts = [item.content[0].text for item in items]
        assert texts == [x for t in range(6) for x in (f"t{t}", f"conv {t}")]


def test_a_process_killed_under_load_loses_no_response(upstream, model, db_url, tmp_path) -> None:
    name = upstream_name(model)
    upstream.script(name, *[Reply(text="slow " * 30, chunk=5, delay=0.05) for _ in range(30)])
    with processes(upstream, db_url, tmp_path, ["a", "b", "c"], concurrency=4) as started:
        servers = [server for server, _ in started.values()]
        doomed, process = started["c"]
        with ThreadPoolExecutor(6) as pool:
            ids = list(pool.map(lambda i: client(servers[i % 3]).responses.create(
                model=model, input=f"job {i}", background=True).id, range(30)))
        deadline = time.monotonic() + 10
        while "c" not in upstream.callers(name):
            assert time.monotonic() < deadline
            time.sleep(0.02)
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        survivor = servers[0]
        ended = [wait_for(survivor, response_id, "completed", "failed", seconds=30) for response_id in ids]
        statuses = Counter(response["status"] for response in ended)
        assert statuses["completed"] >= 20, statuses
        for response in ended:
            if response["status"] == "failed":
                assert response["error"]["message"] == ABANDONED
                events = resumed(survivor, response["id"])
                assert events[-1]["type"] == "response.failed"
            else:
                assert output_text(response) == "slow " * 30
        assert set(upstream.callers(name)) == {"a", "b", "c"}


def test_the_next_start_runs_what_a_killed_server_left_queued(upstream, model, db_url, tmp_path) -> None:
    """One server alone: killed with one run going and two queued, then started again."""
    name = upstream_name(model)
    upstream.script(name, Reply(text="cut short " * 40, chunk=4, delay=0.05), Reply(text="second"),
                    Reply(text="third"))
    with processes(upstream, db_url, tmp_path, ["only"], concurrency=1) as started:
        server, process = started["only"]
        ids = [client(server).responses.create(model=model, input=f"job {i}", background=True).id for i in range(3)]
        wait_for(server, ids[0], "in_progress")
        assert [client(server).responses.retrieve(i).status for i in ids[1:]] == ["queued", "queued"]
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    with processes(upstream, db_url, tmp_path, ["only"], concurrency=1) as started:
        server = started["only"][0]
        first = wait_for(server, ids[0], "failed")
        assert first["error"]["message"] == ABANDONED
        assert [output_text(wait_for(server, i, "completed")) for i in ids[1:]] == ["second", "third"]
