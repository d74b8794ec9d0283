"""How much latency does orrery add on top of a direct upstream call?

Run from the repository root with the project's virtualenv::

    python bench/overhead.py [--quick] [--workers N] [--client raw|httpx] [--json PATH]

It starts two real processes on 127.0.0.1, each in its own process group:

* ``bench/upstream.py``, a zero-latency OpenAI-compatible upstream answering every chat
  completion with the same canned SSE stream (a separate process, so it never shares a GIL with
  the load generator or orrery);
* ``python -m orrery serve --config CFG.yaml --port P --log-level warning --workers N`` with that
  upstream as provider ``up`` and a fresh SQLite store in a temporary directory.

Then, from this process, it sends a fixed number of requests (after a warm-up) at concurrency 1
and at ``--concurrency`` (default 32), one keep-alive connection per concurrent worker, to:

* ``direct``: the upstream's streamed ``/v1/chat/completions`` (usage chunk included);
* ``orrery``: ``/v1/responses`` with ``"model": "up/m", "input": "hello"``, non-streaming and
  streaming, with ``store`` true and false.

Every body is read to its end and checked (status 200 and the terminal event). Per run it prints
p50/p99 latency, p50 time to first body byte (for orrery streaming that is the
``response.created`` event), requests/s, orrery's p50 minus direct p50 at the same concurrency
and the ratios orrery/direct of p50 and of requests/s. From /proc it adds the CPU milliseconds
per request spent by orrery (all its processes), the upstream and this load generator; ``top%``,
the busiest orrery process's share of orrery's CPU (with ``--workers 2``, 50 is an even split:
uvicorn workers share the listening socket, so the keep-alive connections, and with them the
load, can land unevenly); and ``other%``, CPU used by anything else on the machine during the
run, in % of one core (shown when the run lasts at least 100 clock ticks): when it is not near
0 something else competed for the cores and the run should be repeated.

The project's targets are checked at the end: added p50 <= 2 ms at c=1 and >= 500 requests/s at
c=32. (At c=32 the p50 is mostly queueing, about 32 / throughput, so it is shown, not judged.)

The default load generator is a raw asyncio HTTP/1.1 client (uvloop + httptools): httpx costs
0.5 ms (c=1) to 2 ms (c=32) of CPU per request, which on two cores takes CPU from the servers
and caps the direct baseline near 500 requests/s; ``--client httpx`` uses httpx.AsyncClient.
Child processes are stopped on exit, on Ctrl-C and on SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import math
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any, cast

import httptools
import httpx
import orjson

from upstream import event_loop_runner

BENCH_DIR = Path(__file__).resolve().parent
TARGET_ADDED_P50_MS = 2.0
TARGET_RPS = 500.0
HEALTH_TRIES = 300
HEALTH_PAUSE_S = 0.1
STOP_TIMEOUT_S = 10.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
MIN_WALL_FOR_OTHER_S = 100 / CLOCK_TICKS


@dataclass(frozen=True)
class Target:
    """One kind of request: where it goes, its body, and a byte string a good answer contains."""

    name: str
    host: str
    port: int
    path: str
    body: bytes
    done_marker: bytes

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}{self.path}"

    def raw_request(self) -> bytes:
        head = (f"POST {self.path} HTTP/1.1\r\nhost: {self.host}:{self.port}\r\n"
                f"content-type: application/json\r\ncontent-length: {len(self.body)}\r\n\r\n")
        return head.encode() + self.body


@dataclass(frozen=True)
class Sample:
    total_ns: int
    ttfb_ns: int
    ok: bool


@dataclass(frozen=True)
class Result:
    target: str
    concurrency: int
    requests: int
    errors: int
    p50_ms: float
    p99_ms: float
    ttfb_p50_ms: float
    rps: float
    orrery_cpu_ms: float
    busiest_worker_pct: float
    upstream_cpu_ms: float
    client_cpu_ms: float
    other_cpu_pct: float | None


Send = Callable[[], Awaitable[Sample]]
OpenSenders = Callable[[Target, int], AbstractAsyncContextManager[list[Send]]]


# targets


def direct_target(port: int) -> Target:
    body = {"model": "m", "messages": [{"role": "user", "content": "hello"}], "stream": True,
            "stream_options": {"include_usage": True}}
    return Target("direct", "127.0.0.1", port, "/v1/chat/completions", orjson.dumps(body), b"data: [DONE]")


def orrery_target(port: int, *, stream: bool, store: bool) -> Target:
    body = {"model": "up/m", "input": "hello", "store": store, "stream": stream}
    marker = b"event: response.completed" if stream else b'"status":"completed"'
    name = f"orrery {'stream' if stream else 'json'} store={str(store).lower()}"
    return Target(name, "127.0.0.1", port, "/v1/responses", orjson.dumps(body), marker)


# child processes


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return cast(int, sock.getsockname()[1])


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the child's whole process group (uvicorn workers included), SIGKILL if it lingers."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(STOP_TIMEOUT_S)
            return
        except subprocess.TimeoutExpired:
            continue


@contextmanager
def child(command: list[str], log: Path, *, stdout_pipe: bool = False) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as log_file:
        process = subprocess.Popen(command, stdout=subprocess.PIPE if stdout_pipe else log_file,
                                   stderr=log_file, start_new_session=True, cwd=BENCH_DIR.parent)
        try:
            yield process
        finally:
            stop(process)
            if process.stdout is not None:
                process.stdout.close()


def log_tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:]


@contextmanager
def upstream_process(workdir: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    log = workdir / "upstream.log"
    with child([sys.executable, str(BENCH_DIR / "upstream.py")], log, stdout_pipe=True) as process:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.strip().isdigit():
            raise RuntimeError(f"upstream did not start:\n{log_tail(log)}")
        yield process, int(line)


def wait_healthy(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    for _ in range(HEALTH_TRIES):
        if process.poll() is not None:
            raise RuntimeError(f"orrery exited with {process.returncode}:\n{log_tail(log)}")
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
        try:
            connection.request("GET", "/health")
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        finally:
            connection.close()
        time.sleep(HEALTH_PAUSE_S)
    raise RuntimeError(f"orrery not healthy after {HEALTH_TRIES * HEALTH_PAUSE_S:.0f}s:\n{log_tail(log)}")


@contextmanager
def orrery_process(workdir: Path, upstream_port: int, workers: int, *, name: str = "orrery",
                   recording: dict[str, str] | None = None, settings: dict[str, Any] | None = None,
                   under: tuple[str, ...] = (), log_level: str = "warning",
                   ) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """``recording`` is the YAML ``recording`` section (mode and dir); none means live.
    ``settings``: more of the YAML, over the defaults (its own SQLite file in ``workdir``).
    ``under``: a command orrery runs under (``valgrind …``); ``log_level``: ``info`` writes the
    line each response ends with (to ``workdir``)."""
    config = workdir / f"{name}.yaml"
    config.write_text(json.dumps({
        "providers": [{"id": "up", "base_url": f"http://127.0.0.1:{upstream_port}/v1"}],
        "db": f"sqlite:///{workdir}/{name}.db",
        **({"recording": recording} if recording else {}),
        **(settings or {}),
    }))
    port = free_port()
    log = workdir / f"{name}.log"
    command = [*under, sys.executable, "-m", "orrery", "serve", "--config", str(config), "--port", str(port),
               "--log-level", log_level, "--workers", str(workers)]
    with child(command, log) as process:
        wait_healthy(process, port, log)
        yield process, port


def process_stats() -> Iterator[tuple[int, list[str]]]:
    """Every live process's pid and its /proc/PID/stat fields after the command name (``state`` is
    field 0, ``ppid`` 1, ``pgrp`` 2, ``utime`` 11, ``stime`` 12, ``cutime`` 13, ``cstime`` 14)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            yield int(entry.name), (entry / "stat").read_text().rsplit(") ", 1)[1].split()
        except (OSError, IndexError):
            continue


def group_cpu_seconds(pgid: int) -> dict[int, float]:
    """User + system CPU of every live process in the process group, by pid, from /proc."""
    return {pid: (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
            for pid, fields in process_stats() if int(fields[2]) == pgid}


# load generators


class RawConnection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection sending a request and reading the whole answer."""

    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.done: asyncio.Future[None] | None = None
        self.chunks: list[bytes] = []
        self.first_byte_ns = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.parser.feed_data(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.done is not None and not self.done.done():
            self.done.set_exception(ConnectionError(f"server closed the connection: {exc!r}"))

    def on_body(self, body: bytes) -> None:
        if not self.chunks:
            self.first_byte_ns = time.perf_counter_ns()
        self.chunks.append(body)

    def on_message_complete(self) -> None:
        assert self.done is not None
        self.done.set_result(None)

    async def send(self, request: bytes, done_marker: bytes) -> Sample:
        assert self.transport is not None
        self.chunks = []
        self.done = asyncio.get_running_loop().create_future()
        start = time.perf_counter_ns()
        self.transport.write(request)
        await self.done
        end = time.perf_counter_ns()
        ok = self.parser.get_status_code() == 200 and done_marker in b"".join(self.chunks)
        return Sample(end - start, self.first_byte_ns - start, ok)


@asynccontextmanager
async def raw_senders(target: Target, concurrency: int) -> AsyncIterator[list[Send]]:
    loop = asyncio.get_running_loop()
    request = target.raw_request()
    connections: list[RawConnection] = []
    try:
        for _ in range(concurrency):
            _, connection = await loop.create_connection(RawConnection, target.host, target.port)
            connections.append(connection)
        yield [partial(connection.send, request, target.done_marker) for connection in connections]
    finally:
        for connection in connections:
            if connection.transport is not None:
                connection.transport.close()


@asynccontextmanager
async def httpx_senders(target: Target, concurrency: int) -> AsyncIterator[list[Send]]:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    headers = {"content-type": "application/json"}
    async with httpx.AsyncClient(limits=limits, timeout=60, trust_env=False) as client:
        async def send() -> Sample:
            chunks: list[bytes] = []
            first_byte_ns = 0
            start = time.perf_counter_ns()
            async with client.stream("POST", target.url, content=target.body, headers=headers) as response:
                async for chunk in response.aiter_raw():
                    if not chunks:
                        first_byte_ns = time.perf_counter_ns()
                    chunks.append(chunk)
            end = time.perf_counter_ns()
            ok = response.status_code == 200 and target.done_marker in b"".join(chunks)
            return Sample(end - start, first_byte_ns - start, ok)

        yield [send] * concurrency


CLIENTS: dict[str, OpenSenders] = {"raw": raw_senders, "httpx": httpx_senders}


# measurement


async def drive(senders: list[Send], count: int) -> list[Sample]:
    """Send exactly ``count`` requests, each sender taking the next one when it is free."""
    jobs = iter(range(count))

    async def worker(send: Send) -> list[Sample]:
        return [await send() for _ in jobs]

    batches = await asyncio.gather(*(worker(send) for send in senders))
    return [sample for batch in batches for sample in batch]


def percentile(sorted_values: list[int], q: float) -> float:
    """Nearest-rank percentile, in milliseconds."""
    index = min(len(sorted_values) - 1, max(0, math.ceil(q * len(sorted_values)) - 1))
    return sorted_values[index] / 1e6


def machine_busy_seconds() -> float:
    """CPU time spent by all processes on the machine (everything but idle and iowait), from /proc/stat."""
    ticks = [int(field) for field in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return (sum(ticks) - ticks[3] - ticks[4]) / CLOCK_TICKS


@dataclass(frozen=True)
class CpuReading:
    orrery: dict[int, float]
    upstream: float
    client: float
    machine: float


@dataclass(frozen=True)
class CpuProbes:
    orrery_pgid: int
    upstream_pgid: int

    def read(self) -> CpuReading:
        return CpuReading(group_cpu_seconds(self.orrery_pgid), sum(group_cpu_seconds(self.upstream_pgid).values()),
                          time.process_time(), machine_busy_seconds())


def busiest_share_pct(before: dict[int, float], after: dict[int, float]) -> float:
    """The busiest orrery process's share of orrery's CPU: 100 with one worker, 50 when two share evenly."""
    used = [seconds - before.get(pid, 0.0) for pid, seconds in after.items()]
    return 100 * max(used) / sum(used) if sum(used) > 0 else 100.0


async def measure(open_senders: OpenSenders, target: Target, concurrency: int, warmup: int, count: int,
                  probes: CpuProbes) -> Result:
    async with open_senders(target, concurrency) as senders:
        await drive(senders, warmup)
        before = probes.read()
        start = time.perf_counter_ns()
        samples = await drive(senders, count)
        wall_s = (time.perf_counter_ns() - start) / 1e9
        after = probes.read()
    orrery = sum(after.orrery.values()) - sum(before.orrery.values())
    upstream, client = after.upstream - before.upstream, after.client - before.client
    other = after.machine - before.machine - orrery - upstream - client
    totals = sorted(s.total_ns for s in samples)
    return Result(
        target=target.name, concurrency=concurrency, requests=count, errors=sum(not s.ok for s in samples),
        p50_ms=percentile(totals, 0.50), p99_ms=percentile(totals, 0.99),
        ttfb_p50_ms=percentile(sorted(s.ttfb_ns for s in samples), 0.50), rps=count / wall_s,
        orrery_cpu_ms=1000 * orrery / count, busiest_worker_pct=busiest_share_pct(before.orrery, after.orrery),
        upstream_cpu_ms=1000 * upstream / count, client_cpu_ms=1000 * client / count,
        other_cpu_pct=max(0.0, 100 * other / wall_s) if wall_s >= MIN_WALL_FOR_OTHER_S else None,
    )


async def run_all(targets: list[Target], plan: list[tuple[int, int]], warmup: int, client: str,
                  probes: CpuProbes) -> list[Result]:
    results = []
    for concurrency, count in plan:
        for target in targets:
            result = await measure(CLIENTS[client], target, concurrency, warmup, count, probes)
            print(f"  {target.name:<25} c={concurrency:<3} {result.p50_ms:7.3f} ms p50 {result.rps:8.0f} req/s",
                  file=sys.stderr, flush=True)
            results.append(result)
    return results


# report


def table(results: list[Result]) -> str:
    header = (f"{'target':<25} {'conc':>4} {'n':>5} {'err':>3} {'p50 ms':>7} {'p99 ms':>7} {'ttfb50':>7} "
              f"{'req/s':>7} {'+p50 ms':>7} {'x p50':>7} {'x rps':>5} | {'cpu ms/req: orrery':>18} {'top%':>4} "
              f"{'upstrm':>6} {'client':>6} {'other%':>6}")
    lines = [header, "-" * len(header)]
    for r in results:
        base = next(d for d in results if d.target == "direct" and d.concurrency == r.concurrency)
        if r is base:
            versus, orrery = f"{'':>21}", f"{'':>23}"
        else:
            versus = f"{r.p50_ms - base.p50_ms:7.3f} {r.p50_ms / base.p50_ms:7.1f} {r.rps / base.rps:5.3f}"
            orrery = f"{r.orrery_cpu_ms:18.3f} {r.busiest_worker_pct:4.0f}"
        other = "-" if r.other_cpu_pct is None else f"{r.other_cpu_pct:.0f}"
        lines.append(
            f"{r.target:<25} {r.concurrency:>4} {r.requests:>5} {r.errors:>3} {r.p50_ms:7.3f} {r.p99_ms:7.3f} "
            f"{r.ttfb_p50_ms:7.3f} {r.rps:7.0f} {versus} | {orrery} "
            f"{r.upstream_cpu_ms:6.3f} {r.client_cpu_ms:6.3f} {other:>6}"
        )
    return "\n".join(lines)


def verdicts(results: list[Result], concurrency: int) -> str:
    """The project's targets: added p50 at c=1 (at higher concurrency p50 is mostly queueing,
    about concurrency / throughput) and throughput at ``concurrency``."""
    lines = [f"targets: added p50 <= {TARGET_ADDED_P50_MS:g} ms at c=1, >= {TARGET_RPS:.0f} req/s at c={concurrency}"]
    direct = {r.concurrency: r for r in results if r.target == "direct"}
    for r in results:
        if r.target == "direct":
            continue
        if r.concurrency == 1:
            added = r.p50_ms - direct[1].p50_ms
            check = f"added p50 {added:.3f} ms {'ok' if added <= TARGET_ADDED_P50_MS else 'MISSED'}"
        else:
            check = (f"{r.rps:.0f} req/s {'ok' if r.rps >= TARGET_RPS else 'MISSED'} "
                     f"(p50 {r.p50_ms:.1f} ms ~ {r.concurrency}/throughput = {1000 * r.concurrency / r.rps:.1f} ms)")
        lines.append(f"  {r.target:<25} c={r.concurrency:<3} {check}")
    return "\n".join(lines)


# entry point


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Latency and throughput orrery adds over a direct upstream call.")
    parser.add_argument("--workers", type=int, default=1, help="orrery worker processes (default 1)")
    parser.add_argument("--concurrency", type=int, default=32, help="the concurrent level (default 32)")
    parser.add_argument("--serial-requests", type=int, default=2000, help="measured requests at c=1")
    parser.add_argument("--concurrent-requests", type=int, default=4000, help="measured requests at --concurrency")
    parser.add_argument("--warmup", type=int, default=300, help="unmeasured requests before each run")
    parser.add_argument("--quick", action="store_true", help="200/400 requests, 50 warm-up: a smoke run")
    parser.add_argument("--client", choices=sorted(CLIENTS), default="raw", help="load generator (default raw)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args(argv)
    if args.quick:
        args.serial_requests, args.concurrent_requests, args.warmup = 200, 400, 50
    return args


def sigterm_like_sigint() -> None:
    """SIGTERM does what Ctrl-C does at that moment (asyncio's runner cancels the run; elsewhere
    KeyboardInterrupt), so the child processes are stopped either way."""
    def handler(_signum: int, frame: Any) -> None:
        on_sigint = signal.getsignal(signal.SIGINT)
        if callable(on_sigint):
            on_sigint(signal.SIGINT, frame)
        else:
            raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


def benchmark(args: argparse.Namespace) -> list[Result]:
    """Start the upstream and orrery, measure every target at both concurrencies, stop them."""
    plan = [(1, args.serial_requests), (args.concurrency, args.concurrent_requests)]
    with tempfile.TemporaryDirectory(prefix="orrery-bench-") as tmp:
        workdir = Path(tmp)
        with upstream_process(workdir) as (upstream, upstream_port), \
                orrery_process(workdir, upstream_port, args.workers) as (orrery, orrery_port):
            targets = [direct_target(upstream_port)] + [
                orrery_target(orrery_port, stream=stream, store=store)
                for stream in (False, True) for store in (True, False)
            ]
            print(f"orrery workers={args.workers}, client={args.client}, cpus={os.cpu_count()}, "
                  f"warm-up {args.warmup}/run", file=sys.stderr)
            probes = CpuProbes(orrery.pid, upstream.pid)
            return cast(list[Result], event_loop_runner()(run_all(targets, plan, args.warmup, args.client, probes)))


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    sigterm_like_sigint()
    try:
        results = benchmark(args)
    except KeyboardInterrupt:
        print("interrupted; child processes stopped", file=sys.stderr)
        sys.exit(130)
    print(table(results))
    print()
    print(verdicts(results, args.concurrency))
    if args.json:
        meta = {"workers": args.workers, "client": args.client, "cpus": os.cpu_count(), "warmup": args.warmup}
        args.json.write_text(json.dumps({"meta": meta, "results": [asdict(r) for r in results]}, indent=2))


if __name__ == "__main__":
    main()
