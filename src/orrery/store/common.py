"""What every repository shares: list pages, sort order, and which keys a column can hold."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from orrery.store.schema import ID_LENGTH

Order = Literal["asc", "desc"]


@dataclass(frozen=True)
class Page:
    data: list[dict[str, Any]]
    has_more: bool


def storable(value: str, length: int = ID_LENGTH) -> bool:
    """Whether ``value`` can be in a text column at all; other values match no row."""
    return len(value) <= length and "\x00" not in value
