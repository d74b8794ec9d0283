"""What one response's run reports: its span, its metrics once it ends, and its line in the log."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any

from orrery.observability import logs, metrics, tracing
from orrery.wire.shapes import Usage

log = logging.getLogger("orrery.responses")
LINE = "response %s %s: model %s, %d input and %d output tokens, %.1f ms"
"""The line each response ends with."""


class ResponseObservation:
    """Made with the run, in the task that runs it; ``finished`` once, when it ends."""

    __slots__ = ("response_id", "model", "started_ns", "first_output_ns", "span")

    def __init__(self, response_id: str, model: str, started_ns: int | None = None) -> None:
        """``started_ns``: when the response was asked for (ns since the epoch), else now."""
        self.response_id = response_id
        self.model = model
        self.started_ns = started_ns or time.time_ns()
        self.first_output_ns = 0
        self.span: tracing.SpanLike = tracing.NO_SPAN
        logs.response_id.set(response_id)

    def begin(self) -> None:
        """Start the response's span (when tracing), before anything it is the parent of."""
        if self.span is tracing.NO_SPAN:
            self.span = tracing.response_span(self.response_id, self.model, self.started_ns)

    def store_write(self, what: str) -> tracing.SpanLike:
        self.begin()
        return tracing.store_write(what)

    def first_output(self) -> None:
        self.first_output_ns = time.time_ns()

    def finished(self, status: str, usage: Usage | None, output: Iterable[dict[str, Any]],
                 failure: str | None = None) -> None:
        """Count the response, end its span, and log its line; ``failure``: the kind of its
        upstream failure, if any."""
        ended = time.time_ns()
        first = (self.first_output_ns - self.started_ns) / 1e9 if self.first_output_ns else None
        metrics.response_finished(self.model, status, usage, first, output)
        tokens_in = usage["input_tokens"] if usage is not None else 0
        tokens_out = usage["output_tokens"] if usage is not None else 0
        span = self.span
        if span is not tracing.NO_SPAN:
            span.set_attribute("orrery.response.status", status)
            span.set_attribute("gen_ai.usage.input_tokens", tokens_in)
            span.set_attribute("gen_ai.usage.output_tokens", tokens_out)
            if failure is not None:
                tracing.failed(span, failure)
            span.end(ended)
        if log.isEnabledFor(logging.INFO):
            duration_ms = round((ended - self.started_ns) / 1e6, 1)
            # The record made here, not by log.info: that looks up its caller's frame, which made
            # a third of the line's cost (91 K instructions; 65 K so).
            log.handle(log.makeRecord(
                log.name, logging.INFO, __file__, 0, LINE,
                (self.response_id, status, self.model, tokens_in, tokens_out, duration_ms), None,
                extra={"response_id": self.response_id, "model": self.model, "status": status,
                       "input_tokens": tokens_in, "output_tokens": tokens_out, "duration_ms": duration_ms}))
