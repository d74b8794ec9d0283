"""API keys on ``/v1/*`` and the console's JSON (``/console/api/*``): the middleware that finds
the principal a request acts for.

With no key configured (none in the settings, none ever made in the store: revoking every key
does not open the server again) every request is served, as no principal. Otherwise each
``/v1/*`` request, WebSocket upgrades included, needs ``Authorization: Bearer KEY``, answered 401
(OpenAI's shape) without one that is known. A key is compared by its SHA-256, in constant time
for the configured ones; keys are never logged. Keys made or revoked with ``orrery keys`` take
effect within ``RECHECK_AFTER`` seconds.
"""

from __future__ import annotations

import hmac
import time

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from orrery.api.rate_limits import RateLimiter
from orrery.errors import APIError
from orrery.principals import Principal, current
from orrery.store.api_keys import ApiKeyStore, key_hash

GUARDED = ("/v1/", "/console/api/", "/metrics")
"""The paths that need a key; the console's own page and files (``/console/*``) hold no data."""

RECHECK_AFTER = 5.0
"""Seconds a stored key's lookup (found or not), and whether any key is active, are remembered."""

MISSING = APIError("You didn't provide an API key. You need to provide your API key in an Authorization header "
                   "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).", status_code=401,
                   error_type="invalid_request_error")
UNKNOWN = APIError("Incorrect API key provided.", status_code=401, error_type="invalid_request_error",
                   code="invalid_api_key")


class Authenticator:
    def __init__(self, static: dict[str, Principal], store: ApiKeyStore) -> None:
        """``static``: the configured keys, by key."""
        self._static = [(key_hash(key), principal) for key, principal in static.items()]
        self._store = store
        self._looked_up: dict[str, tuple[float, Principal | None]] = {}
        self._open_until = 0.0
        self._open = not self._static

    async def is_open(self) -> bool:
        """Whether no key is configured, so every request is served."""
        if self._static:
            return False
        now = time.monotonic()
        if now >= self._open_until:
            self._open = not await self._store.any_made()
            self._open_until = now + RECHECK_AFTER
        return self._open

    async def principal(self, key: str) -> Principal | None:
        hashed = key_hash(key)
        found: Principal | None = None
        for known, configured in self._static:
            if hmac.compare_digest(known, hashed):
                found = configured
        if found is not None:
            return found
        now = time.monotonic()
        cached = self._looked_up.get(hashed)
        if cached is not None and cached[0] > now:
            return cached[1]
        principal = await self._store.principal(hashed)
        if len(self._looked_up) > 10_000:
            self._looked_up.clear()
        self._looked_up[hashed] = (now + RECHECK_AFTER, principal)
        return principal


def _bearer(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() != "bearer":
                return None
            return token.strip() or None
    return None


class AuthMiddleware:
    """Sets ``principals.current`` for each ``GUARDED`` request, or answers it 401 (or 429, past its
    project's limits)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or not scope["path"].startswith(GUARDED):
            await self.app(scope, receive, send)
            return
        authenticator: Authenticator = scope["app"].state.authenticator
        if await authenticator.is_open():
            await self.app(scope, receive, send)
            return
        key = _bearer(scope)
        principal = await authenticator.principal(key) if key else None
        if principal is None:
            await _refuse(scope, receive, send, UNKNOWN if key else MISSING)
            return
        limiter: RateLimiter = scope["app"].state.rate_limiter
        creates = scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == "/v1/responses"
        try:
            limiter.admit(principal.project, creates)
        except APIError as exc:
            await _refuse(scope, receive, send, exc)
            return
        token = current.set(principal)
        try:
            await self.app(scope, receive, send)
        finally:
            current.reset(token)
            if creates:
                limiter.finished(principal.project)


async def _refuse(scope: Scope, receive: Receive, send: Send, error: APIError) -> None:
    """A 401 or 429 with OpenAI's error body; for a WebSocket upgrade, as its HTTP answer."""
    body = orjson.dumps(error.body())
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
               *((name.encode(), value.encode()) for name, value in error.headers.items())]
    if error.status_code == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    prefix = "websocket.http." if scope["type"] == "websocket" else "http."
    if scope["type"] == "websocket" and "websocket.http.response" not in scope.get("extensions", {}):
        await send({"type": "websocket.close", "code": 1008, "reason": error.message[:120]})
        return
    await send({"type": prefix + "response.start", "status": error.status_code, "headers": headers})
    await send({"type": prefix + "response.body", "body": body})
