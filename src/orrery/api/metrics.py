"""``GET /metrics``: the server's metrics for Prometheus (outside ``/v1``, as ``/health`` is).

With API keys configured it needs an admin key (Prometheus sends one with ``authorization`` in
its scrape config): the metrics count every project's work.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.responses import Response

from orrery import principals
from orrery.api.common import services
from orrery.errors import AdminOnly
from orrery.observability import metrics

router = APIRouter()


@router.get("/metrics", include_in_schema=False)
async def prometheus_metrics(request: Request) -> Response:
    """The queues' depths are read from the store, which every process shares, as each scrape asks."""
    if not principals.reads_server_wide():
        raise AdminOnly("Metrics are")
    wired = services(request)
    metrics.INGESTION_QUEUE.set(await wired.vector_stores.store.ingestion_queue_depth())
    metrics.BACKGROUND_QUEUE.set(await wired.background.store.queue_depth())
    return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)
