"""Text embedders: the bundled local model, or any provider's ``/embeddings``."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from orrery.embeddings.base import Embedder
from orrery.embeddings.local import MODEL as LOCAL_MODEL
from orrery.embeddings.local import LocalEmbedder
from orrery.embeddings.remote import ProviderEmbedder

if TYPE_CHECKING:
    from orrery.inference.router import ModelRouter

DEFAULT_MODEL = LOCAL_MODEL


@cache
def local_embedder() -> LocalEmbedder:
    """The process's one local embedder, so the model is loaded at most once."""
    return LocalEmbedder()


def embedder_for(model: str, router: ModelRouter) -> Embedder:
    """``local`` or the local model's name gives the local embedder; ``PROVIDER/NAME`` (or a bare
    name, for the first provider) embeds upstream. Raises NotFound for an unknown provider."""
    if model in ("local", LOCAL_MODEL):
        return local_embedder()
    provider, upstream_model = router.resolve(model)
    return ProviderEmbedder(provider, upstream_model)
