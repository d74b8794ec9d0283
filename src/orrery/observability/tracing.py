"""OpenTelemetry traces: a span per response, a child span for each upstream call, tool call and
store write it makes.

Off unless the standard variables ask for traces (``OTEL_TRACES_EXPORTER``, or an OTLP endpoint in
``OTEL_EXPORTER_OTLP_ENDPOINT`` / ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) and ``OTEL_SDK_DISABLED``
is not ``true``; the exporter reads the other ``OTEL_*`` variables itself (headers, timeout,
sampler, resource). While off, the SDK is not imported and every span is ``NO_SPAN``, whose
methods do nothing.

A response's span is the parent of the spans started while it runs: it is kept in a context
variable of the task running the response, set and never reset (each request, WebSocket
connection and background run has a task of its own), rather than attached to OpenTelemetry's
own context, which would have to be detached in the same context, and a response's run is an
async generator that may be finalized elsewhere. Attributes carry ids, names, kinds and redacted
URLs only: no error message, no exception, no header.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

from orrery import __version__
from orrery.urls import redacted

if TYPE_CHECKING:
    from opentelemetry.trace import Tracer

log = logging.getLogger(__name__)

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
SERVICE_NAME = "orrery"


class SpanLike(Protocol):
    """What orrery does with a span: OpenTelemetry's, or ``NO_SPAN``."""

    def set_attribute(self, key: str, value: Any) -> None: ...

    def set_status(self, status: Any) -> None: ...

    def end(self, end_time: int | None = None) -> None: ...

    def __enter__(self) -> SpanLike: ...

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None: ...


class NoSpan:
    """The span of a server that does not trace."""

    __slots__ = ()

    def set_attribute(self, key: str, value: Any) -> None:
        pass

    def set_status(self, status: Any) -> None:
        pass

    def end(self, end_time: int | None = None) -> None:
        pass

    def __enter__(self) -> NoSpan:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        pass


NO_SPAN = NoSpan()
_tracer: Tracer | None = None
current_response: ContextVar[Any] = ContextVar("orrery_response_span", default=None)
"""The span of the response the current task runs (an OpenTelemetry span), when tracing."""


def wanted(env: Mapping[str, str]) -> bool:
    """Whether the standard variables ask for traces."""
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporters = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporters:
        return exporters != "none"
    return any(env.get(name) for name in ENDPOINT_VARIABLES)


def start(env: Mapping[str, str] = os.environ) -> Callable[[], None]:
    """Trace in this process if the environment asks for it; returns what flushes and stops it."""
    global _tracer
    if not wanted(env):
        return lambda: None
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter

    resource = Resource.create({"service.version": __version__})
    if str(resource.attributes.get("service.name", "")).startswith("unknown_service"):
        resource = resource.merge(Resource({"service.name": SERVICE_NAME}))
    provider = TracerProvider(resource=resource)
    chosen = [name.strip() for name in env.get("OTEL_TRACES_EXPORTER", "otlp").lower().split(",") if name.strip()]
    exporters: dict[str, Callable[[], SpanExporter]] = {"otlp": OTLPSpanExporter, "console": ConsoleSpanExporter}
    for name in chosen:
        if name in exporters:
            provider.add_span_processor(BatchSpanProcessor(exporters[name]()))
        else:
            log.warning("OTEL_TRACES_EXPORTER names %r, which orrery does not have (otlp, console, none): "
                        "its spans are not sent", name)
    _tracer = provider.get_tracer("orrery", __version__)

    def stop() -> None:
        global _tracer
        _tracer = None
        provider.shutdown()

    return stop


def _start(name: str, attributes: dict[str, Any], parent: Any = None, start_time: int | None = None) -> Any:
    from opentelemetry.trace import set_span_in_context

    assert _tracer is not None
    return _tracer.start_span(name, context=set_span_in_context(parent) if parent is not None else None,
                              attributes=attributes, start_time=start_time, record_exception=False,
                              set_status_on_exception=False)


def response_span(response_id: str, model: str, start_time: int) -> SpanLike:
    """A response's span, from ``start_time`` (ns since the epoch); the parent of the spans the
    current task starts from now on."""
    if _tracer is None:
        return NO_SPAN
    span = _start("response", {"orrery.response.id": response_id, "gen_ai.request.model": model},
                  start_time=start_time)
    current_response.set(span)
    return span


def child(name: str, attributes: dict[str, Any]) -> SpanLike:
    """A span under the current response's (a trace of its own outside a response)."""
    if _tracer is None:
        return NO_SPAN
    return _start(name, attributes, current_response.get())  # type: ignore[no-any-return]


@functools.cache
def _shown_url(url: str) -> str:
    return redacted(url)


def upstream_call(provider: str, path: str, url: str, body: Mapping[str, Any]) -> SpanLike:
    """The span of a POST to a provider's ``path``: the provider's id, the model, the URL without
    its credentials."""
    if _tracer is None:
        return NO_SPAN
    attributes: dict[str, Any] = {"orrery.provider.id": provider, "http.request.method": "POST",
                                  "url.full": _shown_url(url)}
    model = body.get("model")
    if isinstance(model, str):
        attributes["gen_ai.request.model"] = model
    return child("upstream " + path, attributes)


def tool_call(item_type: str, name: str, call_id: str) -> SpanLike:
    if _tracer is None:
        return NO_SPAN
    return child("tool " + item_type, {"orrery.tool.type": item_type, "gen_ai.tool.name": name,
                                       "gen_ai.tool.call.id": call_id})


def store_write(what: str) -> SpanLike:
    if _tracer is None:
        return NO_SPAN
    return child("store write", {"orrery.store.write": what})


def failed(span: SpanLike, kind: str) -> None:
    """Mark ``span`` failed with the kind of failure only (messages may quote what was sent)."""
    if span is NO_SPAN:
        return
    from opentelemetry.trace import Status, StatusCode

    span.set_attribute("error.type", kind)
    span.set_status(Status(StatusCode.ERROR))


def trace_ids() -> tuple[str, str] | None:
    """The trace and span ids of the current response's span, as the W3C writes them."""
    span = current_response.get()
    if span is None:
        return None
    context = span.get_span_context()
    return format(context.trace_id, "032x"), format(context.span_id, "016x")
