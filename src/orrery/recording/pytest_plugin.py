"""pytest plugin, installed with orrery: each test's ``openai`` clients tell orrery who is calling.

While a test runs, every request an ``openai.OpenAI`` or ``openai.AsyncOpenAI`` client sends
carries ``X-Orrery-Test-Id: <the test's node id>`` (unless the client sets the header itself), so
a server in record or replay mode keeps one set of recordings per test with no code in the test
itself.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

from orrery.recording.context import TEST_ID_HEADER

_running_test: str | None = None


def _install() -> None:
    try:
        import openai
    except ImportError:
        return
    if getattr(openai.OpenAI._prepare_request, "_orrery", False):
        return
    sync_prepare = openai.OpenAI._prepare_request
    async_prepare = openai.AsyncOpenAI._prepare_request

    def prepare(self: Any, request: Any) -> None:
        sync_prepare(self, request)
        if _running_test is not None:
            request.headers.setdefault(TEST_ID_HEADER, _running_test)

    async def prepare_async(self: Any, request: Any) -> None:
        await async_prepare(self, request)
        if _running_test is not None:
            request.headers.setdefault(TEST_ID_HEADER, _running_test)

    prepare._orrery = prepare_async._orrery = True  # type: ignore[attr-defined]
    openai.OpenAI._prepare_request = prepare  # type: ignore[method-assign]
    openai.AsyncOpenAI._prepare_request = prepare_async  # type: ignore[method-assign]


def pytest_configure(config: pytest.Config) -> None:
    _install()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None, Any, Any]:
    global _running_test
    _running_test = item.nodeid
    try:
        return (yield)
    finally:
        _running_test = None
