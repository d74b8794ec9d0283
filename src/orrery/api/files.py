"""HTTP routes of ``/v1/files``: multipart uploads spooled to disk, never held whole in memory."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query, Request
from starlette.datastructures import UploadFile
from starlette.responses import FileResponse, Response

from orrery.api.common import JSONBody, services
from orrery.errors import InvalidRequest
from orrery.files.service import expiry

router = APIRouter()

UPLOAD_BODY = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file", "purpose"],
    "properties": {"file": {"type": "string", "format": "binary"}, "purpose": {"type": "string"}}}}}}}


def _text_field(form, name: str) -> str | None:
    value = form.get(name)
    if value is None or isinstance(value, str):
        return value
    raise InvalidRequest(f"Invalid value for '{name}': expected a text field.", param=name, code="invalid_value")


MAX_UPLOAD_BYTES = 512 * 1024 * 1024 + 1024 * 1024
"""An upload's body at most: OpenAI's 512 MB a file, and room for the multipart framing."""


@router.post("/v1/files", openapi_extra=UPLOAD_BODY, max_body_size=MAX_UPLOAD_BYTES)
async def upload_file(request: Request) -> Response:
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise InvalidRequest("Uploads must be multipart/form-data with 'file' and 'purpose'.",
                             code="invalid_content_type")
    async with request.form(max_files=1, max_fields=16) as form:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise InvalidRequest("Missing required parameter: 'file'.", param="file",
                                 code="missing_required_parameter")
        purpose = _text_field(form, "purpose")
        if purpose is None:
            raise InvalidRequest("Missing required parameter: 'purpose'.", param="purpose",
                                 code="missing_required_parameter")
        expires_at = expiry(_text_field(form, "expires_after[anchor]"), _text_field(form, "expires_after[seconds]"))
        created = await services(request).files.upload(upload.file, upload.filename or "upload", purpose, expires_at)
    return JSONBody(created)


@router.get("/v1/files")
async def list_files(
    request: Request,
    after: str | None = None,
    limit: int = Query(10000, ge=1, le=10000),
    order: Literal["asc", "desc"] = "desc",
    purpose: str | None = None,
) -> Response:
    return JSONBody(await services(request).files.list_page(after=after, limit=limit, order=order, purpose=purpose))


@router.get("/v1/files/{file_id}")
async def retrieve_file(request: Request, file_id: str) -> Response:
    return JSONBody(await services(request).files.retrieve(file_id))


@router.delete("/v1/files/{file_id}")
async def delete_file(request: Request, file_id: str) -> Response:
    return JSONBody(await services(request).files.delete(file_id))


@router.get("/v1/files/{file_id}/content")
async def file_content(request: Request, file_id: str) -> Response:
    stored, path = await services(request).files.content_path(file_id)
    return FileResponse(path, media_type="application/octet-stream", filename=stored.filename)
