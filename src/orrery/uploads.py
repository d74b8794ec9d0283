"""``orrery files upload`` and ``orrery vector-stores create``: fill a running server from the shell.

Uploads stream from disk with a progress bar over their bytes; a new vector store then shows a
progress bar over its files until ingestion is done.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any, BinaryIO, cast

import httpx2
from tqdm import tqdm

DEFAULT_BASE_URL = "http://localhost:8321/v1"
POLL_SECONDS = 0.5


class _Counted:
    """A file whose reads advance a progress bar."""

    def __init__(self, source: BinaryIO, bar: tqdm) -> None:
        self._source = source
        self._bar = bar

    def read(self, size: int = -1) -> bytes:
        data = self._source.read(size)
        self._bar.update(len(data))
        return data


def add_commands(commands: argparse._SubParsersAction) -> None:
    files = commands.add_parser("files", help="upload files to a running server")
    upload = files.add_subparsers(dest="action", required=True).add_parser("upload", help="upload files")
    upload.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    upload.add_argument("--purpose", default="assistants", help="the files' purpose (default assistants)")
    stores = commands.add_parser("vector-stores", help="build vector stores on a running server")
    create = stores.add_subparsers(dest="action", required=True).add_parser(
        "create", help="upload files and build a vector store of them")
    create.add_argument("name")
    create.add_argument("--files", nargs="+", type=Path, required=True, metavar="PATH")
    create.add_argument("--no-wait", action="store_true", help="return without waiting for ingestion")
    for parser in (upload, create):
        parser.add_argument("--base-url", default=DEFAULT_BASE_URL, help=f"the server (default {DEFAULT_BASE_URL})")
        parser.add_argument("--api-key", help="sent as a bearer token when given")


def _client(args: argparse.Namespace) -> httpx2.Client:
    headers = {"authorization": f"Bearer {args.api_key}"} if args.api_key else {}
    return httpx2.Client(base_url=args.base_url.rstrip("/") + "/", headers=headers, timeout=600)


def _checked(response: httpx2.Response) -> Any:
    if response.status_code >= 400:
        try:
            message = response.json()["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = response.text
        raise SystemExit(f"orrery: {response.request.method} {response.request.url} failed "
                         f"({response.status_code}): {message}")
    return response.json()


def upload_all(client: httpx2.Client, paths: list[Path], purpose: str) -> list[str]:
    missing = [str(path) for path in paths if not path.is_file()]
    if missing:
        raise SystemExit(f"orrery: no such file: {', '.join(missing)}")
    ids = []
    with tqdm(total=sum(path.stat().st_size for path in paths), unit="B", unit_scale=True, desc="upload",
              file=sys.stderr) as bar:
        for path in paths:
            with path.open("rb") as source:
                # Not an IO[bytes], but httpx2 only needs read() of a file (it probes fileno/seek and does without).
                counted = cast(BinaryIO, _Counted(source, bar))
                created = _checked(client.post("files", data={"purpose": purpose},
                                               files={"file": (path.name, counted)}))
            ids.append(created["id"])
    return ids


def wait_ingested(client: httpx2.Client, store_id: str, total: int) -> dict[str, Any]:
    with tqdm(total=total, unit="file", desc="ingest", file=sys.stderr) as bar:
        while True:
            store = _checked(client.get(f"vector_stores/{store_id}"))
            counts = store["file_counts"]
            bar.n = counts["total"] - counts["in_progress"]
            bar.refresh()
            if not counts["in_progress"]:
                return store
            time.sleep(POLL_SECONDS)


def run(args: argparse.Namespace) -> int:
    with _client(args) as client:
        if args.command == "files":
            for file_id, path in zip(upload_all(client, args.paths, args.purpose), args.paths, strict=True):
                print(f"{file_id}\t{path}")
            return 0
        file_ids = upload_all(client, args.files, "assistants")
        store = _checked(client.post("vector_stores", json={"name": args.name, "file_ids": file_ids}))
        if not args.no_wait:
            store = wait_ingested(client, store["id"], len(file_ids))
        counts = store["file_counts"]
        print(f"{store['id']}\t{args.name}\t{counts['completed']} completed, {counts['failed']} failed, "
              f"{counts['in_progress']} in progress")
        return 1 if counts["failed"] else 0
