"""OpenAI's attribute filters: comparisons (eq ne gt gte lt lte in nin) and compounds (and, or)."""

from __future__ import annotations

from typing import Any, TypeVar

COMPARISONS = {"eq", "ne", "gt", "gte", "lt", "lte", "in", "nin"}


def _compare(kind: str, actual: Any, expected: Any) -> bool:
    if kind == "eq":
        return actual == expected
    if kind == "ne":
        return actual != expected
    if kind in ("in", "nin"):
        inside = isinstance(expected, list) and actual in expected
        return inside if kind == "in" else not inside
    if isinstance(actual, bool) or isinstance(expected, bool):
        return False
    if isinstance(actual, (int, float)) and isinstance(expected, (int, float)):
        return _ordered(kind, actual, expected)
    if isinstance(actual, str) and isinstance(expected, str):
        return _ordered(kind, actual, expected)
    return False


Ordered = TypeVar("Ordered", float, str)


def _ordered(kind: str, actual: Ordered, expected: Ordered) -> bool:
    return {"gt": actual > expected, "gte": actual >= expected,
            "lt": actual < expected, "lte": actual <= expected}[kind]


def matches(filters: dict[str, Any] | None, attributes: dict[str, Any]) -> bool:
    """Whether a file's attributes pass the filter; a missing key passes only ``ne`` and ``nin``."""
    if filters is None:
        return True
    kind = filters["type"]
    if kind == "and":
        return all(matches(f, attributes) for f in filters["filters"])
    if kind == "or":
        return any(matches(f, attributes) for f in filters["filters"])
    if filters["key"] not in attributes:
        return kind in ("ne", "nin")
    return _compare(kind, attributes[filters["key"]], filters["value"])
