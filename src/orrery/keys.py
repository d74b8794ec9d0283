"""``orrery keys create|list|revoke``: the API keys kept in the store (hashed)."""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from orrery.store.api_keys import StoredKey


def add_commands(commands: Any) -> None:
    keys = commands.add_parser("keys", help="make, list and revoke API keys (kept hashed in the store)")
    keys.add_argument("--config", help="YAML config file (default: $ORRERY_CONFIG)")
    keys.add_argument("--db", help="SQLAlchemy URL of the store (default sqlite:///~/.orrery/orrery.db)")
    actions = keys.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="make a key and print it (it is shown this once)")
    create.add_argument("name", help="what the key is for")
    create.add_argument("--project", help="the project (principal) the key acts for (default: NAME)")
    create.add_argument("--admin", action="store_true", help="the key reads every project's objects")
    actions.add_parser("list", help="the keys: name, id, project, created, revoked")
    revoke = actions.add_parser("revoke", help="revoke the keys of a name, or one key by its id")
    revoke.add_argument("name", help="a key's name or id")


def _when(microseconds: int | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(microseconds / 1e6)) if microseconds else "-"


def _line(key: StoredKey) -> str:
    return (f"{key.name}\t{key.id}\t{key.project}{' (admin)' if key.admin else ''}\tcreated {_when(key.created_at_us)}"
            f"\trevoked {_when(key.revoked_at_us)}")


async def _run(args: argparse.Namespace) -> int:
    from orrery.config import load_settings
    from orrery.store.api_keys import ApiKeyStore
    from orrery.store.database import create_engine, migrate

    settings = load_settings(config_path=args.config, overrides={"db_url": args.db})
    engine = create_engine(settings.db_url)
    try:
        await migrate(engine)
        store = ApiKeyStore(engine)
        if args.action == "create":
            stored, key = await store.create(args.name, args.project or args.name, admin=args.admin)
            print(key)
            print(f"made {stored.id} for project {stored.project}: keep the key, it is not shown again")
        elif args.action == "list":
            for stored in await store.list():
                print(_line(stored))
        else:
            revoked = await store.revoke(args.name)
            print(f"revoked {revoked} key{'s' if revoked != 1 else ''}")
            return 0 if revoked else 1
    finally:
        await engine.dispose()
    return 0


def run(args: argparse.Namespace) -> int:
    return asyncio.run(_run(args))
