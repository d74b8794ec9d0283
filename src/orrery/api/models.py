"""HTTP routes of ``/v1/models``: every provider's models, named ``ID/NAME``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from orrery.api.common import JSONBody, services
from orrery.errors import NotFound

router = APIRouter()


@router.get("/v1/models")
async def list_models(request: Request) -> Response:
    return JSONBody({"object": "list", "data": await services(request).router.list_models()})


@router.get("/v1/models/{model_id:path}")
async def retrieve_model(request: Request, model_id: str) -> Response:
    for model in await services(request).router.list_models():
        if model["id"] == model_id:
            return JSONBody(model)
    raise NotFound(f"The model '{model_id}' does not exist.", param="model", code="model_not_found")
