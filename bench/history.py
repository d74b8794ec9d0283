"""How does the time to create a response grow with the length of the history it continues?

Run from the repository root with the project's virtualenv::

    python bench/history.py [--quick] [--lengths 10 100 1000] [--creates N] [--json PATH]

It starts the same two processes as ``bench/overhead.py`` (its helpers): ``bench/upstream.py``, the
zero-latency upstream, and ``python -m orrery serve`` with that upstream as provider ``up``, one
worker, and a fresh SQLite store in a temporary directory. Over one keep-alive HTTP/1.1
connection it then builds, for each of ``--lengths``:

* ``chain``: a ``previous_response_id`` chain of that many turns, one stored response after the
  other, each continuing the last (input "turn I: ...", output the upstream's "echo: hello"; the
  chain grows from one length to the next, so its end at 1,000 turns has 2,000 items behind it);
* ``conversation``: a conversation of that many items, alternately a user and an assistant
  message, created empty and filled through ``POST /v1/conversations/{id}/items`` in batches of 20
  (one conversation per length).

Then, one history after the other, it times ``--creates`` (default 50, ``--quick`` 10)
non-streaming creates continuing it, after a few unmeasured ones: ``"input": "next"`` with
``previous_response_id`` the chain's last response or ``conversation`` the conversation, and
``store: false`` so the history does not grow while it is measured; first as many with no
history at all (``none``), the baseline. Per history it shows their p50 and p99 (the time of the
whole request, this process's ``http.client`` included) and orrery's CPU per create (from /proc).

After the servers stop, in this process, on the same SQLite file, it loads each history with the
store's own query (``ResponseStore.get_status_and_history``, a recursive CTE walking the chain,
and ``ConversationStore.all_items``), shows that load's p50, and times
``orrery.responses.convert.items_to_messages`` alone rendering it (with the request's "next"
appended, as the server calls it; ``history_in_parts`` for conversations), over enough
repetitions to render about 200,000 items per length. The render is shown as p50 µs per call
and per item (a chain's turn is two items, its input and its output). Both are timed with what
this process already holds frozen (``gc.freeze``): the cyclic collector then scans only what the
timed call allocates, not this process's heap, which is not the server's.

Last, per kind, a line compares the largest two lengths: the ratios of the render's µs per item,
of the load's ms per item and of the create's p50 added per item (from the length before to the
largest, against from the one before that, or from no history, to the length before). Near 1
means the cost grows linearly with the history; above ``LINEAR_WITHIN`` it is called worse than
linear. The last line gives ``other%``, the CPU anything else on the machine used while the
creates were timed, in % of one core: when it is not near 0 something competed for the cores
and the run should be repeated. Child processes are stopped on exit, on Ctrl-C and on SIGTERM.
"""

from __future__ import annotations

import argparse
import gc
import http.client
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, cast

import orjson

from orrery.ids import new_id
from orrery.responses.convert import items_to_messages
from orrery.store.conversations import ConversationStore
from orrery.store.database import create_engine
from orrery.store.response_leases import ResponseLeases
from orrery.store.responses import ResponseStore
from orrery.store.writer import BatchWriter
from overhead import (
    MIN_WALL_FOR_OTHER_S,
    CpuProbes,
    event_loop_runner,
    orrery_process,
    percentile,
    sigterm_like_sigint,
    upstream_process,
)

MODEL = "up/m"
BATCH = 20
WARMUP = 3
LOADS = 20
RENDERED_ITEMS = 200_000
MIN_RENDERS = 50
LINEAR_WITHIN = 1.5
TURN_TEXT = "turn {}: tell me a little more about that, please"
ANSWER_TEXT = "echo: hello"


@dataclass(frozen=True)
class History:
    """One history a create continues: a chain's last response or a conversation."""

    kind: str
    length: int
    items: int
    anchor: str


@dataclass(frozen=True)
class Row:
    kind: str
    length: int
    items: int
    creates: int
    create_p50_ms: float
    create_p99_ms: float
    orrery_cpu_ms: float
    load_p50_ms: float = 0.0
    render_p50_us: float = 0.0
    renders: int = 0

    @property
    def render_us_per_item(self) -> float:
        return self.render_p50_us / self.items if self.items else 0.0


NONE = History("none", 0, 0, "")
"""No history: the create every other one is compared with."""


# HTTP client


class Client:
    """JSON requests over one keep-alive connection; anything but 200 is an error."""

    def __init__(self, port: int) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        self.connection.request("POST", path, orjson.dumps(body), {"content-type": "application/json"})
        response = self.connection.getresponse()
        data = response.read()
        if response.status != 200:
            raise RuntimeError(f"POST {path} answered {response.status}: {data[:2000]!r}")
        return cast(dict[str, Any], orjson.loads(data))

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        answer = self.post("/v1/responses", {"model": MODEL, **body})
        if answer.get("status") != "completed":
            raise RuntimeError(f"response not completed: {answer}")
        return answer

    def close(self) -> None:
        self.connection.close()


# building the histories


def chains(client: Client, lengths: list[int]) -> Iterator[History]:
    """One chain grown to each length in turn; yields when it reaches one."""
    previous: str | None = None
    for turn in range(1, max(lengths) + 1):
        body: dict[str, Any] = {"input": TURN_TEXT.format(turn), "store": True}
        if previous is not None:
            body["previous_response_id"] = previous
        previous = cast(str, client.create(body)["id"])
        if turn in lengths:
            yield History("chain", turn, 2 * turn, previous)
        if turn % 100 == 0:
            print(f"  chain: {turn} turns", file=sys.stderr, flush=True)


def conversation_item(position: int) -> dict[str, Any]:
    if position % 2 == 0:
        return {"type": "message", "role": "user",
                "content": [{"type": "input_text", "text": TURN_TEXT.format(position // 2 + 1)}]}
    return {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": ANSWER_TEXT}]}


def conversation(client: Client, length: int) -> History:
    conversation_id = cast(str, client.post("/v1/conversations", {})["id"])
    for start in range(0, length, BATCH):
        items = [conversation_item(position) for position in range(start, min(length, start + BATCH))]
        client.post(f"/v1/conversations/{conversation_id}/items", {"items": items})
    return History("conversation", length, length, conversation_id)


# measurement


def continuing(history: History) -> dict[str, Any]:
    body: dict[str, Any] = {"input": "next", "store": False}
    if history.kind == "chain":
        body["previous_response_id"] = history.anchor
    elif history.kind == "conversation":
        body["conversation"] = history.anchor
    return body


def time_creates(client: Client, histories: list[History], count: int,
                 probes: CpuProbes) -> tuple[list[Row], float | None]:
    """Per history, a few unmeasured creates continuing it, then ``count`` timed ones; the rows
    and ``other%`` over all the timed creates."""
    rows = []
    wall_s = other_s = 0.0
    for history in histories:
        body = continuing(history)
        for _ in range(WARMUP):
            client.create(body)
        samples = []
        before = probes.read()
        start = time.perf_counter_ns()
        for _ in range(count):
            began = time.perf_counter_ns()
            client.create(body)
            samples.append(time.perf_counter_ns() - began)
        wall_s += (time.perf_counter_ns() - start) / 1e9
        after = probes.read()
        orrery = sum(after.orrery.values()) - sum(before.orrery.values())
        other_s += (after.machine - before.machine - orrery - (after.upstream - before.upstream)
                    - (after.client - before.client))
        samples.sort()
        rows.append(Row(history.kind, history.length, history.items, count, percentile(samples, 0.50),
                        percentile(samples, 0.99), 1000 * orrery / count))
        print(f"  {history.kind:<12} {history.length:>5}: create p50 {rows[-1].create_p50_ms:7.2f} ms",
              file=sys.stderr, flush=True)
    return rows, max(0.0, 100 * other_s / wall_s) if wall_s >= MIN_WALL_FOR_OTHER_S else None


async def load(history: History, responses: ResponseStore,
               conversations: ConversationStore) -> list[dict[str, Any]]:
    if history.kind == "chain":
        found = await responses.get_status_and_history(history.anchor)
        assert found is not None and found[0] == "completed", found
        return found[1]
    return await conversations.all_items(history.anchor)


@contextmanager
def frozen_heap() -> Iterator[None]:
    """Everything already in memory moved out of the cyclic collector's sight (``gc.freeze``), so
    a timed call pays for collecting what it allocates itself, not for this process's heap (which
    is not the server's)."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


async def time_loads(db: Path, histories: list[History]) -> list[tuple[float, list[dict[str, Any]]]]:
    """Per history: the p50 ms of loading it with the store's own query, and the items."""
    engine = create_engine(f"sqlite:///{db}")
    writer = BatchWriter(engine)  # never started: the queries below only read
    responses = ResponseStore(engine, writer, ResponseLeases(writer, 60.0))
    conversations = ConversationStore(engine, writer, 60.0)
    results = []
    try:
        for history in histories:
            items = await load(history, responses, conversations)
            if len(items) != history.items:
                raise RuntimeError(f"{history.kind} {history.length}: {len(items)} items, expected {history.items}")
            samples = []
            with frozen_heap():
                for _ in range(LOADS):
                    began = time.perf_counter_ns()
                    await load(history, responses, conversations)
                    samples.append(time.perf_counter_ns() - began)
            results.append((percentile(sorted(samples), 0.50), items))
    finally:
        await engine.dispose()
    return results


def time_render(history: History, items: list[dict[str, Any]], repetitions: int) -> tuple[float, int]:
    """The p50 µs of ``items_to_messages`` rendering the history and the request's input, and how
    many renders that is."""
    new_input = [{"id": new_id("msg"), "type": "message", "role": "user", "content": "next"}]
    in_parts = history.kind == "conversation"
    renders = max(MIN_RENDERS, repetitions // history.items)
    samples = []
    with frozen_heap():
        for _ in range(renders):
            began = time.perf_counter_ns()
            items_to_messages(None, items, new_input, history_in_parts=in_parts)
            samples.append(time.perf_counter_ns() - began)
    return 1000 * percentile(sorted(samples), 0.50), renders


def benchmark(args: argparse.Namespace) -> tuple[list[Row], float | None]:
    """Build the histories, time the creates, stop the servers; then time loads and renders."""
    with tempfile.TemporaryDirectory(prefix="orrery-bench-") as tmp:
        workdir = Path(tmp)
        with upstream_process(workdir) as (upstream, upstream_port), \
                orrery_process(workdir, upstream_port, 1) as (orrery, orrery_port):
            print(f"cpus={os.cpu_count()}, lengths {args.lengths}, {args.creates} creates each",
                  file=sys.stderr, flush=True)
            client = Client(orrery_port)
            try:
                started = time.perf_counter()
                histories = list(chains(client, args.lengths))
                print(f"  chain of {max(args.lengths)} built in {time.perf_counter() - started:.0f} s",
                      file=sys.stderr, flush=True)
                histories += [conversation(client, length) for length in args.lengths]
                rows, other = time_creates(client, [NONE, *histories], args.creates,
                                           CpuProbes(orrery.pid, upstream.pid))
            finally:
                client.close()
        loads = cast(list[tuple[float, list[dict[str, Any]]]],
                     event_loop_runner()(time_loads(workdir / "orrery.db", histories)))
    measured = rows[:1]
    for row, history, (load_ms, items) in zip(rows[1:], histories, loads, strict=True):
        render_us, renders = time_render(history, items, args.rendered_items)
        measured.append(Row(**{**asdict(row), "load_p50_ms": load_ms, "render_p50_us": render_us,
                               "renders": renders}))
    return measured, other


# report


def table(rows: list[Row]) -> str:
    header = (f"{'kind':<12} {'length':>6} {'items':>5} {'n':>4} {'create p50 ms':>13} {'p99 ms':>7} "
              f"{'orrery cpu ms':>13} | {'load p50 ms':>11} {'render p50 µs':>13} {'renders':>7} "
              f"{'µs/item':>7}")
    lines = [header, "-" * len(header)]
    for r in rows:
        rendered = (f"{r.load_p50_ms:11.3f} {r.render_p50_us:13.0f} {r.renders:>7} {r.render_us_per_item:7.3f}"
                    if r.items else f"{'-':>11} {'-':>13} {'-':>7} {'-':>7}")
        lines.append(f"{r.kind:<12} {r.length:>6} {r.items:>5} {r.creates:>4} {r.create_p50_ms:13.2f} "
                     f"{r.create_p99_ms:7.2f} {r.orrery_cpu_ms:13.2f} | {rendered}")
    return "\n".join(lines)


def verdict(ratio: float) -> str:
    return "linear or better" if ratio <= LINEAR_WITHIN else "WORSE than linear"


def growth(rows: list[Row]) -> str:
    """Per kind, the largest two lengths' per-item costs compared: render and load per item, and
    the create's p50 added per item from the length before (no history before the first)."""
    lines = [f"growth between the largest two lengths (ratio of per-item costs; near 1 is linear, "
             f"above {LINEAR_WITHIN:g} worse):"]
    none = next(r for r in rows if r.kind == NONE.kind)
    for kind in dict.fromkeys(r.kind for r in rows if r.kind != NONE.kind):
        ordered = [none, *sorted((r for r in rows if r.kind == kind), key=lambda r: r.items)]
        if len(ordered) < 3:
            continue
        base, small, large = ordered[-3:]
        render = large.render_us_per_item / small.render_us_per_item
        loading = (large.load_p50_ms / large.items) / (small.load_p50_ms / small.items)
        before = (small.create_p50_ms - base.create_p50_ms) / (small.items - base.items)
        after = (large.create_p50_ms - small.create_p50_ms) / (large.items - small.items)
        create = f"{after / before:.2f} ({verdict(after / before)})" if before > 0 else "n/a (no growth before)"
        lines.append(f"  {kind} {small.length} -> {large.length}: render {render:.2f} ({verdict(render)}); "
                     f"load {loading:.2f} ({verdict(loading)}); create p50 per added item "
                     f"{1000 * before:.1f} -> {1000 * after:.1f} µs, {create}")
    return "\n".join(lines)


# entry point


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Create and render time against the length of the history.")
    parser.add_argument("--lengths", type=int, nargs="+", default=[10, 100, 1000],
                        help="chain turns and conversation items (default 10 100 1000)")
    parser.add_argument("--creates", type=int, default=50, help="measured creates per history (default 50)")
    parser.add_argument("--rendered-items", type=int, default=RENDERED_ITEMS,
                        help=f"items rendered per history, in repeated renders (default {RENDERED_ITEMS:,})")
    parser.add_argument("--quick", action="store_true", help="10 creates, 50,000 rendered items: a smoke run")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args(argv)
    args.lengths = sorted(set(args.lengths))
    if args.quick:
        args.creates, args.rendered_items = 10, RENDERED_ITEMS // 4
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    sigterm_like_sigint()
    started = time.perf_counter()
    try:
        rows, other = benchmark(args)
    except KeyboardInterrupt:
        print("interrupted; child processes stopped", file=sys.stderr)
        sys.exit(130)
    print(table(rows))
    print()
    print(growth(rows))
    shown = "-" if other is None else f"{other:.0f}"
    print(f"\nother% during the creates: {shown} (near 0: nothing else competed for the cores); "
          f"total {time.perf_counter() - started:.0f} s, cpus={os.cpu_count()}")
    if args.json:
        meta = {"lengths": args.lengths, "creates": args.creates, "cpus": os.cpu_count(), "other_cpu_pct": other}
        results = [{**asdict(r), "render_us_per_item": r.render_us_per_item} for r in rows]
        args.json.write_text(json.dumps({"meta": meta, "results": results}, indent=2))


if __name__ == "__main__":
    main()
