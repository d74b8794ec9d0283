"""What every repository shares: list pages, sort order, and which keys a column can hold."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from orrery.store.schema import ID_LENGTH

Order = Literal["asc", "desc"]


@dataclass(frozen=True)
class Page:
    data: list[dict[str, Any]]
    has_more: bool


def now_us() -> int:
    """The time as the store keeps it: microseconds since the epoch."""
    return time.time_ns() // 1000


def storable(value: str, length: int = ID_LENGTH) -> bool:
    """Whether ``value`` can be in a text column at all; other values match no row."""
    return len(value) <= length and "\x00" not in value


def after_cursor(table: Any, key: Any, created_at: int, after: str, order: Order) -> Any:
    """Rows after the cursor row (``created_at``, ``after``) in the ``(created_at, key)`` keyset."""
    if order == "asc":
        return or_(table.c.created_at > created_at, and_(table.c.created_at == created_at, key > after))
    return or_(table.c.created_at < created_at, and_(table.c.created_at == created_at, key < after))


def keyset_order(table: Any, key: Any, order: Order) -> tuple[Any, Any]:
    """``ORDER BY created_at, key``, both ascending or both descending, so pages never skip rows."""
    if order == "asc":
        return table.c.created_at.asc(), key.asc()
    return table.c.created_at.desc(), key.desc()


async def keyset_page(connection: AsyncConnection, query: Select[Any], table: Any, key: Any, after: str | None,
                      order: Order, *scope: Any) -> Select[Any]:
    """``query`` ordered by the ``(created_at, key)`` keyset and, when the row ``key == after``
    (within ``scope``) exists, narrowed to the rows after it."""
    if after is not None and storable(after):
        created_at = (await connection.execute(select(table.c.created_at).where(key == after, *scope))).scalar()
        if created_at is not None:
            query = query.where(after_cursor(table, key, created_at, after, order))
    return query.order_by(*keyset_order(table, key, order))
