"""Request models of ``/v1/vector_stores``, their files, file batches and searches."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, StrictBool, StrictFloat, StrictInt, StringConstraints

from orrery.wire.common import NO_NUL, Filter, Identifier, Metadata, ModelName, StrictModel


class AutoChunking(StrictModel):
    type: Literal["auto"]


class StaticChunkingSizes(StrictModel):
    max_chunk_size_tokens: int = Field(ge=100, le=4096)
    chunk_overlap_tokens: int = Field(ge=0)


class StaticChunking(StrictModel):
    type: Literal["static"]
    static: StaticChunkingSizes

    def model_post_init(self, _context: Any) -> None:
        if self.static.chunk_overlap_tokens > self.static.max_chunk_size_tokens // 2:
            raise ValueError("chunk_overlap_tokens may be at most half of max_chunk_size_tokens")


ChunkingStrategy = Annotated[AutoChunking | StaticChunking, Field(discriminator="type")]

AttributeValue = StrictBool | StrictInt | StrictFloat | Annotated[str, StringConstraints(max_length=512)]


def _check_attributes(value: dict[str, Any]) -> dict[str, Any]:
    if len(value) > 16:
        raise ValueError("attributes may hold at most 16 keys")
    for key in value:
        if len(key) > 64:
            raise ValueError(f"attribute key {key[:70]!r} is longer than 64 characters")
    return value


Attributes = Annotated[dict[str, AttributeValue], AfterValidator(_check_attributes)]
VectorStoreName = Annotated[str, StringConstraints(max_length=1024, pattern=NO_NUL)]


class StoreExpiry(StrictModel):
    anchor: Literal["last_active_at"]
    days: int = Field(ge=1, le=365)


class CreateVectorStoreRequest(StrictModel):
    name: VectorStoreName | None = None
    description: str | None = None
    file_ids: list[Identifier] | None = Field(default=None, max_length=500)
    metadata: Metadata | None = None
    chunking_strategy: ChunkingStrategy | None = None
    expires_after: StoreExpiry | None = None
    embedding_model: ModelName | None = None


class UpdateVectorStoreRequest(StrictModel):
    name: VectorStoreName | None = None
    metadata: Metadata | None = None
    expires_after: StoreExpiry | None = None


class CreateVectorStoreFileRequest(StrictModel):
    file_id: Identifier
    attributes: Attributes | None = None
    chunking_strategy: ChunkingStrategy | None = None


class UpdateVectorStoreFileRequest(StrictModel):
    attributes: Attributes | None


class BatchFile(StrictModel):
    file_id: Identifier
    attributes: Attributes | None = None
    chunking_strategy: ChunkingStrategy | None = None


class CreateFileBatchRequest(StrictModel):
    file_ids: list[Identifier] | None = Field(default=None, min_length=1, max_length=500)
    files: list[BatchFile] | None = Field(default=None, min_length=1, max_length=500)
    attributes: Attributes | None = None
    chunking_strategy: ChunkingStrategy | None = None


class RankingOptions(StrictModel):
    ranker: Literal["auto", "default-2024-11-15", "none"] | None = None
    score_threshold: float | None = Field(default=None, ge=0, le=1)


SearchMode = Literal["vector", "keyword", "hybrid"]


class SearchRequest(StrictModel):
    query: Annotated[str, StringConstraints(min_length=1)] | list[Annotated[str, StringConstraints(min_length=1)]]
    filters: Filter | None = None
    max_num_results: int = Field(default=10, ge=1, le=50)
    ranking_options: RankingOptions | None = None
    rewrite_query: bool | None = None
    search_mode: SearchMode = "vector"
