"""Prometheus metrics: what the server answered, what its responses cost, what is waiting.

Counting is per request and per response, never per token: a response's tokens come from its
final usage, its time to first token is observed once. Each label set's child is looked up once
and kept, so a request costs a dict lookup and two updates. Routes are labelled by their template
(``/v1/responses/{response_id}``), never by the path, which holds ids and has no bound.

With ``--workers N`` every worker keeps its values in files of ``PROMETHEUS_MULTIPROC_DIR``, a
directory ``serve`` makes for the server before the workers start and removes when it stops, and
the worker that answers ``GET /metrics`` adds them all up. prometheus_client decides where values
live when it is imported, so the variable is set before any worker imports this module.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from fastapi.routing import iter_route_contexts
from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orrery.wire.shapes import Usage

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)
"""Seconds: from a cached answer's milliseconds to a long generation's minutes."""
FIRST_TOKEN_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
UNMATCHED = "unmatched"
"""The route label of a request no route matches (a 404): its path is not a label."""
OTHER_METHOD = "other"
LIVE_GAUGE_FILE = re.compile(r"^gauge_live\w+_(\d+)\.db$")

disable_created_metrics()  # a ``_created`` series beside each one doubles what a scrape reads, and says little

REQUESTS = Counter("orrery_requests", "HTTP requests answered, by route template, method and status.",
                   ["route", "method", "status"])
REQUEST_SECONDS = Histogram("orrery_request_duration_seconds",
                            "Seconds to answer an HTTP request; an event stream's, to its end.",
                            ["route", "method"], buckets=LATENCY_BUCKETS)
RESPONSES = Counter("orrery_responses", "Responses run, by final status.", ["status"])
FIRST_TOKEN_SECONDS = Histogram("orrery_time_to_first_token_seconds",
                                "Seconds from a response's creation to its first output event, by model.",
                                ["model"], buckets=FIRST_TOKEN_BUCKETS)
TOKENS = Counter("orrery_tokens", "Tokens of responses, as their usage counts them, by model and direction.",
                 ["model", "direction"])
UPSTREAM_ERRORS = Counter("orrery_upstream_errors", "Failed upstream calls, by provider and kind of failure.",
                          ["provider", "kind"])
TOOL_CALLS = Counter("orrery_tool_calls", "Tool calls in responses' output, by the type of their item.", ["kind"])
OPEN_STREAMS = Gauge("orrery_open_streams", "Event streams being sent.", multiprocess_mode="livesum")
INGESTION_QUEUE = Gauge("orrery_ingestion_queue_depth", "Files of vector stores waiting for or in ingestion.",
                        multiprocess_mode="mostrecent")
BACKGROUND_QUEUE = Gauge("orrery_background_queue_depth", "Background responses queued, not yet taken by a process.",
                         multiprocess_mode="mostrecent")

_request_series: dict[tuple[str, str, int], tuple[Any, Any]] = {}
_model_series: dict[str, tuple[Any, Any, Any]] = {}
_status_series: dict[tuple[str, ...], Any] = {}
_tool_series: dict[tuple[str, ...], Any] = {}
_error_series: dict[tuple[str, ...], Any] = {}


def observe_request(route: str, method: str, status: int, seconds: float) -> None:
    if method not in METHODS:
        method = OTHER_METHOD
    key = (route, method, status)
    series = _request_series.get(key)
    if series is None:
        series = _request_series[key] = (REQUESTS.labels(route, method, str(status)),
                                         REQUEST_SECONDS.labels(route, method))
    series[0].inc()
    series[1].observe(seconds)


def _for_model(model: str) -> tuple[Any, Any, Any]:
    """The input and output token counters and the first-token histogram of ``model``."""
    series = _model_series.get(model)
    if series is None:
        series = _model_series[model] = (TOKENS.labels(model, "input"), TOKENS.labels(model, "output"),
                                         FIRST_TOKEN_SECONDS.labels(model))
    return series


def _counter(cache: dict[tuple[str, ...], Any], counter: Counter, *labels: str) -> Any:
    """``counter``'s child for ``labels``, made once and kept in ``cache``."""
    child = cache.get(labels)
    if child is None:
        child = cache[labels] = counter.labels(*labels)
    return child


def response_finished(model: str, status: str, usage: Usage | None, first_output_seconds: float | None,
                      output: Iterable[dict[str, Any]]) -> None:
    """Count a finished response. ``model`` labels only what an upstream answered (a response with
    usage or output), so names the upstream refused do not become series."""
    _counter(_status_series, RESPONSES, status).inc()
    if usage is not None or first_output_seconds is not None:
        tokens_in, tokens_out, first_token = _for_model(model)
        if usage is not None:
            tokens_in.inc(usage["input_tokens"])
            tokens_out.inc(usage["output_tokens"])
        if first_output_seconds is not None:
            first_token.observe(first_output_seconds)
    for item in output:
        kind = item["type"]
        if kind.endswith("_call"):
            _counter(_tool_series, TOOL_CALLS, kind).inc()


def upstream_error(provider: str, kind: str) -> None:
    _counter(_error_series, UPSTREAM_ERRORS, provider, kind).inc()


class RequestMetrics:
    """Counts and times every HTTP request, by the template of its route. The time ends when the
    app returns: for an event stream, once its last event is sent."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = scope.get("route")
            observe_request(route.path if route is not None else _template(scope), scope["method"], status,
                            time.perf_counter() - started)


def _template(scope: Scope) -> str:
    """The template of the route a request answered before routing (a 401, a 413) was for, looked
    up here among the app's routes (this is rare: such answers are refusals)."""
    for context in iter_route_contexts(scope["app"].routes):
        route = context.original_route
        if route.matches(scope)[0] is not Match.NONE:
            return str(getattr(route, "path", UNMATCHED))
    return UNMATCHED


def exposition() -> bytes:
    """The metrics in Prometheus' text format: this process's, or every worker's added up."""
    directory = os.environ.get(MULTIPROCESS_ENV)
    if not directory:
        return generate_latest(REGISTRY)
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=directory)
    return generate_latest(registry)


@contextlib.contextmanager
def shared_by_workers() -> Iterator[None]:
    """Around the workers' lifetime: a directory of their own for their values, removed after."""
    with tempfile.TemporaryDirectory(prefix="orrery-metrics-") as directory:
        os.environ[MULTIPROCESS_ENV] = directory
        try:
            yield
        finally:
            del os.environ[MULTIPROCESS_ENV]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def worker_started() -> None:
    """Drop the live gauges (open streams) of workers that died: a worker starting is most often
    the replacement of one. Their counters stay, since what they counted happened."""
    directory = os.environ.get(MULTIPROCESS_ENV)
    if not directory:
        return
    for path in Path(directory).iterdir():
        found = LIVE_GAUGE_FILE.match(path.name)
        if found and not _alive(int(found[1])):
            mark_process_dead(int(found[1]), directory)


def worker_stopped() -> None:
    directory = os.environ.get(MULTIPROCESS_ENV)
    if directory:
        mark_process_dead(os.getpid(), directory)
