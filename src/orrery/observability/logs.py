"""The server's log: text lines, or with ``--log-format json`` one JSON object a line, carrying the
id of the response being run (and its trace ids when tracing) wherever a line is written from.

What is logged is written so that it holds no secret: URLs redacted, no headers, no keys. The
HTTP clients' own loggers, which log each request's full URL at INFO, are held at WARNING.
"""

from __future__ import annotations

import logging
import time
from contextvars import ContextVar
from typing import Any, Literal

import orjson

from orrery.observability import tracing

LogFormat = Literal["text", "json"]
TEXT_FORMAT = "%(levelname)s %(name)s: %(message)s"
QUIET_LOGGERS = ("httpx", "httpx2", "httpcore", "httpcore2")
FIELDS = ("response_id", "model", "status", "input_tokens", "output_tokens", "duration_ms")
"""Fields a line may carry besides its message (the line each response ends with has them all)."""

response_id: ContextVar[str | None] = ContextVar("orrery_response_id", default=None)
"""The response the current task runs, set when its run is made and never reset: each request,
WebSocket connection and background run has a task of its own."""


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        seconds = int(record.created)
        line: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(), "logger": record.name, "message": record.getMessage(),
        }
        running = response_id.get()
        if running is not None:
            line["response_id"] = running
        ids = tracing.trace_ids()
        if ids is not None:
            line["trace_id"], line["span_id"] = ids
        for field in FIELDS:
            value = record.__dict__.get(field)
            if value is not None:
                line[field] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


def configure(level: str, log_format: LogFormat) -> None:
    """The root logger writes ``log_format`` lines to stderr from ``level`` up."""
    handler = logging.StreamHandler()
    handler.setFormatter(JSONFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
    logging.captureWarnings(log_format == "json")  # a warning, too, is a JSON line then
    for chatty in QUIET_LOGGERS:
        logging.getLogger(chatty).setLevel(max(logging.WARNING, logging.getLogger().level))
