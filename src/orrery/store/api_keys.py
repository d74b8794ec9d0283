"""API keys in the store: made, listed and revoked by ``orrery keys``, looked up by their hash."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from orrery.ids import new_id
from orrery.principals import Principal
from orrery.store.common import now_us
from orrery.store.schema import api_keys

KEY_PREFIX = "sk-orrery-"


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class StoredKey:
    id: str
    name: str
    project: str
    admin: bool
    created_at_us: int
    revoked_at_us: int | None
    shown: str
    """What of the key may be shown: its prefix and last four characters."""


class ApiKeyStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def create(self, name: str, project: str, *, admin: bool) -> tuple[StoredKey, str]:
        """A new key for ``project``: its row, and the key itself, which is shown this once."""
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        stored = StoredKey(new_id("key"), name, project, admin, now_us(), None, _shown(key))
        row = {"id": stored.id, "name": name, "project": project, "key_hash": key_hash(key), "admin": int(admin),
               "created_at": stored.created_at_us, "revoked_at": None}
        async with self.engine.begin() as connection:
            await connection.execute(insert(api_keys), [row])
        return stored, key

    async def list(self) -> list[StoredKey]:
        async with self.engine.connect() as connection:
            rows = (await connection.execute(select(api_keys).order_by(api_keys.c.created_at))).all()
        return [StoredKey(row.id, row.name, row.project, bool(row.admin), row.created_at, row.revoked_at,
                          f"{KEY_PREFIX}…") for row in rows]

    async def revoke(self, name_or_id: str) -> int:
        """Revoke the keys with this name (or this id); how many were."""
        async with self.engine.begin() as connection:
            result = await connection.execute(
                update(api_keys).where(or_(api_keys.c.name == name_or_id, api_keys.c.id == name_or_id),
                                       api_keys.c.revoked_at.is_(None)).values(revoked_at=now_us()))
        return result.rowcount

    async def principal(self, hashed: str) -> Principal | None:
        """The principal of the active key with this hash."""
        async with self.engine.connect() as connection:
            row = (await connection.execute(
                select(api_keys.c.project, api_keys.c.admin)
                .where(api_keys.c.key_hash == hashed, api_keys.c.revoked_at.is_(None)))).first()
        return Principal(row.project, bool(row.admin)) if row is not None else None

    async def any_made(self) -> bool:
        """Whether a key was ever made here: revoking every key leaves the server closed, not open."""
        async with self.engine.connect() as connection:
            return (await connection.execute(select(api_keys.c.id).limit(1))).first() is not None


def _shown(key: str) -> str:
    return f"{key[:len(KEY_PREFIX) + 4]}…{key[-4:]}"
