"""``orrery files`` and ``orrery vector-stores``: fill and look into a running server from the shell.

Uploads stream from disk with a progress bar over their bytes; a new vector store then shows a
progress bar over its files until ingestion is done. The server is ``--url``, else ``ORRERY_URL``,
else ``OPENAI_BASE_URL``, else the default address; httpx2 and tqdm are imported only to run a
command, so that ``orrery --help`` stays quick.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import textwrap
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, cast

from orrery.urls import redacted

if TYPE_CHECKING:
    import httpx2
    from tqdm import tqdm

DEFAULT_URL = "http://127.0.0.1:8321"
POLL_SECONDS = 0.5
TIMEOUT = 600.0
TEXT_WIDTH = 100
"""Characters of a search result's text shown in the table."""


@dataclass(frozen=True)
class Server:
    url: str
    """The server's root, without ``/v1``."""
    api_key: str | None


def server_of(args: argparse.Namespace, env: Mapping[str, str]) -> Server:
    """The server and key a command talks to. ``OPENAI_API_KEY`` goes only with ``OPENAI_BASE_URL``'s
    server, so an OpenAI key is never sent to a server it was not meant for."""
    if args.url or env.get("ORRERY_URL"):
        url, api_key = args.url or env["ORRERY_URL"], env.get("ORRERY_API_KEY")
    elif env.get("OPENAI_BASE_URL"):
        url, api_key = env["OPENAI_BASE_URL"], env.get("ORRERY_API_KEY") or env.get("OPENAI_API_KEY")
    else:
        url, api_key = DEFAULT_URL, env.get("ORRERY_API_KEY")
    return Server(url.rstrip("/").removesuffix("/v1"), args.api_key or api_key or None)


class _Counted:
    """A file whose reads advance a progress bar."""

    def __init__(self, source: BinaryIO, bar: tqdm) -> None:
        self._source = source
        self._bar = bar

    def read(self, size: int = -1) -> bytes:
        data = self._source.read(size)
        self._bar.update(len(data))
        return data


def _server_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", "--base-url", dest="url",
                        help=f"the server, with or without /v1 (default: $ORRERY_URL, else $OPENAI_BASE_URL, "
                             f"else {DEFAULT_URL})")
    parser.add_argument("--api-key", help="sent as a bearer token (default: $ORRERY_API_KEY; $OPENAI_API_KEY "
                                          "when the server is $OPENAI_BASE_URL)")


def add_commands(commands: argparse._SubParsersAction) -> None:
    files = commands.add_parser("files", help="upload, list and delete the files of a running server")
    file_actions = files.add_subparsers(dest="action", required=True)
    upload = file_actions.add_parser("upload", help="upload files; prints each one's id and path")
    upload.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    upload.add_argument("--purpose", default="assistants", help="the files' purpose (default assistants)")
    listed = file_actions.add_parser("list", help="the files: id, filename, bytes, purpose, created")
    listed.add_argument("--purpose", help="only the files of this purpose")
    delete = file_actions.add_parser("delete", help="delete files by id")
    delete.add_argument("ids", nargs="+", metavar="ID")
    stores = commands.add_parser("vector-stores", help="build, list and search the vector stores of a running server")
    store_actions = stores.add_subparsers(dest="action", required=True)
    create = store_actions.add_parser("create", help="upload files and build a vector store of them")
    create.add_argument("name")
    create.add_argument("--files", nargs="+", type=Path, required=True, metavar="PATH")
    create.add_argument("--no-wait", action="store_true", help="return without waiting for ingestion")
    stores_listed = store_actions.add_parser("list", help="the vector stores: id, name, files, bytes, status, created")
    search = store_actions.add_parser("search", help="search a vector store: score, file and text of each result")
    search.add_argument("store_id", metavar="ID")
    search.add_argument("query")
    search.add_argument("--max-results", type=int, default=10, help="results at most, 1 to 50 (default 10)")
    for parser in (listed, stores_listed, search):
        parser.add_argument("--json", action="store_true", help="print the server's JSON instead of a table")
    for parser in (upload, listed, delete, create, stores_listed, search):
        _server_options(parser)


def _checked(response: httpx2.Response) -> Any:
    """The answer's JSON; an error answer ends the command with the server's message."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code >= 400:
        error = body.get("error") if isinstance(body, dict) else None
        message = error.get("message") if isinstance(error, dict) else response.text[:200]
        raise SystemExit(f"orrery: {response.request.method} {redacted(str(response.request.url))} failed "
                         f"({response.status_code}): {message}")
    if body is None:
        raise SystemExit(f"orrery: {redacted(str(response.request.url))} did not answer JSON: is it an orrery?")
    return body


def _pages(client: httpx2.Client, path: str, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every object of a paginated list, page after page while ``has_more``."""
    while True:
        page = _checked(client.get(path, params=params))
        yield from page["data"]
        if not page.get("has_more") or not page["data"]:
            return
        params = {**params, "after": page["data"][-1]["id"]}


def _when(seconds: int | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(seconds)) if seconds else "-"


def _table(header: tuple[str, ...], rows: list[tuple[Any, ...]], right: frozenset[int] = frozenset()) -> None:
    """Columns padded to their widest cell (``right``: aligned right), the last one left unpadded."""
    cells = [header, *[tuple("-" if cell is None else str(cell) for cell in row) for row in rows]]
    widths = [max(len(row[column]) for row in cells) for column in range(len(header))]
    for row in cells:
        padded = [cell.rjust(width) if column in right else cell.ljust(width)
                  for column, (cell, width) in enumerate(zip(row, widths, strict=True))]
        print("  ".join(padded[:-1] + [row[-1]]).rstrip())


def upload_all(client: httpx2.Client, paths: list[Path], purpose: str) -> list[str]:
    from tqdm import tqdm

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
    from tqdm import tqdm

    with tqdm(total=total, unit="file", desc="ingest", file=sys.stderr) as bar:
        while True:
            store = _checked(client.get(f"vector_stores/{store_id}"))
            counts = store["file_counts"]
            bar.n = counts["total"] - counts["in_progress"]
            bar.refresh()
            if not counts["in_progress"]:
                return store
            time.sleep(POLL_SECONDS)


def _upload(client: httpx2.Client, args: argparse.Namespace) -> int:
    for file_id, path in zip(upload_all(client, args.paths, args.purpose), args.paths, strict=True):
        print(f"{file_id}\t{path}")
    return 0


def _list_files(client: httpx2.Client, args: argparse.Namespace) -> int:
    files = list(_pages(client, "files", {"purpose": args.purpose} if args.purpose else {}))
    if args.json:
        print(json.dumps(files, indent=2))
        return 0
    _table(("ID", "FILENAME", "BYTES", "PURPOSE", "CREATED"),
           [(f["id"], f["filename"], f["bytes"], f["purpose"], _when(f["created_at"])) for f in files],
           right=frozenset({2}))
    return 0


def _delete_files(client: httpx2.Client, args: argparse.Namespace) -> int:
    failed = 0
    for file_id in args.ids:
        response = client.delete(f"files/{file_id}")
        if response.status_code == 404:
            print(f"orrery: no file {file_id}", file=sys.stderr)
            failed += 1
            continue
        print(f"deleted {_checked(response)['id']}")
    return 1 if failed else 0


def _create_store(client: httpx2.Client, args: argparse.Namespace) -> int:
    file_ids = upload_all(client, args.files, "assistants")
    store = _checked(client.post("vector_stores", json={"name": args.name, "file_ids": file_ids}))
    if not args.no_wait:
        store = wait_ingested(client, store["id"], len(file_ids))
    counts = store["file_counts"]
    print(f"{store['id']}\t{args.name}\t{counts['completed']} completed, {counts['failed']} failed, "
          f"{counts['in_progress']} in progress")
    return 1 if counts["failed"] else 0


def _list_stores(client: httpx2.Client, args: argparse.Namespace) -> int:
    stores = list(_pages(client, "vector_stores", {"limit": 100}))
    if args.json:
        print(json.dumps(stores, indent=2))
        return 0
    _table(("ID", "NAME", "FILES", "BYTES", "STATUS", "CREATED"),
           [(s["id"], s["name"], s["file_counts"]["total"], s["usage_bytes"], s["status"], _when(s["created_at"]))
            for s in stores], right=frozenset({2, 3}))
    return 0


def _search(client: httpx2.Client, args: argparse.Namespace) -> int:
    answer = _checked(client.post(f"vector_stores/{args.store_id}/search",
                                  json={"query": args.query, "max_num_results": args.max_results}))
    if args.json:
        print(json.dumps(answer, indent=2))
        return 0
    rows = []
    for result in answer["data"]:
        text = " ".join(part.get("text", "") for part in result["content"])
        rows.append((f"{result['score']:.3f}", result["filename"],
                     textwrap.shorten(text, TEXT_WIDTH, placeholder=" …")))
    _table(("SCORE", "FILE", "TEXT"), rows)
    return 0


ACTIONS: dict[tuple[str, str], Callable[[httpx2.Client, argparse.Namespace], int]] = {
    ("files", "upload"): _upload,
    ("files", "list"): _list_files,
    ("files", "delete"): _delete_files,
    ("vector-stores", "create"): _create_store,
    ("vector-stores", "list"): _list_stores,
    ("vector-stores", "search"): _search,
}


def _reason(exc: Exception) -> str:
    """A transport error in a few words (``connection refused``)."""
    reason = re.sub(r"^\[Errno -?\d+\] ", "", str(exc)) or type(exc).__name__
    return reason[:1].lower() + reason[1:]


def run(args: argparse.Namespace) -> int:
    import httpx2

    server = server_of(args, os.environ)
    headers = {"authorization": f"Bearer {server.api_key}"} if server.api_key else {}
    try:
        with httpx2.Client(base_url=f"{server.url}/v1/", headers=headers, timeout=TIMEOUT) as client:
            if args.action in ("upload", "create"):
                client.get(f"{server.url}/health")  # reached before a progress bar is drawn
            return ACTIONS[args.command, args.action](client, args)
    except httpx2.TimeoutException:
        reason = f"no answer within {TIMEOUT:g} s"
    except (httpx2.TransportError, httpx2.InvalidURL) as exc:
        reason = _reason(exc)
    raise SystemExit(f"orrery: no orrery at {redacted(server.url)}: {reason}")
