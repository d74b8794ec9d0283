"""Maps a requested model, ``ID/NAME`` or a bare ``NAME``, to a provider and its upstream model."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from orrery.config import ProviderConfig
from orrery.errors import NotFound
from orrery.inference.errors import UpstreamError
from orrery.inference.openai_compat import OpenAICompatProvider
from orrery.inference.provider import Provider
from orrery.recording.recorder import Recorder
from orrery.urls import redacted

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelListing:
    """The models of every provider, and the providers that could not list theirs, with why."""

    models: list[dict[str, Any]]
    unlisted: dict[str, str] = field(default_factory=dict)


def _provider(config: ProviderConfig, recorder: Recorder | None) -> Provider:
    """A GGUF model runs in-process (and is never recorded); anything else is an HTTP upstream."""
    if config.model_path is not None:
        from orrery.inference.local import LocalProvider  # needs the local extra

        return LocalProvider(config)
    return OpenAICompatProvider(config, recorder.transport_for(config) if recorder is not None else None)


class ModelRouter:
    def __init__(self, providers: list[Provider], configs: tuple[ProviderConfig, ...] = ()) -> None:
        """``configs`` name the models each provider is configured with, listed even when its
        upstream cannot say, and where it is (its URL, credentials redacted)."""
        self.providers = {p.id: p for p in providers}
        self._first = providers[0] if providers else None
        self._configured = {c.id: tuple(m.name for m in c.models) for c in configs}
        self._where = {c.id: redacted(c.base_url) for c in configs}

    @classmethod
    def from_config(cls, configs: tuple[ProviderConfig, ...], recorder: Recorder | None = None) -> ModelRouter:
        """Providers for the configured upstreams, each behind the recorder when there is one."""
        return cls([_provider(c, recorder) for c in configs], configs)

    async def aclose(self) -> None:
        await asyncio.gather(*(p.aclose() for p in self.providers.values()))

    def resolve(self, model: str) -> tuple[Provider, str]:
        provider_id, sep, name = model.partition("/")
        if sep and name:
            provider = self.providers.get(provider_id)
            if provider is None:
                raise NotFound(
                    f"The model '{model}' does not exist: no provider '{provider_id}' is configured "
                    f"(configured: {', '.join(self.providers) or 'none'}).",
                    param="model", code="model_not_found",
                )
        elif self._first is None or not model:
            raise NotFound(f"The model '{model}' does not exist: no provider is configured.",
                           param="model", code="model_not_found")
        else:
            provider, name = self._first, model
        if not provider.serves(name):
            raise NotFound(f"The model '{model}' does not exist: provider '{provider.id}' does not serve '{name}'.",
                           param="model", code="model_not_found")
        return provider, name

    async def list_models(self) -> ModelListing:
        """Every provider's models as ``ID/NAME``: those its upstream lists, and those configured
        for it; a provider that cannot list its models is named in ``unlisted``."""
        unlisted: dict[str, str] = {}

        async def one(provider: Provider) -> list[dict[str, Any]]:
            try:
                listed = await provider.list_models()
            except UpstreamError as exc:
                log.warning("cannot list models of provider %s: %s", provider.id, exc.message)
                where = self._where.get(provider.id)
                unlisted[provider.id] = f"{exc.message} ({where})" if where else exc.message
                listed = []
            models = [
                {"id": f"{provider.id}/{m['id']}", "object": "model",
                 "created": int(m.get("created") or 0), "owned_by": str(m.get("owned_by") or provider.id)}
                for m in listed
            ]
            names = {m["id"] for m in listed}
            models += [{"id": f"{provider.id}/{name}", "object": "model", "created": 0, "owned_by": provider.id}
                       for name in self._configured.get(provider.id, ()) if name not in names]
            return models

        lists = await asyncio.gather(*(one(p) for p in self.providers.values()))
        return ModelListing([model for models in lists for model in models], unlisted)
