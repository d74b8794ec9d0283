"""Is replaying recorded upstream calls at least as fast as calling a local upstream live?

Run from the repository root with the project's virtualenv::

    python bench/replay.py [--quick]

It starts the zero-latency upstream of ``bench/overhead.py``, records the benchmark's upstream
call once with an orrery in ``record`` mode, then measures, one after the other, an orrery in
``live`` mode and an orrery in ``replay`` mode (whose upstream is never called) on the same
``/v1/responses`` requests, non-streaming and streaming, at concurrency 1 and 32. The table is
``bench/overhead.py``'s; the verdict compares replay's p50 and requests/s with live's.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import urllib.request
from dataclasses import replace
from pathlib import Path
from typing import cast

from overhead import (
    CpuProbes,
    Result,
    Target,
    direct_target,
    event_loop_runner,
    orrery_process,
    orrery_target,
    run_all,
    sigterm_like_sigint,
    table,
    upstream_process,
)


def record_once(url: str, body: bytes) -> None:
    request = urllib.request.Request(url, data=body, headers={"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        answer.read()


def targets_for(port: int, mode: str) -> list[Target]:
    return [replace(orrery_target(port, stream=stream, store=False),
                    name=f"{mode} {'stream' if stream else 'json'}") for stream in (False, True)]


def measure_mode(workdir: Path, upstream_pid: int, upstream_port: int, mode: str, plan: list[tuple[int, int]],
                 warmup: int, with_direct: bool) -> list[Result]:
    recording = {"mode": mode, "dir": str(workdir / "recordings")}
    with orrery_process(workdir, upstream_port, 1, name=mode, recording=recording) as (orrery, port):
        targets = ([direct_target(upstream_port)] if with_direct else []) + targets_for(port, mode)
        probes = CpuProbes(orrery.pid, upstream_pid)
        return cast(list[Result], event_loop_runner()(run_all(targets, plan, warmup, "raw", probes)))


def verdict(results: list[Result]) -> str:
    lines = ["target: replay no slower than live"]
    for result in results:
        if not result.target.startswith("replay"):
            continue
        live = next(r for r in results
                    if r.target == result.target.replace("replay", "live") and r.concurrency == result.concurrency)
        faster = result.p50_ms <= live.p50_ms * 1.05 and result.rps >= live.rps * 0.95
        lines.append(f"  {result.target:<14} c={result.concurrency:<3} "
                     f"p50 {result.p50_ms:.3f} vs {live.p50_ms:.3f} ms, "
                     f"{result.rps:.0f} vs {live.rps:.0f} req/s {'ok' if faster else 'SLOWER'}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200/400 requests, 50 warm-up: a smoke run")
    args = parser.parse_args()
    serial, concurrent, warmup = (200, 400, 50) if args.quick else (2000, 4000, 300)
    plan = [(1, serial), (32, concurrent)]
    sigterm_like_sigint()
    with tempfile.TemporaryDirectory(prefix="orrery-replay-bench-") as tmp:
        workdir = Path(tmp)
        with upstream_process(workdir) as (upstream, upstream_port):
            with orrery_process(workdir, upstream_port, 1, name="record",
                                recording={"mode": "record", "dir": str(workdir / "recordings")}) as (_, port):
                record_once(f"http://127.0.0.1:{port}/v1/responses", targets_for(port, "record")[0].body)
            results = measure_mode(workdir, upstream.pid, upstream_port, "live", plan, warmup, with_direct=True)
            results += measure_mode(workdir, upstream.pid, upstream_port, "replay", plan, warmup, with_direct=False)
    results.sort(key=lambda r: r.concurrency)
    print(table(results))
    print()
    print(verdict(results))


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        print("interrupted; child processes stopped", file=sys.stderr)
        sys.exit(130)
