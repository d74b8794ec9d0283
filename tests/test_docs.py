"""``/docs`` and ``/redoc`` work offline: every script they load comes from the server itself."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Route, expect, sync_playwright

from conftest import Server, sqlite_server
from test_console import CHROMIUM, CHROMIUM_ARGS


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with sqlite_server(tmp_path_factory.mktemp("docs"), {"providers": [{"id": "x", "base_url": "http://x.invalid"}]},
                       name="docs") as started:
        yield started


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_pages_load_only_the_servers_own_assets(server: Server, page: str):
    html = httpx.get(f"{server.url}{page}").text
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets and all(asset.startswith("/docs/assets/") for asset in assets), assets
    assert "cdn." not in html and "fonts.googleapis" not in html
    for asset in assets:
        answer = httpx.get(f"{server.url}{asset}")
        assert answer.status_code == 200 and len(answer.content) > 1000, asset


def test_swagger_ui_renders_the_routes_with_the_internet_cut_off(server: Server):
    outside: list[str] = []

    def only_the_server(route: Route) -> None:
        if route.request.url.startswith(server.url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page()
            page.route("**/*", only_the_server)
            page.goto(f"{server.url}/docs")
            expect(page.locator(".swagger-ui .title")).to_contain_text("orrery", timeout=15_000)
            create = page.locator(".opblock-post .opblock-summary-path", has_text=re.compile(r"^/v1/responses$"))
            expect(create).to_have_count(1)
        finally:
            browser.close()
    assert outside == []


def test_the_docs_need_no_key(tmp_path: Path):
    config = {"providers": [{"id": "x", "base_url": "http://x.invalid"}],
              "api_keys": [{"key": "sk-docs", "project": "docs"}]}
    with sqlite_server(tmp_path, config) as keyed:
        assert httpx.get(f"{keyed.url}/docs").status_code == 200
        assert httpx.get(f"{keyed.url}/docs/assets/swagger-ui-bundle.js").status_code == 200
        assert httpx.get(f"{keyed.url}/v1/models").status_code == 401
