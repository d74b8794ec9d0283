"""Request-model pieces every surface shares: strictness, ids, metadata, attribute filters."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StringConstraints,
    Tag,
)
from pydantic_core import PydanticCustomError, PydanticKnownError


def _check_metadata(value: dict[str, str]) -> dict[str, str]:
    """OpenAI's limits, refused with OpenAI's error codes (``orrery.wire.validation`` words them)."""
    if len(value) > 16:
        raise PydanticCustomError("object_above_max_properties", "too many properties",
                                  {"max_properties": 16, "properties": len(value)})
    for key, item in value.items():
        if len(key) > 64:
            raise PydanticCustomError("property_name_above_max_length", "property name too long",
                                      {"max_length": 64, "name": key})
        if len(item) > 512:
            raise PydanticCustomError("string_above_max_length", "string too long",
                                      {"max_length": 512, "key": key, "length": len(item)})
    return value


Metadata = Annotated[dict[str, str], AfterValidator(_check_metadata)]
"""OpenAI's metadata: at most 16 string pairs, keys up to 64 and values up to 512 characters."""


def at_most(limit: int) -> BeforeValidator:
    """A list's length checked before its elements are validated.

    Pydantic's ``max_length`` counts after validating every element, so a 32 MiB body of a
    million items would cost seconds of CPU before its 400; this refuses it at once.
    """

    def check(value: Any) -> Any:
        if isinstance(value, list) and len(value) > limit:
            raise PydanticKnownError("too_long", {"field_type": "List", "max_length": limit,
                                                  "actual_length": len(value)})
        return value

    return BeforeValidator(check)


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
