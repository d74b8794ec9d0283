"""File bytes on local disk, one blob per file id, written by streaming copies."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path
from typing import BinaryIO

COPY_BUFFER = 1024 * 1024


class BlobStore:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path(self, file_id: str) -> Path:
        return self.directory / file_id

    def _write(self, file_id: str, source: BinaryIO) -> int:
        self.directory.mkdir(parents=True, exist_ok=True)
        target = self.path(file_id)
        partial = target.with_suffix(".partial")
        with partial.open("wb") as out:
            shutil.copyfileobj(source, out, COPY_BUFFER)
            size = out.tell()
        partial.replace(target)
        return size

    async def write(self, file_id: str, source: BinaryIO) -> int:
        """Copy ``source`` to the blob in chunks, off the event loop; the size written."""
        return await asyncio.to_thread(self._write, file_id, source)

    async def delete(self, file_id: str) -> None:
        try:
            await asyncio.to_thread(os.remove, self.path(file_id))
        except FileNotFoundError:
            pass
