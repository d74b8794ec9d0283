"""The web console, driven in Debian's headless Chromium against the real server."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from conftest import Server, provider_config, sqlite_server, upstream_name
from scripted_upstream import Reply, ScriptedUpstream
from test_mcp import start_mcp_server, stop_mcp_server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-quic", "--no-first-run", "--disable-sync"]
MODEL = "scripted/scripted-model"
"""Listed by the scripted upstream, which echoes the last user message when nothing is scripted."""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    opened = browser.new_page()
    opened.set_default_timeout(15_000)
    yield opened
    opened.close()


def open_chat(page: Page, server: Server, model: str = MODEL) -> None:
    page.goto(f"{server.url}/")
    expect(page.get_by_label("Model", exact=True)).to_have_value(re.compile(r".+"))
    page.get_by_label("Model", exact=True).fill(model)


def send(page: Page, text: str) -> str:
    """Send ``text`` and wait for its answer; the id of the response that answered it."""
    turns = page.get_by_test_id("turn-assistant")
    before = turns.count()
    page.get_by_label("Message").fill(text)
    page.get_by_role("button", name="Send", exact=True).click()
    answer = turns.nth(before)
    expect(answer).to_contain_text(f"echo: {text}")
    expect(page.get_by_test_id("events").locator("li").last).to_contain_text("response.completed")
    return answer.get_by_role("link").inner_text()


def test_the_root_redirects_to_the_console_and_its_files_are_served(server: Server):
    root = httpx.get(f"{server.url}/", follow_redirects=False)
    assert root.status_code == 307 and root.headers["location"] == "/console/"
    page = httpx.get(f"{server.url}/console/")
    assert page.status_code == 200 and '<div id="root">' in page.text
    script = re.search(r'src="(/console/assets/[^"]+\.js)"', page.text)
    assert script and httpx.get(f"{server.url}{script.group(1)}").status_code == 200
    missing = httpx.get(f"{server.url}/console/assets/none.js")
    assert missing.status_code == 404 and missing.json()["error"]["type"] == "not_found"


def test_a_message_streams_its_answer_and_events_and_chains(page: Page, server: Server):
    open_chat(page, server)
    first_text, second_text = f"first {uuid.uuid4().hex}", f"second {uuid.uuid4().hex}"
    first = send(page, first_text)
    events = page.get_by_test_id("events").locator("li")
    assert events.first.inner_text() == "0 response.created"
    seen = events.all_inner_texts()
    assert any(line.endswith("response.output_text.delta") for line in seen)
    assert [int(line.split()[0]) for line in seen] == list(range(len(seen)))
    expect(page.get_by_test_id("chat-state")).to_contain_text(f"next turn continues {first}")

    second = send(page, second_text)
    stored = server.client().responses.retrieve(second)
    assert stored.previous_response_id == first and stored.output_text == f"echo: {second_text}"


def test_the_model_picker_offers_the_listed_models(page: Page, server: Server):
    page.goto(f"{server.url}/")
    listed = [entry.id for entry in server.client().models.list()]
    expect(page.get_by_label("Model", exact=True)).to_have_value(listed[0])
    offered = page.locator("#models option")
    expect(offered).to_have_count(len(listed))
    assert [option.get_attribute("value") for option in offered.all()] == listed


def test_the_answer_shows_while_it_streams(page: Page, server: Server, upstream: ScriptedUpstream, model: str):
    words = " ".join(f"word{n}" for n in range(40))
    upstream.script(upstream_name(model), Reply(text=words, chunk=6, delay=0.05))
    open_chat(page, server, model)
    page.get_by_label("Message").fill("stream slowly")
    page.get_by_role("button", name="Send", exact=True).click()
    answer = page.get_by_test_id("turn-assistant").last
    expect(answer).to_contain_text("word1")
    events = page.get_by_test_id("events").locator("li")
    assert "response.completed" not in events.all_inner_texts()
    assert words not in answer.inner_text()
    expect(answer).to_contain_text(words)
    expect(events.last).to_contain_text("response.completed")

def test_conversation_mode_keeps_the_turns_in_one_conversation(page: Page, server: Server):
    open_chat(page, server)
    page.get_by_label("Mode", exact=True).select_option("conversation")
    texts = [f"turn {n} {uuid.uuid4().hex}" for n in range(2)]
    for text in texts:
        send(page, text)
    state = page.get_by_test_id("chat-state").inner_text()
    conversation = re.search(r"conv_\w+", state)
    assert conversation, state
    items = server.client().conversations.items.list(conversation.group(0), order="asc")
    said = [item.content[0].text for item in items.data if item.type == "message" and item.role == "user"]
    assert said == texts

    page.goto(f"{server.url}/console/#/conversations/{conversation.group(0)}")
    shown = page.get_by_test_id("conversation-items")
    for text in texts:
        expect(shown).to_contain_text(text)
    expect(shown).to_contain_text(f"echo: {texts[1]}")
    page.get_by_role("link", name="All conversations").click()
    expect(page.get_by_test_id("conversation-list").get_by_role("link", name=conversation.group(0))).to_be_visible()


def test_a_stored_response_shows_its_items_usage_and_parameters(page: Page, server: Server):
    open_chat(page, server)
    text = f"stored {uuid.uuid4().hex}"
    response_id = send(page, text)
    page.get_by_role("link", name=response_id).click()
    detail = page.get_by_test_id("response-detail")
    expect(detail.get_by_test_id("response-status")).to_have_text("completed")
    stored = server.client().responses.retrieve(response_id)
    assert stored.usage is not None
    usage = detail.get_by_test_id("response-usage")
    expect(usage.locator("tr", has_text="input tokens").first).to_contain_text(str(stored.usage.input_tokens))
    expect(usage.locator("tr", has_text="total tokens")).to_contain_text(str(stored.usage.total_tokens))
    expect(detail.get_by_test_id("input-items")).to_contain_text(text)
    expect(detail.get_by_test_id("output-items")).to_contain_text(f"echo: {text}")
    expect(detail.get_by_test_id("request-parameters")).to_contain_text(f'"model": "{MODEL}"')

    page.goto(f"{server.url}/console/#/responses")
    expect(page.get_by_test_id("response-list").get_by_role("link", name=response_id)).to_be_visible()
    page.get_by_label("Response id").fill("resp_unknown")
    page.get_by_role("button", name="Open", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("404")


def test_a_failed_response_shows_its_error(page: Page, server: Server, upstream: ScriptedUpstream, model: str):
    upstream.script(upstream_name(model), Reply(status=500, error={"message": "the upstream is down"}))
    with pytest.raises(openai.APIStatusError) as raised:
        server.client().responses.create(model=model, input="x")
    failed = raised.value.response.headers["x-response-id"]
    page.goto(f"{server.url}/console/#/responses/{failed}")
    expect(page.get_by_test_id("response-status")).to_have_text("failed")
    expect(page.get_by_test_id("response-error")).to_contain_text("the upstream is down")

def test_a_file_uploaded_is_ingested_and_found_by_search(page: Page, server: Server):
    name = f"tides-{uuid.uuid4().hex[:8]}.txt"
    page.goto(f"{server.url}/console/#/files")
    page.get_by_label("File to upload").set_input_files(
        {"name": name, "mimeType": "text/plain",
         "buffer": b"The tides are driven by the gravity of the moon and, less so, of the sun."})
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(page.get_by_test_id("file-list")).to_contain_text(name)

    page.get_by_label("New vector store name").fill(f"console {name}")
    page.get_by_role("button", name="Create", exact=True).click()
    store = page.get_by_test_id("vector-store")
    expect(store).to_contain_text(f"console {name}")
    to_attach = page.get_by_label("File to attach")
    to_attach.select_option(to_attach.locator("option", has_text=name).get_attribute("value"))
    page.get_by_role("button", name="Attach", exact=True).click()
    expect(store.get_by_test_id("vector-store-files").locator("tr", has_text=name)).to_contain_text(
        "completed", timeout=90_000)

    page.get_by_label("Search the vector store").fill("what moves the tides?")
    page.get_by_role("button", name="Search", exact=True).click()
    result = store.get_by_test_id("search-result").first
    expect(result).to_contain_text(name)
    expect(result).to_contain_text("gravity of the moon")
    assert 0 < float(result.get_by_test_id("score").inner_text()) <= 1


def test_the_tools_chosen_go_with_the_request(page: Page, server: Server):
    client = server.client()
    store = client.vector_stores.create(name=f"tools {uuid.uuid4().hex[:8]}")
    open_chat(page, server)
    page.get_by_text("Tools", exact=True).click()
    page.get_by_label("file_search").check()
    page.get_by_label("Vector stores").select_option(store.id)
    page.get_by_label("web_search").check()
    page.get_by_label("Function tools").fill(
        '[{"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}]')
    response_id = send(page, f"tools {uuid.uuid4().hex}")
    tools = {tool.type: tool for tool in client.responses.retrieve(response_id).tools}
    assert tools["file_search"].vector_store_ids == [store.id]
    assert "web_search" in tools and tools["function"].name == "get_weather"

    page.get_by_label("Function tools").fill("[{]")
    page.get_by_label("Message").fill("not sent")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("Function tools: not JSON")


def test_an_mcp_server_url_lists_its_tools_in_the_chat(page: Page, server: Server):
    process, url = start_mcp_server()
    try:
        open_chat(page, server)
        page.get_by_text("Tools", exact=True).click()
        page.get_by_label("MCP server URL").fill(url)
        response_id = send(page, f"mcp {uuid.uuid4().hex}")
        expect(page.get_by_test_id("turn-assistant").last).to_contain_text('"type": "mcp_list_tools"')
        expect(page.get_by_test_id("turn-assistant").last).to_contain_text('"name": "add"')
        tools = server.client().responses.retrieve(response_id).tools
        assert [(tool.type, tool.server_url) for tool in tools] == [("mcp", url)]
    finally:
        stop_mcp_server(process)

def test_with_keys_the_page_is_public_and_the_api_takes_the_key_given(browser: Browser, upstream: ScriptedUpstream,
                                                                       tmp_path: Path):
    key, other, admin = "sk-console-0123456789", "sk-other-0123456789", "sk-admin-0123456789"
    config = {"providers": provider_config(upstream),
              "api_keys": [{"key": key, "project": "console"}, {"key": other, "project": "other"},
                           {"key": admin, "project": "ops", "admin": True}]}
    with sqlite_server(tmp_path, config) as server:
        page = browser.new_page()
        try:
            assert httpx.get(f"{server.url}/console/").status_code == 200
            assert httpx.get(f"{server.base_url}/models").status_code == 401
            page.goto(f"{server.url}/")
            expect(page.get_by_role("alert")).to_contain_text("401")
            page.get_by_label("API key").fill(key)
            expect(page.get_by_label("Model", exact=True)).to_have_value(MODEL)
            response_id = send(page, f"keyed {uuid.uuid4().hex}")
            assert page.evaluate("sessionStorage.getItem('orrery.apiKey')") == key
            keyed = openai.OpenAI(base_url=server.base_url, api_key=key, max_retries=0)
            assert keyed.responses.retrieve(response_id).status == "completed"
            check_console_api_scope(server, key, other, admin)
        finally:
            page.close()


def check_console_api_scope(server: Server, key: str, other: str, admin: str) -> None:
    """The console's JSON needs a key, shows a project only its own conversations, and recordings
    only to an admin key."""
    conversation = openai.OpenAI(base_url=server.base_url, api_key=key, max_retries=0).conversations.create()
    api = f"{server.url}/console/api"

    def listed(bearer: str) -> list[str]:
        answer = httpx.get(f"{api}/conversations", headers={"Authorization": f"Bearer {bearer}"})
        assert answer.status_code == 200, answer.text
        return [entry["id"] for entry in answer.json()["data"]]

    assert httpx.get(f"{api}/conversations").status_code == 401
    assert conversation.id in listed(key) and conversation.id not in listed(other)
    assert conversation.id in listed(admin)
    refused = httpx.get(f"{api}/recordings", headers={"Authorization": f"Bearer {key}"})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "admin_key_required"
    assert httpx.get(f"{api}/recordings", headers={"Authorization": f"Bearer {admin}"}).status_code == 200


def test_recordings_show_the_exact_upstream_body(browser: Browser, upstream: ScriptedUpstream, tmp_path: Path):
    config = {"providers": provider_config(upstream),
              "recording": {"mode": "record", "dir": str(tmp_path / "recordings")}}
    with sqlite_server(tmp_path, config) as server:
        page = browser.new_page()
        try:
            open_chat(page, server)
            text = f"recorded {uuid.uuid4().hex}"
            send(page, text)
            page.goto(f"{server.url}/console/#/recordings")
            row = page.get_by_test_id("recording-list").locator("tr", has_text="/v1/chat/completions")
            expect(row).to_contain_text("scripted-model")
            row.get_by_role("link").click()
            body = page.get_by_test_id("recording-request-body")
            expect(body).to_contain_text(text)
            expect(body).to_contain_text('"stream": true')
            assert httpx.get(f"{server.url}/console/api/recordings/..%2Forrery.db").status_code == 404
            assert httpx.get(f"{server.url}/console/api/recordings/{'0' * 64}").status_code == 404
        finally:
            page.close()
