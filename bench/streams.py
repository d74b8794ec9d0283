"""Can one orrery worker hold thousands of slow streams, as real models send them?

Run from the repository root with the project's virtualenv::

    python bench/streams.py [--streams 1000 5000] [--tokens 200] [--ramp 500] [--json PATH]

It raises this process's open-file limit to its maximum (the children inherit it), then, for each
``--streams`` level, starts ``bench/upstream.py`` and a fresh ``orrery serve`` worker (as
``bench/overhead.py`` does) and runs twice: directly against the upstream's ``/v1/chat/completions``, then through
orrery's ``/v1/responses`` (streamed and stored). Each time it opens that many streams at
``--ramp`` new ones a second, each its own connection, each a model ``timed-TOKENS-MS`` with MS
spread over 20–50 ms (20 to 50 tokens a second): the upstream writes every one-token delta with
the time it wrote it, so this process, reading every stream with a light raw-asyncio client, knows
each token's latency (written by the upstream → read here, on the machine's one monotonic clock).

Per run it prints: errors (a status other than 200, a stream without its last event, or with
fewer deltas), the most streams open at once, each token's latency p50 / p99 / max, and for
orrery the p99 it adds (its p99 minus the direct run's at the same level); orrery's CPU over the
run in % of one core; its resident memory per open stream (its RSS when the most streams were
open, less its RSS before, over that count); and its event loop's lag, as the time a
``GET /health`` sent every 50 ms on a connection of its own took, less that time when idle
(p50 / p99 / max). The target: no error, an added p99 of at most 5 ms, at most 64 KB a stream.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import cast

import orjson

from overhead import CLOCK_TICKS, group_cpu_seconds, orrery_process, upstream_process
from upstream import event_loop_runner

PAUSES_MS = range(20, 51, 5)
HEALTH_EVERY_S = 0.05
TARGET_ADDED_P99_MS = 5.0
TARGET_BYTES_PER_STREAM = 64 * 1024
STAMP_DIGITS = 20


@dataclass
class Run:
    target: str
    streams: int
    errors: int = 0
    most_open: int = 0
    latency_ms: dict[str, float] = field(default_factory=dict)
    added_p99_ms: float | None = None
    cpu_pct: float | None = None
    bytes_per_stream: float | None = None
    loop_lag_ms: dict[str, float] = field(default_factory=dict)


class Stream(asyncio.Protocol):
    """One streamed request on its own connection: the latency of each timed delta it reads."""

    def __init__(self, request: bytes, marker: bytes, end: bytes, latencies: list[int],
                 done: asyncio.Future[bool]) -> None:
        self._request = request
        self._marker = marker
        self._end = end
        self._latencies = latencies
        self._done = done
        self._buffer = b""
        self._status_ok: bool | None = None
        self.deltas = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        cast(asyncio.Transport, transport).write(self._request)

    def data_received(self, data: bytes) -> None:
        now = time.monotonic_ns()
        if self._status_ok is None:
            self._status_ok = data.startswith(b"HTTP/1.1 200")
        *lines, self._buffer = (self._buffer + data).split(b"\n")
        for line in lines:
            at = line.find(self._marker)
            if at >= 0:
                digits = line[at + len(self._marker):at + len(self._marker) + STAMP_DIGITS]
                if digits.isdigit():
                    self._latencies.append(now - int(digits))
                    self.deltas += 1
            elif line.startswith(self._end) and not self._done.done():
                self._done.set_result(bool(self._status_ok))

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._done.done():
            self._done.set_result(False)


def _request(port: int, path: str, body: dict[str, object]) -> bytes:
    raw = orjson.dumps(body)
    return (f"POST {path} HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\ncontent-type: application/json\r\n"
            f"content-length: {len(raw)}\r\nconnection: close\r\n\r\n").encode() + raw


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)
    return {"p50": ordered[len(ordered) // 2], "p99": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
            "max": ordered[-1]}


async def _health_rtts(port: int, stop: asyncio.Event, rtts: list[float]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while not stop.is_set():
            started = time.perf_counter()
            writer.write(b"GET /health HTTP/1.1\r\nhost: orrery\r\n\r\n")
            await reader.readuntil(b"\r\n\r\n")
            await reader.readexactly(len(b'{"status":"ok"}'))
            rtts.append((time.perf_counter() - started) * 1000)
            await asyncio.sleep(HEALTH_EVERY_S)
    finally:
        writer.close()


def _rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


async def run_streams(target: str, port: int, streams: int, tokens: int, ramp: float,
                      orrery_pid: int | None) -> Run:
    loop = asyncio.get_running_loop()
    latencies: list[int] = []
    done: list[asyncio.Future[bool]] = []
    protocols: list[Stream] = []
    open_now = 0
    run = Run(target, streams)
    samples: list[tuple[int, int]] = []
    stop = asyncio.Event()
    rtts: list[float] = []
    idle_rtts: list[float] = []
    if orrery_pid is not None:
        probe = asyncio.ensure_future(_health_rtts(port, stop, idle_rtts))
        await asyncio.sleep(1.0)
        stop.set()
        await probe
        stop.clear()
        idle_rss = _rss_bytes(orrery_pid)
        health = asyncio.ensure_future(_health_rtts(port, stop, rtts))
        cpu_before = sum(group_cpu_seconds(os.getpgid(orrery_pid)).values())
    started = time.monotonic()

    def finished(_: asyncio.Future[bool]) -> None:
        nonlocal open_now
        open_now -= 1

    async def sample() -> None:
        while not stop.is_set():
            run.most_open = max(run.most_open, open_now)
            if orrery_pid is not None:
                samples.append((open_now, _rss_bytes(orrery_pid)))
            await asyncio.sleep(0.1)

    sampler = asyncio.ensure_future(sample())
    for index in range(streams):
        model = f"timed-{tokens}-{random.choice(PAUSES_MS)}"
        if orrery_pid is None:
            request = _request(port, "/v1/chat/completions", {"model": model, "stream": True,
                                                               "messages": [{"role": "user", "content": "hello"}]})
            marker, end = b'"content":"', b"data: [DONE]"
        else:
            request = _request(port, "/v1/responses", {"model": f"up/{model}", "input": "hello", "stream": True})
            marker, end = b'"delta":"', b"event: response.completed"
        future: asyncio.Future[bool] = loop.create_future()
        future.add_done_callback(finished)
        protocol = Stream(request, marker, end, latencies, future)
        try:
            await loop.create_connection(lambda p=protocol: p, "127.0.0.1", port)  # type: ignore[misc]
        except OSError:
            future.set_result(False)
        open_now += 1
        done.append(future)
        protocols.append(protocol)
        wait = started + (index + 1) / ramp - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
    results = await asyncio.gather(*done)
    seconds = time.monotonic() - started
    stop.set()
    await sampler
    run.errors = sum(not ok or p.deltas != tokens for ok, p in zip(results, protocols, strict=True))
    run.latency_ms = percentiles([ns / 1e6 for ns in latencies])
    if orrery_pid is not None:
        await health
        cpu = sum(group_cpu_seconds(os.getpgid(orrery_pid)).values()) - cpu_before
        run.cpu_pct = 100 * cpu / seconds
        most, rss = max(samples, default=(0, idle_rss))
        run.bytes_per_stream = (rss - idle_rss) / most if most else None
        idle = percentiles(idle_rtts).get("p50", 0.0)
        run.loop_lag_ms = {k: max(0.0, v - idle) for k, v in percentiles(rtts).items()}
    return run


def table(runs: list[Run]) -> str:
    lines = [f"{'target':<8} {'streams':>7} {'err':>4} {'open':>5} {'latency p50/p99/max ms':>24} "
             f"{'+p99 ms':>8} {'cpu%':>5} {'KB/stream':>9} {'loop lag p50/p99/max ms':>24}", "-" * 104]
    for r in runs:
        lat = "/".join(f"{r.latency_ms.get(k, 0):.1f}" for k in ("p50", "p99", "max"))
        lag = "/".join(f"{r.loop_lag_ms.get(k, 0):.1f}" for k in ("p50", "p99", "max")) if r.loop_lag_ms else ""
        added = f"{r.added_p99_ms:.1f}" if r.added_p99_ms is not None else ""
        cpu = f"{r.cpu_pct:.0f}" if r.cpu_pct is not None else ""
        kb = f"{r.bytes_per_stream / 1024:.1f}" if r.bytes_per_stream is not None else ""
        lines.append(f"{r.target:<8} {r.streams:>7} {r.errors:>4} {r.most_open:>5} {lat:>24} {added:>8} {cpu:>5} "
                     f"{kb:>9} {lag:>24}")
    return "\n".join(lines)


def verdicts(runs: list[Run]) -> str:
    lines = [f"targets: no error, added p99 <= {TARGET_ADDED_P99_MS:g} ms, <= {TARGET_BYTES_PER_STREAM // 1024} KB "
             "per open stream"]
    for r in runs:
        if r.target != "orrery":
            continue
        ok = (r.errors == 0 and r.added_p99_ms is not None and r.added_p99_ms <= TARGET_ADDED_P99_MS
              and r.bytes_per_stream is not None and r.bytes_per_stream <= TARGET_BYTES_PER_STREAM)
        lines.append(f"  {r.streams:>5} streams: {'ok' if ok else 'MISSED'}")
    return "\n".join(lines)


async def measure(upstream_port: int, orrery_port: int, orrery_pid: int, streams: int, tokens: int,
                  ramp: float) -> list[Run]:
    direct = await run_streams("direct", upstream_port, streams, tokens, ramp, None)
    through = await run_streams("orrery", orrery_port, streams, tokens, ramp, orrery_pid)
    if direct.latency_ms and through.latency_ms:
        through.added_p99_ms = through.latency_ms["p99"] - direct.latency_ms["p99"]
    print(table([direct, through]).splitlines()[-1], file=sys.stderr)
    return [direct, through]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Thousands of slow streams through one orrery worker.")
    parser.add_argument("--streams", type=int, nargs="+", default=[1000, 5000], help="levels (default 1000 5000)")
    parser.add_argument("--tokens", type=int, default=200, help="deltas a stream (default 200)")
    parser.add_argument("--ramp", type=float, default=500.0, help="streams opened a second (default 500)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the runs as JSON")
    args = parser.parse_args(argv)
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    random.seed(0)
    runs: list[Run] = []
    for streams in args.streams:
        with tempfile.TemporaryDirectory(prefix="orrery-streams-") as tmp:
            workdir = Path(tmp)
            with upstream_process(workdir) as (_, upstream_port), \
                    orrery_process(workdir, upstream_port, 1) as (orrery, orrery_port):
                runs += event_loop_runner()(measure(upstream_port, orrery_port, orrery.pid, streams, args.tokens,
                                                    args.ramp))
    print(table(runs))
    print()
    print(verdicts(runs))
    if args.json:
        args.json.write_text(json.dumps({"clock_ticks": CLOCK_TICKS, "runs": [asdict(r) for r in runs]}, indent=2))


if __name__ == "__main__":
    main()
