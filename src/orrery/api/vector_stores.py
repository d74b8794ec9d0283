"""HTTP routes of ``/v1/vector_stores``: stores, their files, file batches and search."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from orrery.api.common import JSONBody, errors, json_body, services
from orrery.wire.validation import parse_request
from orrery.wire.vector_stores import (
    CreateFileBatchRequest,
    CreateVectorStoreFileRequest,
    CreateVectorStoreRequest,
    SearchRequest,
    UpdateVectorStoreFileRequest,
    UpdateVectorStoreRequest,
)

router = APIRouter(prefix="/v1/vector_stores")

Status = Literal["in_progress", "completed", "failed", "cancelled"]
Order = Literal["asc", "desc"]


@router.post("", openapi_extra=json_body(CreateVectorStoreRequest), responses=errors(404))
async def create_store(request: Request) -> Response:
    body = parse_request(await request.body(), CreateVectorStoreRequest)
    return JSONBody(await services(request).vector_stores.create(body))


@router.get("")
async def list_stores(request: Request, after: str | None = None, limit: int = Query(20, ge=1, le=100),
                      order: Order = "desc") -> Response:
    return JSONBody(await services(request).vector_stores.list_page(after=after, limit=limit, order=order))


@router.get("/{store_id}")
async def retrieve_store(request: Request, store_id: str) -> Response:
    return JSONBody(await services(request).vector_stores.retrieve(store_id))


@router.post("/{store_id}", openapi_extra=json_body(UpdateVectorStoreRequest))
async def update_store(request: Request, store_id: str) -> Response:
    body = parse_request(await request.body(), UpdateVectorStoreRequest)
    return JSONBody(await services(request).vector_stores.update(store_id, body))


@router.delete("/{store_id}")
async def delete_store(request: Request, store_id: str) -> Response:
    return JSONBody(await services(request).vector_stores.delete(store_id))


@router.post("/{store_id}/search", openapi_extra=json_body(SearchRequest))
async def search(request: Request, store_id: str) -> Response:
    body = parse_request(await request.body(), SearchRequest)
    return JSONBody(await services(request).vector_stores.search(store_id, body))


@router.post("/{store_id}/files", openapi_extra=json_body(CreateVectorStoreFileRequest))
async def add_file(request: Request, store_id: str) -> Response:
    body = parse_request(await request.body(), CreateVectorStoreFileRequest)
    return JSONBody(await services(request).vector_stores.add_file(store_id, body))


@router.get("/{store_id}/files")
async def list_files(request: Request, store_id: str, after: str | None = None,
                     limit: int = Query(20, ge=1, le=100), order: Order = "desc",
                     filter: Status | None = None) -> Response:
    page = await services(request).vector_stores.list_files(store_id, after=after, limit=limit, order=order,
                                                            status=filter)
    return JSONBody(page)


@router.get("/{store_id}/files/{file_id}")
async def retrieve_file(request: Request, store_id: str, file_id: str) -> Response:
    return JSONBody(await services(request).vector_stores.retrieve_file(store_id, file_id))


@router.post("/{store_id}/files/{file_id}", openapi_extra=json_body(UpdateVectorStoreFileRequest))
async def update_file(request: Request, store_id: str, file_id: str) -> Response:
    body = parse_request(await request.body(), UpdateVectorStoreFileRequest)
    return JSONBody(await services(request).vector_stores.update_file(store_id, file_id, body.attributes or {}))


@router.delete("/{store_id}/files/{file_id}")
async def remove_file(request: Request, store_id: str, file_id: str) -> Response:
    return JSONBody(await services(request).vector_stores.remove_file(store_id, file_id))


@router.get("/{store_id}/files/{file_id}/content")
async def file_content(request: Request, store_id: str, file_id: str) -> Response:
    return JSONBody(await services(request).vector_stores.file_content(store_id, file_id))


@router.post("/{store_id}/file_batches", openapi_extra=json_body(CreateFileBatchRequest))
async def create_batch(request: Request, store_id: str) -> Response:
    body = parse_request(await request.body(), CreateFileBatchRequest)
    return JSONBody(await services(request).vector_stores.create_batch(store_id, body))


@router.get("/{store_id}/file_batches/{batch_id}")
async def retrieve_batch(request: Request, store_id: str, batch_id: str) -> Response:
    return JSONBody(await services(request).vector_stores.retrieve_batch(store_id, batch_id))


@router.post("/{store_id}/file_batches/{batch_id}/cancel")
async def cancel_batch(request: Request, store_id: str, batch_id: str) -> Response:
    return JSONBody(await services(request).vector_stores.cancel_batch(store_id, batch_id))


@router.get("/{store_id}/file_batches/{batch_id}/files")
async def list_batch_files(request: Request, store_id: str, batch_id: str, after: str | None = None,
                           limit: int = Query(20, ge=1, le=100), order: Order = "desc",
                           filter: Status | None = None) -> Response:
    page = await services(request).vector_stores.list_batch_files(store_id, batch_id, after=after, limit=limit,
                                                                  order=order, status=filter)
    return JSONBody(page)
