"""Sealed state that clients carry: ``encrypted_content`` of reasoning items.

Sealed with Fernet (AES-128-CBC with HMAC-SHA256, from ``cryptography``) under the server's state
key, so a ``store: false`` client can hand back what the model reasoned and only this server (or
one sharing its key) can read it, or tell that it was changed.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import orjson
from cryptography.fernet import Fernet, InvalidToken

from orrery.config import ConfigError, Settings

KEY_FILE = "state.key"


class Sealer:
    def __init__(self, key: bytes | str) -> None:
        try:
            self._fernet = Fernet(key)
            self._key_id = hashlib.sha256(key.encode() if isinstance(key, str) else key).hexdigest()[:32]
        except ValueError:
            raise ConfigError("state_key must be a Fernet key: 32 url-safe base64-encoded bytes "
                              "(python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key())')"
                              ) from None

    @classmethod
    def from_settings(cls, settings: Settings) -> Sealer:
        """The configured key, or the one in the data directory, made there the first time."""
        return cls(settings.state_key or _stored_key(settings.data_dir / KEY_FILE))

    @property
    def key_id(self) -> str:
        """A name for the key that does not reveal it: processes sharing a store tell with it
        whether they share the key."""
        return self._key_id

    def seal(self, payload: dict[str, Any]) -> str:
        return self._fernet.encrypt(orjson.dumps(payload)).decode()

    def open(self, token: str) -> dict[str, Any] | None:
        """What ``seal`` sealed; ``None`` for a token this key did not seal, or one changed since."""
        try:
            payload = orjson.loads(self._fernet.decrypt(token.encode()))
        except (InvalidToken, orjson.JSONDecodeError, ValueError):
            return None
        return payload if isinstance(payload, dict) else None


def _stored_key(path: Path) -> bytes:
    """The key in ``path``; the first process to need one writes it (readable by its owner only),
    and processes racing it read the same key."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f".{path.name}.{os.getpid()}")
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(Fernet.generate_key())
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_bytes().strip()
