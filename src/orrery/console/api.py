"""The console's read-only JSON for what the public API has no route for, under ``/console/api/``.

These routes sit behind the same API keys as ``/v1/*``. Conversations are read through the
store's owner scope, as every public route reads them. Recordings belong to the server, not to
a project (one directory for every caller), so only an admin key, or a server with no keys,
reads them; they hold no header, key or URL credentials (see ``orrery.recording``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from orrery import principals
from orrery.api.common import JSONBody, services
from orrery.errors import AdminOnly, NotFound
from orrery.recording.storage import Recording, RecordingStore
from orrery.wire import objects

RECORDING_HASH = re.compile(r"^[0-9a-f]{64}$")

def _summary(recording: Recording) -> dict[str, Any]:
    return {"id": recording.request_hash, "object": "recording", "endpoint": recording.endpoint,
            "model": recording.model, "test_id": recording.test_id, "bytes": recording.size,
            "status": recording.data.get("response", {}).get("status", 200)}


def console_api(recording_dir: Path | None) -> APIRouter:
    """The routes, reading recordings from ``recording_dir`` (none when it is not set)."""
    router = APIRouter(prefix="/console/api", include_in_schema=False)
    recordings = RecordingStore(recording_dir) if recording_dir is not None else None

    def readable() -> RecordingStore | None:
        if not principals.reads_server_wide():
            raise AdminOnly("Recordings are")
        return recordings

    @router.get("/conversations")
    async def list_conversations(request: Request, after: str | None = None,
                                 limit: int = Query(20, ge=1, le=100),
                                 order: Literal["asc", "desc"] = "desc") -> Response:
        return JSONBody(await services(request).conversations.list_page(after=after, limit=limit, order=order))

    @router.get("/recordings")
    async def list_recordings() -> Response:
        store = readable()
        found = store.all() if store is not None else []
        return JSONBody(objects.list_page([_summary(recording) for recording in found], False))

    @router.get("/recordings/{recording_id}")
    async def retrieve_recording(recording_id: str) -> Response:
        store = readable()
        data = store.load(recording_id) if store is not None and RECORDING_HASH.match(recording_id) else None
        if data is None:
            raise NotFound(f"Recording with id '{recording_id[:80]}' not found.", param="recording_id")
        return JSONBody({"id": recording_id, "object": "recording", **data})

    return router
