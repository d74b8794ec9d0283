"""Request-model pieces every surface shares: strictness, ids, metadata, attribute filters."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StringConstraints,
    Tag,
)


def _check_metadata(value: dict[str, str]) -> dict[str, str]:
    if len(value) > 16:
        raise ValueError("metadata may hold at most 16 keys")
    for key, item in value.items():
        if len(key) > 64:
            raise ValueError(f"metadata key {key[:70]!r} is longer than 64 characters")
        if len(item) > 512:
            raise ValueError(f"metadata value of {key!r} is longer than 512 characters")
    return value


Metadata = Annotated[dict[str, str], AfterValidator(_check_metadata)]
"""OpenAI's metadata: at most 16 string pairs, keys up to 64 and values up to 512 characters."""

NO_NUL = r"^[^\x00]*$"
"""The pattern of strings a text column holds: PostgreSQL's text refuses NUL (SQLite is held to it too)."""
Identifier = Annotated[str, StringConstraints(max_length=128, pattern=NO_NUL)]
"""An id we store and look up: at most 128 characters and no NUL, which SQL text refuses."""
ModelName = Annotated[str, StringConstraints(min_length=1, max_length=256, pattern=NO_NUL)]


class StrictModel(BaseModel):
    """Top-level parameters and tool entries: an unknown field is a 400, as OpenAI answers it."""

    model_config = ConfigDict(extra="forbid")


class LenientModel(BaseModel):
    """Items a client echoes back carry fields we do not use (``status``, ``annotations``…)."""

    model_config = ConfigDict(extra="allow")


class ComparisonFilter(StrictModel):
    type: Literal["eq", "ne", "gt", "gte", "lt", "lte", "in", "nin"]
    key: str
    value: StrictBool | StrictInt | StrictFloat | str | list[StrictInt | StrictFloat | str]


def _filter_tag(value: Any) -> str:
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return "compound" if kind in ("and", "or") else "comparison"


class CompoundFilter(StrictModel):
    type: Literal["and", "or"]
    filters: list[Filter] = Field(min_length=1)


Filter = Annotated[
    Annotated[ComparisonFilter, Tag("comparison")] | Annotated[CompoundFilter, Tag("compound")],
    Discriminator(_filter_tag),
]
"""OpenAI's attribute filters of vector-store searches."""
CompoundFilter.model_rebuild()
