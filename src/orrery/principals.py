"""Who a request acts for, and what of the store that principal may see.

With API keys configured, each key belongs to a project: the principal. The authentication
middleware sets ``current`` for the request; the store's repositories scope every query and
stamp every row by it (``owner_filter``, ``owner``), so no route can forget it. With no key
configured, and in work no request started (a background run sets its response's owner), the
principal is ``None``: nothing is scoped, and rows are stored without an owner.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, true


@dataclass(frozen=True)
class Principal:
    project: str
    admin: bool = False
    """An admin key reads every project's objects."""


current: ContextVar[Principal | None] = ContextVar("orrery_principal", default=None)


def owner() -> str | None:
    """The owner a row written now gets."""
    principal = current.get()
    return principal.project if principal is not None else None


def reads_server_wide() -> bool:
    """Whether the current principal may read what is the server's and no project's (its
    recordings, its metrics): an admin key, or a server with no keys."""
    principal = current.get()
    return principal is None or principal.admin


def owner_filter(column: Any) -> ColumnElement[bool]:
    """The condition on a table's ``owner`` column that keeps what the current principal may see."""
    principal = current.get()
    if principal is None or principal.admin:
        return true()
    return column == principal.project
