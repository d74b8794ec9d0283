"""Engine creation for SQLite or PostgreSQL, connection tuning, and migrations at start-up."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, event
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from orrery.config import ConfigError

MIGRATIONS = Path(__file__).parent / "migrations"
ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg", "postgres": "postgresql+asyncpg"}


def async_url(url: str) -> str:
    """``sqlite:///x.db`` → ``sqlite+aiosqlite:///x.db``; ``postgresql://…`` → asyncpg."""
    try:
        parsed = make_url(url)
    except Exception as exc:
        raise ConfigError(f"cannot parse database URL {url!r}: {exc}") from exc
    driver = ASYNC_DRIVERS.get(parsed.drivername)
    if driver is None and parsed.drivername not in ASYNC_DRIVERS.values():
        raise ConfigError(f"unsupported database {parsed.drivername!r}: use sqlite:/// or postgresql://")
    if driver is not None:
        parsed = parsed.set(drivername=driver)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    return parsed.render_as_string(hide_password=False)


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def _tune_sqlite(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def create_engine(url: str) -> AsyncEngine:
    engine = create_async_engine(
        async_url(url), json_serializer=_json_dumps, json_deserializer=orjson.loads, pool_pre_ping=False,
    )
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _tune_sqlite)
    return engine


def create_sqlite_write_engine(engine: AsyncEngine) -> Engine | None:
    """A synchronous engine on the same SQLite file, for batched writes; None on PostgreSQL."""
    if engine.dialect.name != "sqlite":
        return None
    url = engine.url.set(drivername="sqlite+pysqlite")
    sync_engine = create_sync_engine(url, json_serializer=_json_dumps, json_deserializer=orjson.loads)
    event.listen(sync_engine, "connect", _tune_sqlite)
    return sync_engine


def _upgrade(connection: Connection) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


async def migrate(engine: AsyncEngine) -> None:
    """Bring the schema to the newest revision."""
    async with engine.begin() as connection:
        await connection.run_sync(_upgrade)
