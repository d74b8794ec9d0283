"""How many CPU instructions does orrery execute per response? A figure that does not move with the machine.

Run from the repository root with the project's virtualenv (valgrind installed)::

    python bench/instructions.py [--requests N] [--log-level info] [--json PATH] [--against PATH]

Wall-clock and CPU-time figures on a shared machine vary by 2x between runs of the same commit;
the count of instructions a process executes for the same requests does not (within about 1%),
so it is the figure to compare commits with. ``perf stat -e instructions`` needs hardware
counters, which virtual machines often do not expose, so this counts with valgrind's callgrind
instead, which works anywhere at the cost of running orrery about 50 times slower.

It starts ``bench/upstream.py`` (the zero-latency upstream of ``bench/overhead.py``, not counted)
and one ``orrery serve`` worker under ``valgrind --tool=callgrind --instr-atstart=no`` with a fresh
SQLite store, ``PYTHONHASHSEED=0`` and ``background.poll`` an hour. For each target
(``/v1/responses`` streamed or not, ``store`` true or false, as in ``bench/overhead.py``) it sends
``--warmup`` requests, then turns counting on, sends ``--requests`` more one after another over one
keep-alive connection, turns it off and reads the total. What orrery does while idle (its other
timers: heartbeats, lease renewals) is counted over 20 s at the start and taken off pro rata to
each target's time, so the figure is the work of the responses alone. Per target it prints millions of
instructions per response, and with ``--against`` a JSON file of an earlier run (``--json``), the
ratio to it. Last, a tenth as many stored streams of 200 one-token deltas 5 ms apart (each in a
read of its own, as a real model's) give the instructions one more delta costs: the work that
thousands of long streams repeat.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import orjson

from overhead import Target, orrery_process, orrery_target, upstream_process

IDLE_SECONDS = 20.0
SLOW_TOKENS = 200
SLOW_PAUSE_MS = 5
"""Apart enough that, even under valgrind, each delta reaches orrery in a read of its own, as a
real model's do."""
SLOW_STREAM_SHARE = 10
"""The slow stream is sent a tenth as many times as the others (each lasts a second)."""
SLOW_STREAM = f"orrery stream {SLOW_TOKENS} deltas"
STORED_STREAM = "orrery stream store=true"
PLAIN_DELTAS = 3
"""The deltas of bench/upstream.py's plain answer ("echo: hello" in 4-character pieces)."""
BACKGROUND_POLL_S = 3600
"""The background runner's poll for queued work, lengthened from its 0.1 s: each poll is a store
query costing more instructions than some responses, and how many fall into a measurement
depends on how slowly valgrind runs, not on the responses."""


@dataclass(frozen=True)
class Count:
    target: str
    requests: int
    instructions_per_response: float
    seconds: float


class Callgrind:
    """Counting in one process run under callgrind, switched on and off with callgrind_control."""

    def __init__(self, pid: int, out_dir: Path) -> None:
        self._pid = str(pid)
        self._out_dir = out_dir

    def _control(self, *args: str) -> None:
        subprocess.run(["callgrind_control", *args, self._pid], check=True, capture_output=True)

    def start(self) -> None:
        self._control("--zero")
        self._control("--instr=on")

    def stop(self) -> int:
        """The instructions counted since ``start``."""
        self._control("--instr=off")
        before = set(self._out_dir.glob("callgrind.out.*"))
        self._control("--dump")
        [dump] = set(self._out_dir.glob("callgrind.out.*")) - before
        for line in dump.read_text(errors="replace").splitlines():
            if line.startswith(("summary:", "totals:")) and int(line.split()[1]) > 0:
                return int(line.split()[1])
        return 0


def send(connection: http.client.HTTPConnection, target: Target) -> None:
    connection.request("POST", target.path, body=target.body, headers={"content-type": "application/json"})
    answer = connection.getresponse()
    body = answer.read()
    if answer.status != 200 or target.done_marker not in body:
        raise RuntimeError(f"{target.name}: HTTP {answer.status}: {body[:500]!r}")


def count(callgrind: Callgrind, target: Target, requests: int, warmup: int, idle_per_second: float) -> Count:
    connection = http.client.HTTPConnection(target.host, target.port, timeout=120)
    for _ in range(warmup):
        send(connection, target)
    callgrind.start()
    started = time.monotonic()
    for _ in range(requests):
        send(connection, target)
    seconds = time.monotonic() - started
    total = callgrind.stop()
    connection.close()
    return Count(target.name, requests, (total - idle_per_second * seconds) / requests, seconds)


def measure(requests: int, warmup: int, log_level: str) -> tuple[float, list[Count]]:
    with tempfile.TemporaryDirectory(prefix="orrery-instructions-") as tmp:
        workdir = Path(tmp)
        valgrind = ("valgrind", "--tool=callgrind", "--instr-atstart=no",
                    f"--callgrind-out-file={workdir}/callgrind.out.%p")
        os.environ["PYTHONHASHSEED"] = "0"
        with upstream_process(workdir) as (_, upstream_port), \
                orrery_process(workdir, upstream_port, 1, under=valgrind, log_level=log_level,
                               settings={"background": {"poll": BACKGROUND_POLL_S}}) as (orrery, port):
            callgrind = Callgrind(orrery.pid, workdir)
            callgrind.start()
            time.sleep(IDLE_SECONDS)
            idle_per_second = callgrind.stop() / IDLE_SECONDS
            targets = [orrery_target(port, stream=stream, store=store) for stream in (True, False)
                       for store in (True, False)]
            counts = [count(callgrind, t, requests, warmup, idle_per_second) for t in targets]
            slow = slow_stream_target(port)
            counts.append(count(callgrind, slow, max(1, requests // SLOW_STREAM_SHARE), 2, idle_per_second))
            return idle_per_second, counts


def slow_stream_target(port: int) -> Target:
    """A stored stream of SLOW_TOKENS one-token deltas, each arriving on its own."""
    body = {"model": f"up/paced-{SLOW_TOKENS}-{SLOW_PAUSE_MS}", "input": "hello", "stream": True}
    return Target(SLOW_STREAM, "127.0.0.1", port, "/v1/responses", orjson.dumps(body), b"event: response.completed")


def per_token(counts: list[Count]) -> float | None:
    """Instructions per delta: the slow stream's count less the plain stored stream's (three
    deltas), over the deltas it has more."""
    by_name = {c.target: c.instructions_per_response for c in counts}
    if SLOW_STREAM not in by_name or STORED_STREAM not in by_name:
        return None
    return (by_name[SLOW_STREAM] - by_name[STORED_STREAM]) / (SLOW_TOKENS - PLAIN_DELTAS)


def table(idle_per_second: float, counts: list[Count], against: dict[str, float]) -> str:
    lines = [f"{'target':<26} {'requests':>8} {'M instr/response':>17} {'vs --against':>12}", "-" * 66]
    for c in counts:
        millions = c.instructions_per_response / 1e6
        ratio = f"{c.instructions_per_response / against[c.target]:.3f}" if c.target in against else ""
        lines.append(f"{c.target:<26} {c.requests:>8} {millions:>17.3f} {ratio:>12}")
    token = per_token(counts)
    if token is not None:
        lines.append(f"per delta of a slow stream: {token / 1e3:.1f} K instructions")
    lines.append(f"idle: {idle_per_second / 1e6:.2f} M instructions/s, taken off pro rata")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="CPU instructions orrery executes per response (callgrind).")
    parser.add_argument("--requests", type=int, default=300, help="counted requests per target (default 300)")
    parser.add_argument("--warmup", type=int, default=20, help="uncounted requests before each target")
    parser.add_argument("--log-level", default="warning",
                        help="orrery's (default warning; info counts the line each response is logged with)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the counts as JSON")
    parser.add_argument("--against", type=Path, metavar="PATH", help="an earlier run's --json, to compare with")
    args = parser.parse_args(argv)
    against = {}
    if args.against:
        against = {c["target"]: c["instructions_per_response"]
                   for c in json.loads(args.against.read_text())["counts"]}
    idle_per_second, counts = measure(args.requests, args.warmup, args.log_level)
    print(table(idle_per_second, counts, against))
    if args.json:
        args.json.write_text(json.dumps({"idle_per_second": idle_per_second,
                                         "counts": [asdict(c) for c in counts]}, indent=2))


if __name__ == "__main__":
    sys.exit(main())
