"""The Files API: upload, list, retrieve, delete and download."""

from __future__ import annotations

import secrets
import time
from pathlib import Path
from typing import Any, BinaryIO

from orrery.errors import InvalidRequest, NotFound
from orrery.files.blobs import BlobStore
from orrery.store.common import Order
from orrery.store.files import FileStore, StoredFile
from orrery.wire import objects
from orrery.wire.shapes import ListPage

PURPOSES = ("assistants", "batch", "fine-tune", "vision", "user_data", "evals")
MIN_EXPIRY_S, MAX_EXPIRY_S = 3600, 30 * 24 * 3600


def file_view(stored: StoredFile) -> dict[str, Any]:
    return {"id": stored.id, "object": "file", "bytes": stored.bytes, "created_at": stored.created_at_us // 1_000_000,
            "filename": stored.filename, "purpose": stored.purpose, "status": "processed",
            "expires_at": stored.expires_at, "status_details": None}


def expiry(anchor: str | None, seconds: str | None) -> int | None:
    """``expires_after[anchor]`` / ``[seconds]`` form fields as an absolute time, or None."""
    if anchor is None and seconds is None:
        return None
    if anchor != "created_at":
        raise InvalidRequest("Invalid value for 'expires_after.anchor': it must be 'created_at'.",
                             param="expires_after.anchor", code="invalid_value")
    try:
        after = int(seconds or "")
    except ValueError:
        after = -1
    if not MIN_EXPIRY_S <= after <= MAX_EXPIRY_S:
        raise InvalidRequest(f"Invalid value for 'expires_after.seconds': it must be an integer from "
                             f"{MIN_EXPIRY_S} to {MAX_EXPIRY_S}.", param="expires_after.seconds", code="invalid_value")
    return int(time.time()) + after


class FileService:
    def __init__(self, store: FileStore, blobs: BlobStore) -> None:
        self.store = store
        self.blobs = blobs

    async def upload(self, source: BinaryIO, filename: str, purpose: str, expires_at: int | None) -> dict[str, Any]:
        if purpose not in PURPOSES:
            raise InvalidRequest(f"Invalid value for 'purpose': '{purpose[:64]}'. Supported values are: "
                                 f"{', '.join(repr(p) for p in PURPOSES)}.", param="purpose", code="invalid_value")
        if "\x00" in filename:
            raise InvalidRequest("Invalid 'file': its filename must not contain NUL characters (\\u0000).",
                                 param="file", code="invalid_value")
        file_id = f"file-{secrets.token_hex(12)}"
        size = await self.blobs.write(file_id, source)
        stored = StoredFile(file_id, time.time_ns() // 1000, size, filename[:1024], purpose, expires_at)
        await self._record(stored)
        return file_view(stored)

    async def _record(self, stored: StoredFile) -> None:
        """Insert the file's row; a blob whose row could not be written would never be deleted."""
        try:
            await self.store.create(stored)
        except BaseException:
            await self.blobs.delete(stored.id)
            raise

    async def get(self, file_id: str) -> StoredFile:
        stored = await self.store.get(file_id)
        if stored is None:
            raise NotFound(f"No such File object: {file_id[:140]}", param="file_id")
        return stored

    async def retrieve(self, file_id: str) -> dict[str, Any]:
        return file_view(await self.get(file_id))

    async def content_path(self, file_id: str) -> tuple[StoredFile, Path]:
        stored = await self.get(file_id)
        return stored, self.blobs.path(file_id)

    async def delete(self, file_id: str) -> dict[str, Any]:
        if not await self.store.delete(file_id):
            raise NotFound(f"No such File object: {file_id[:140]}", param="file_id")
        await self.blobs.delete(file_id)
        return {"id": file_id, "object": "file", "deleted": True}

    async def list_page(self, *, after: str | None, limit: int, order: Order, purpose: str | None) -> ListPage:
        rows, has_more = await self.store.list_page(after=after, limit=limit, order=order, purpose=purpose)
        return objects.list_page([file_view(row) for row in rows], has_more)
