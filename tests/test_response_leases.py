"""A response whose server process dies is marked failed by another, and frees its conversation."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from conftest import provider_config, start_server, stop_server, upstream_name
from scripted_upstream import Reply
from wire import check_response

LEASE = 1.0


def serve(upstream, db_url: str, tmp_path, name: str, lease: float = LEASE):
    config = {"providers": provider_config(upstream), "db": db_url, "response_lease": lease,
              "data_dir": str(tmp_path / "data")}
    return start_server(config, log_path=tmp_path / f"{name}.log")


def wait_for_status(url: str, response_id: str, wanted: str, seconds: float = 15) -> dict:
    deadline = time.monotonic() + seconds
    while True:
        stored = httpx.get(f"{url}/v1/responses/{response_id}").json()
        if stored.get("status") == wanted:
            return stored
        assert time.monotonic() < deadline, stored
        time.sleep(0.05)


@contextmanager
def streaming_on_a_conversation(url: str, model: str) -> Iterator[tuple[str, str, httpx.Response]]:
    """A response streaming on a new conversation: the conversation's id, the response's, the answer."""
    conversation = httpx.post(f"{url}/v1/conversations", json={}).json()["id"]
    with httpx.Client(timeout=30) as http:
        with http.stream("POST", f"{url}/v1/responses", json={
                "model": model, "input": "x", "stream": True, "conversation": conversation}) as answer:
            yield conversation, answer.headers["x-response-id"], answer


def killed_mid_stream(process, url: str, upstream, model: str) -> tuple[str, str]:
    """A slow response streaming on a new conversation, its server SIGKILLed at its first delta:
    the conversation's id and the response's."""
    upstream.script(upstream_name(model), Reply(text="slow " * 100, chunk=5, delay=0.1))
    with streaming_on_a_conversation(url, model) as (conversation, response_id, answer):
        for line in answer.iter_lines():
            if "output_text.delta" in line:
                wait_for_status(url, response_id, "in_progress")
                os.kill(process.pid, signal.SIGKILL)
                process.wait()
                return conversation, response_id
    raise AssertionError("the response never streamed")


def test_a_response_left_by_a_killed_server_is_failed_and_frees_its_conversation(upstream, model, db_url, tmp_path):
    process, url = serve(upstream, db_url, tmp_path, "doomed")
    conversation, response_id = killed_mid_stream(process, url, upstream, model)
    survivor, url = serve(upstream, db_url, tmp_path, "survivor")
    try:
        failed = wait_for_status(url, response_id, "failed")
        check_response(failed)
        assert failed["error"] == {"code": "server_error",
                                   "message": "The server running this response stopped before it finished."}
        upstream.script(upstream_name(model), Reply(text="fresh start"))
        answer = httpx.post(f"{url}/v1/responses", json={"model": model, "input": "again",
                                                         "conversation": conversation})
        assert answer.status_code == 200, answer.text
        assert answer.json()["output"][0]["content"][0]["text"] == "fresh start"
    finally:
        stop_server(survivor)


def test_a_response_running_longer_than_its_lease_keeps_it_and_its_conversation(upstream, model, db_url, tmp_path):
    process, url = serve(upstream, db_url, tmp_path, "healthy")
    try:
        upstream.script(upstream_name(model), Reply(text="steady " * 26, chunk=7, delay=0.12))
        with streaming_on_a_conversation(url, model) as (conversation, response_id, answer):
            started = time.monotonic()
            statuses = []
            for _ in answer.iter_lines():
                if time.monotonic() - started > 2.5 * LEASE and not statuses:
                    statuses.append(httpx.get(f"{url}/v1/responses/{response_id}").json()["status"])
                    statuses.append(httpx.post(f"{url}/v1/responses", json={
                        "model": model, "input": "y", "conversation": conversation}).status_code)
        assert statuses == ["in_progress", 409], "the lease and the conversation's hold were renewed"
        stored = wait_for_status(url, response_id, "completed")
        check_response(stored)
        assert stored["output"][0]["content"][0]["text"] == "steady " * 26
        assert stored["usage"]["total_tokens"] > 0 and stored["completed_at"] is not None
    finally:
        stop_server(process)


def test_a_killed_servers_response_is_failed_by_its_missed_heartbeats_long_before_its_lease(
        upstream, model, db_url, tmp_path):
    """With a 60-second lease, another server fails it within seconds: its process stopped beating."""
    survivor, survivor_url = serve(upstream, db_url, tmp_path, "survivor", lease=60)
    doomed, url = serve(upstream, db_url, tmp_path, "doomed", lease=60)
    try:
        _, response_id = killed_mid_stream(doomed, url, upstream, model)
        killed_at = time.monotonic()
        failed = wait_for_status(survivor_url, response_id, "failed", seconds=30)
        assert time.monotonic() - killed_at < 20, "failed by the heartbeats, not the 60 s lease"
        assert failed["error"]["message"] == "The server running this response stopped before it finished."
    finally:
        stop_server(survivor)
