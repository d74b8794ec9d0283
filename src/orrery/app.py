"""The FastAPI application: services wired at start-up, OpenAI-shaped errors everywhere."""

from __future__ import annotations

import gc
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.middleware.body_limit import RequestBodyLimitMiddleware
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from orrery import __version__
from orrery.api import conversations as conversation_routes
from orrery.api import files as file_routes
from orrery.api import metrics as metrics_routes
from orrery.api import models, passthrough, responses
from orrery.api import vector_stores as vector_store_routes
from orrery.api.auth import Authenticator, AuthMiddleware
from orrery.api.common import JSONBody, openapi_document
from orrery.api.disconnect import SERVER_SEND
from orrery.api.docs import add_docs
from orrery.api.limits import OpenAIShaped413, too_large
from orrery.api.rate_limits import RateLimiter
from orrery.config import RecordingMode, Settings
from orrery.console import mount_console
from orrery.conversations.service import ConversationService
from orrery.embeddings import embedder_for
from orrery.embeddings.base import Embedder
from orrery.errors import APIError
from orrery.files.blobs import BlobStore
from orrery.files.service import FileService
from orrery.inference.router import ModelRouter
from orrery.observability import logs, metrics, tracing
from orrery.observability.metrics import RequestMetrics
from orrery.principals import Principal
from orrery.recording.context import RecordingContextMiddleware
from orrery.recording.recorder import Recorder
from orrery.responses.background import BackgroundRunner
from orrery.responses.service import ResponseService
from orrery.sealing import Sealer
from orrery.services import Services
from orrery.store.api_keys import ApiKeyStore
from orrery.store.background import BackgroundStore
from orrery.store.conversations import ConversationStore
from orrery.store.database import create_engine, create_sqlite_write_engine, migrate
from orrery.store.files import FileStore
from orrery.store.response_leases import ResponseLeases
from orrery.store.responses import ResponseStore
from orrery.store.vector_stores import VectorStoreStore
from orrery.store.writer import BatchWriter
from orrery.tools.base import ToolSetup, unwrapped
from orrery.tools.toolset import ToolRegistry
from orrery.vectors.index import index_for
from orrery.vectors.ingestion import Ingester
from orrery.vectors.service import VectorStoreService

log = logging.getLogger("orrery")

SETTINGS_ENV = "ORRERY_SETTINGS_JSON"
MIGRATED_ENV = "ORRERY_MIGRATED"


def _error_response(error: APIError) -> Response:
    return JSONBody(error.body(), status_code=error.status_code, headers=error.headers)


async def _api_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, APIError)
    return _error_response(exc)


async def _validation_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
    loc = tuple(part for part in first["loc"] if part not in ("query", "path", "body", "header"))
    param = ".".join(str(part) for part in loc) or None
    return _error_response(APIError(f"Invalid value for '{param}': {first['msg']}.", param=param,
                                    code="invalid_value"))


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 413:
        return _error_response(too_large(request.app.state.max_request_bytes))
    kind = "not_found" if exc.status_code == 404 else "invalid_request_error"
    return _error_response(APIError(str(exc.detail), status_code=exc.status_code, error_type=kind,
                                    code=kind if exc.status_code == 404 else None))


async def _unexpected_error(_: Request, exc: Exception) -> Response:
    log.exception("unexpected error", exc_info=exc)
    return _error_response(APIError("The server had an error while processing your request.",
                                    status_code=500, error_type="server_error", code="server_error"))


GC_THRESHOLDS = (20_000, 10, 100)
"""The cyclic collector's thresholds, from CPython's (700, 10, 10): what requests allocate is
nearly all freed by reference counting, yet with a thousand streams open each young collection
walked 2 ms of survivors, and the collector took 18% of the time and stalled the event loop up
to 100 ms at a time; with these, 1.4%, and no full collection over that run (bench/streams.py)."""


class OrreryApp(FastAPI):
    """FastAPI, with the server's own ``send`` kept in each scope for event streams (SERVER_SEND)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope[SERVER_SEND] = send
        await super().__call__(scope, receive, send)


def create_app(settings: Settings, *, run_migrations: bool = True) -> FastAPI:
    sealer = Sealer.from_settings(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stop_tracing = tracing.start()
        metrics.worker_started()
        engine = create_engine(settings.db_url)
        if run_migrations:
            await migrate(engine)
        writer = BatchWriter(engine, create_sqlite_write_engine(engine))
        writer.start()
        app.state.authenticator = Authenticator(
            {static.key: Principal(static.project, static.admin) for static in settings.api_keys},
            ApiKeyStore(engine))
        if await app.state.authenticator.is_open():
            log.warning("no API keys configured: every request is served, and every object is visible to all; "
                        "set api_keys or run 'orrery keys create NAME' to require keys")
        leases = ResponseLeases(writer, settings.response_lease)
        await leases.start()
        recorder = Recorder.from_settings(settings)
        router = ModelRouter.from_config(settings.providers, recorder)
        conversations = ConversationService(ConversationStore(engine, writer, settings.response_lease))
        files = FileService(FileStore(engine), BlobStore(settings.data_dir / "files"))
        vector_store_store = VectorStoreStore(engine)

        def embedder(model: str) -> Embedder:
            return embedder_for(model, router)

        index = index_for(engine)
        ingester = Ingester(vector_store_store, files, embedder, index)
        ingester.start()
        vector_stores = VectorStoreService(vector_store_store, files, index, ingester, embedder)
        tools = ToolRegistry.start(ToolSetup(settings, vector_stores,
                                             recorder.wrap_tool_transport if recorder else unwrapped))
        responses_service = ResponseService(
            router, ResponseStore(engine, writer, leases), conversations, tools, sealer,
            frozenset(provider.id for provider in settings.providers if provider.reasoning_history))
        background = BackgroundRunner(responses_service, BackgroundStore(engine), writer, leases,
                                      key_id=sealer.key_id, concurrency=settings.background_concurrency,
                                      poll=settings.background_poll)
        background.start()
        app.state.services = Services(
            router=router,
            responses=responses_service,
            background=background,
            conversations=conversations,
            files=files,
            vector_stores=vector_stores,
            websocket_max_age=settings.websocket_max_age,
        )
        # What start-up made lives as long as the process: out of the collector's sight, a full
        # collection walks only what requests make (about 140,000 objects fewer, 90-145 ms less).
        gc.freeze()
        gc.set_threshold(*GC_THRESHOLDS)
        try:
            yield
        finally:
            await ingester.close()
            await background.close()
            await leases.close()
            await writer.close()
            await router.aclose()
            await tools.aclose()
            await engine.dispose()
            stop_tracing()
            metrics.worker_stopped()

    app = OrreryApp(title="orrery", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None)
    add_docs(app)
    app.state.max_request_bytes = settings.max_request_bytes
    app.state.rate_limiter = RateLimiter(settings.requests_per_minute, settings.concurrent_responses)
    app.openapi = partial(openapi_document, app)  # type: ignore[method-assign]
    if settings.recording_mode is not RecordingMode.LIVE:
        app.add_middleware(RecordingContextMiddleware)
    app.add_middleware(AuthMiddleware)
    app.add_middleware(RequestBodyLimitMiddleware, max_body_size=settings.max_request_bytes)
    app.add_middleware(OpenAIShaped413, limit=settings.max_request_bytes)
    app.add_middleware(RequestMetrics)
    app.add_exception_handler(APIError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
    for module in (responses, conversation_routes, file_routes, vector_store_routes, models, passthrough,
                   metrics_routes):
        app.include_router(module.router)
    mount_console(app, settings.recording_dir)

    @app.get("/health", include_in_schema=False)
    async def health() -> Response:
        return JSONBody({"status": "ok"})

    return app


def app_from_env() -> FastAPI:
    """The factory uvicorn's worker processes call; the parent passes the settings as JSON (spawned
    processes inherit no logging set-up either)."""
    settings = Settings.from_json(orjson.loads(os.environ[SETTINGS_ENV]))
    logs.configure(settings.log_level, settings.log_format)
    return create_app(settings, run_migrations=os.environ.get(MIGRATED_ENV) != "1")
