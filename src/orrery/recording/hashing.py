"""The request hash of a recording: llama-stack's rule, so its recordings replay here.

``sha256(json.dumps({"test_id", "method", "endpoint", "body"}, sort_keys=True))`` where
``endpoint`` is the path of the full upstream URL and the body is normalized: floats rounded to
5 decimals, and long decimal literals inside strings rewritten the same way.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

_LONG_DECIMAL = re.compile(r"-?\d+\.\d{4,}")


def _round_literal(match: re.Match[str]) -> str:
    return f"{float(match.group(0)):.5f}"


def normalize_body(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: normalize_body(item) for key, item in value.items()}
    if isinstance(value, list):
        return [normalize_body(item) for item in value]
    if isinstance(value, float):
        return round(value, 5)
    if isinstance(value, str):
        return _LONG_DECIMAL.sub(_round_literal, value)
    return value


def request_hash(test_id: str | None, method: str, url_path: str, body: Any) -> str:
    normalized = {"test_id": test_id, "method": method.upper(), "endpoint": url_path, "body": normalize_body(body)}
    return hashlib.sha256(json.dumps(normalized, sort_keys=True).encode()).hexdigest()
