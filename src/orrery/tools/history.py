"""Stored server-side tool items, shown to the model again as the calls and answers they were."""

from __future__ import annotations

from typing import Any, Callable

from orrery.tools import file_search, mcp, web_search
from orrery.tools.base import ModelCall

REPLAYED_CALLS: dict[str, Callable[[dict[str, Any]], tuple[ModelCall, Any]]] = {
    "file_search_call": file_search.replayed_call,
    "web_search_call": web_search.replayed_call,
    "mcp_call": mcp.replayed_call,
}
"""Item type → the model's call and the ``tool`` message content it was answered with."""
