"""HTTP routes of ``/v1/models``: every provider's models, named ``ID/NAME``.

A provider that cannot list its models (unreachable, or answering an error) still has its
configured models (``providers[].models``) listed; the answer names it in the
``x-orrery-unlisted-providers`` header, and is a 502 naming it when nothing at all can be listed.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from orrery.api.common import JSONBody, services
from orrery.errors import APIError, NotFound

router = APIRouter()

UNLISTED_HEADER = "x-orrery-unlisted-providers"


def _unlisted(unlisted: dict[str, str]) -> APIError:
    reasons = "; ".join(f"provider {provider_id}: {why}" for provider_id, why in unlisted.items())
    return APIError(f"Cannot list models: {reasons}", status_code=502, error_type="upstream_error",
                    code="models_unlisted")


@router.get("/v1/models")
async def list_models(request: Request) -> Response:
    listing = await services(request).router.list_models()
    if listing.unlisted and not listing.models:
        raise _unlisted(listing.unlisted)
    headers = {UNLISTED_HEADER: ", ".join(listing.unlisted)} if listing.unlisted else None
    return JSONBody({"object": "list", "data": listing.models}, headers=headers)


@router.get("/v1/models/{model_id:path}")
async def retrieve_model(request: Request, model_id: str) -> Response:
    listing = await services(request).router.list_models()
    for model in listing.models:
        if model["id"] == model_id:
            return JSONBody(model)
    provider_id = model_id.partition("/")[0]
    if provider_id in listing.unlisted:
        raise _unlisted({provider_id: listing.unlisted[provider_id]})
    raise NotFound(f"The model '{model_id}' does not exist.", param="model", code="model_not_found")
