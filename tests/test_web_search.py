"""The web_search tool: the model searches the web through a Tavily-compatible API and cites pages."""

from __future__ import annotations

import json

import openai
import pytest

from conftest import WEB_SEARCH_KEY, start_server, stop_server, upstream_name
from orrery.tools.web_search import WEB_SEARCH
from scripted_upstream import Reply, SearchReply, ToolCall, search_results
from wire import check_events, check_response, output_text, stream


def arguments(query: str) -> str:
    """The arguments as models send them: compact JSON, which a later turn shows them again."""
    return json.dumps({"query": query}, separators=(",", ":"))


def search_then_answer(upstream, model: str, query: str, answer: str, *, chunk: int = 4) -> None:
    upstream.script(upstream_name(model), Reply(tool_calls=[ToolCall("web_search", arguments(query), id="call_ws1")]),
                    Reply(text=answer, chunk=chunk))


def test_a_search_streams_its_events_and_the_answer_cites_the_pages(server, upstream, model):
    query = f"rings of saturn streamed {model}"
    page = search_results(query)[0]
    answer = f"Saturn has seven main rings [{page['title']}]({page['url']})."
    search_then_answer(upstream, model, query, answer, chunk=3)
    events = stream(server.base_url, {"model": model, "input": "How many rings?", "tools": [{"type": "web_search"}]})
    final = check_events(events)
    kinds = [e["type"] for e in events]
    assert kinds[:7] == ["response.created", "response.in_progress", "response.output_item.added",
                         "response.web_search_call.in_progress", "response.web_search_call.searching",
                         "response.web_search_call.completed", "response.output_item.done"]
    call, message = final["output"]
    assert call == {"id": "ws_call_ws1", "type": "web_search_call", "status": "completed",
                    "action": {"type": "search", "query": query}}
    assert output_text(final) == answer
    [annotation] = message["content"][0]["annotations"]
    start = answer.index("[")
    assert annotation == {"type": "url_citation", "start_index": start, "end_index": len(answer) - 1,
                          "url": page["url"], "title": page["title"]}
    added = [e for e in events if e["type"] == "response.output_text.annotation.added"]
    assert [(e["annotation_index"], e["annotation"]) for e in added] == [(0, annotation)]

    [searched] = upstream.searches(query)
    assert searched.body == {"query": query, "max_results": 5}
    assert searched.headers["authorization"] == f"Bearer {WEB_SEARCH_KEY}"
    first, second = upstream.bodies(upstream_name(model))
    assert first["tools"] == [WEB_SEARCH]
    assert second["messages"][-2] == {"role": "assistant", "content": "", "tool_calls": [
        {"index": 0, "id": "call_ws1", "type": "function",
         "function": {"name": "web_search", "arguments": arguments(query)}}]}
    tool_message = second["messages"][-1]
    assert tool_message["role"] == "tool" and tool_message["tool_call_id"] == "call_ws1"
    assert f"[1] {page['title']} ({page['url']})\n{page['content']}" in tool_message["content"]


def test_sources_and_results_only_when_included(server, upstream, model):
    client = server.client()
    query = f"saturn moons included {model}"
    search_then_answer(upstream, model, query, "Many moons.")
    plain = client.responses.create(model=model, input="Moons?", tools=[{"type": "web_search_preview"}])
    assert "sources" not in plain.output[0].action.to_dict() and "results" not in plain.output[0].to_dict()

    search_then_answer(upstream, model, query, "Many moons.")
    shown = client.responses.create(model=model, input="Moons?", tools=[{"type": "web_search"}],
                                    include=["web_search_call.action.sources", "web_search_call.results"])
    check_response(shown.to_dict())
    urls = [r["url"] for r in search_results(query)]
    assert [s.url for s in shown.output[0].action.sources] == urls
    assert [r["url"] for r in shown.output[0].to_dict()["results"]] == urls
    retrieved = client.responses.retrieve(shown.id)
    assert [s.url for s in retrieved.output[0].action.sources] == urls


def test_context_size_and_allowed_domains_shape_the_search(server, upstream, model):
    query = f"jupiter storms filtered {model}"
    search_then_answer(upstream, model, query, "A big red one.")
    server.client().responses.create(model=model, input="Storms?", tools=[{
        "type": "web_search", "search_context_size": "high", "filters": {"allowed_domains": ["nasa.gov"]}}])
    [searched] = upstream.searches(query)
    assert searched.body == {"query": query, "max_results": 10, "include_domains": ["nasa.gov"]}


def test_a_chain_shows_the_model_its_earlier_search(server, upstream, model):
    client = server.client()
    query = f"pluto status chained {model}"
    search_then_answer(upstream, model, query, "Pluto is a dwarf planet.")
    first = client.responses.create(model=model, input="Is Pluto a planet?", tools=[{"type": "web_search"}])
    upstream.script(upstream_name(model), Reply(text="Since 2006."))
    second = client.responses.create(model=model, input="Since when?", previous_response_id=first.id)
    assert second.output_text == "Since 2006."
    searched_turn = upstream.bodies(upstream_name(model))[1]["messages"]
    chained = upstream.bodies(upstream_name(model))[2]["messages"]
    assert chained[:len(searched_turn)] == searched_turn
    assert chained[len(searched_turn):] == [{"role": "assistant", "content": "Pluto is a dwarf planet."},
                                            {"role": "user", "content": "Since when?"}]
    assert len(upstream.searches(query)) == 1, "the chain does not search again"


def test_a_failed_search_fails_its_call_and_the_model_still_answers(server, upstream, model):
    query = f"neptune winds failing {model}"
    upstream.script_search(query, SearchReply(status=500))
    search_then_answer(upstream, model, query, "I could not look that up.")
    events = stream(server.base_url, {"model": model, "input": "Winds?", "tools": [{"type": "web_search"}]})
    final = check_events(events)
    assert final["status"] == "completed"
    assert final["output"][0]["status"] == "failed"
    assert "response.web_search_call.completed" not in [e["type"] for e in events]
    tool_message = upstream.bodies(upstream_name(model))[1]["messages"][-1]
    assert tool_message["content"] == f'The web search for "{query}" failed; no results are available.'


def test_a_slow_search_api_times_out_as_a_failed_call(server, upstream, model):
    query = f"uranus tilt slow {model}"
    upstream.script_search(query, SearchReply(results=search_results(query), delay=3))
    search_then_answer(upstream, model, query, "Unknown.")
    response = server.client().responses.create(model=model, input="Tilt?", tools=[{"type": "web_search"}])
    assert response.output[0].status == "failed" and response.output_text == "Unknown."


def test_tool_choice_names_the_web_search(server, upstream, model):
    search_then_answer(upstream, model, f"forced {model}", "Done.")
    server.client().responses.create(model=model, input="Search!", tools=[{"type": "web_search_preview"}],
                                     tool_choice={"type": "web_search_preview"})
    first, second = upstream.bodies(upstream_name(model))
    assert first["tool_choice"] == {"type": "function", "function": {"name": "web_search"}}
    assert second["tool_choice"] == "auto"


@pytest.mark.parametrize("tool", [{"type": "web_search", "search_context_size": "huge"},
                                  {"type": "web_search", "filters": {"allowed_domains": "nasa.gov"}},
                                  {"type": "web_search", "unknown": 1}])
def test_malformed_web_search_tools_are_400(server, tool):
    with pytest.raises(openai.BadRequestError) as raised:
        server.client().responses.create(model="scripted/x", input="q", tools=[tool])
    assert raised.value.body["param"].startswith("tools")


def test_without_a_search_api_the_tool_is_left_out_and_listed(upstream, model, tmp_path):
    name = upstream_name(model)
    upstream.script(name, Reply(text="No search here."), Reply(text="Still none."))
    log_path = tmp_path / "no-search.log"
    process, url = start_server({"providers": [{"id": "scripted", "base_url": upstream.url}],
                                 "db": f"sqlite:///{tmp_path / 'o.db'}"}, log_path=log_path)
    tools = [{"type": "web_search"}, {"type": "function", "name": "f", "parameters": {"type": "object"}}]
    try:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="k", max_retries=0)
        answer = client.responses.create(model=model, input="q", tools=tools)
        assert answer.output_text == "No search here."
        assert [tool.type for tool in answer.tools] == ["web_search", "function"]
        streamed = stream(f"{url}/v1", {"model": model, "input": "q", "tools": tools})
        assert [tool["type"] for tool in streamed[-1]["response"]["tools"]] == ["web_search", "function"]
        assert [[f["function"]["name"] for f in body["tools"]] for body in upstream.bodies(name)] == [["f"], ["f"]]
    finally:
        stop_server(process)
    warnings = [line for line in log_path.read_text().splitlines() if "no web search API is configured" in line]
    assert len(warnings) == 1, warnings


def test_a_stateless_client_sends_the_search_back_as_input(server, upstream, model):
    client = server.client()
    query = f"mars moons stateless {model}"
    search_then_answer(upstream, model, query, "Phobos and Deimos.")
    first = client.responses.create(model=model, input="Moons of Mars?", tools=[{"type": "web_search"}],
                                    store=False, include=["web_search_call.results"])
    searched_turn = upstream.bodies(upstream_name(model))[1]["messages"]
    upstream.script(upstream_name(model), Reply(text="Two."))
    client.responses.create(model=model, store=False, input=[
        {"role": "user", "content": "Moons of Mars?"}, *(item.to_dict() for item in first.output),
        {"role": "user", "content": "How many?"}])
    resent = upstream.bodies(upstream_name(model))[2]["messages"]
    assert resent[:len(searched_turn)] == searched_turn


def test_max_tool_calls_limits_the_searches_of_a_response(server, upstream, model):
    queries = [f"first {model}", f"second {model}", f"third {model}"]
    upstream.script(upstream_name(model),
                    Reply(tool_calls=[ToolCall("web_search", arguments(q), id=f"call_{n}")
                                      for n, q in enumerate(queries[:2])]),
                    Reply(text="Enough."))
    response = server.client().responses.create(model=model, input="Search a lot.", tools=[{"type": "web_search"}],
                                                max_tool_calls=1)
    assert [item.type for item in response.output] == ["web_search_call", "message"]
    assert response.max_tool_calls == 1
    assert len(upstream.searches(queries[0])) == 1 and upstream.searches(queries[1]) == []
    second = upstream.bodies(upstream_name(model))[1]
    assert second["tool_choice"] == "none"
    assert [call["id"] for call in second["messages"][-2]["tool_calls"]] == ["call_0"]


def test_retrieve_and_conversation_items_show_results_when_included(server, upstream, model):
    client = server.client()
    query = f"venus clouds included later {model}"
    conversation = client.conversations.create()
    search_then_answer(upstream, model, query, "Sulfuric acid.")
    response = client.responses.create(model=model, input="Venus clouds?", tools=[{"type": "web_search"}],
                                       conversation=conversation.id)
    urls = [r["url"] for r in search_results(query)]
    assert "sources" not in response.output[0].action.to_dict()
    retrieved = client.responses.retrieve(response.id, include=["web_search_call.action.sources"])
    assert [s.url for s in retrieved.output[0].action.sources] == urls

    plain = client.conversations.items.list(conversation.id, order="asc").data
    search = next(item for item in plain if item.type == "web_search_call")
    assert "sources" not in search.action.to_dict() and "results" not in search.to_dict()
    shown = client.conversations.items.retrieve(search.id, conversation_id=conversation.id,
                                                include=["web_search_call.action.sources", "web_search_call.results"])
    assert [s.url for s in shown.action.sources] == urls
    assert [r["url"] for r in shown.to_dict()["results"]] == urls
    listed = client.conversations.items.list(conversation.id, include=["web_search_call.results"]).data
    assert any("results" in item.to_dict() for item in listed)

    with pytest.raises(openai.BadRequestError) as raised:
        client.conversations.items.list(conversation.id, include=["everything"])
    assert raised.value.body["param"] == "include"


def test_input_items_show_sent_back_results_only_when_included(server, upstream, model):
    client = server.client()
    search_item = {"type": "web_search_call", "id": "ws_sent_back", "status": "completed",
                   "action": {"type": "search", "query": "q", "sources": [{"type": "url", "url": "https://a.example"}]},
                   "results": [{"title": "A", "url": "https://a.example", "content": "a"}]}
    upstream.script(upstream_name(model), Reply(text="ok"))
    response = client.responses.create(model=model, input=[{"role": "user", "content": "q"}, search_item])
    plain = client.responses.input_items.list(response.id, order="asc").data[1].to_dict()
    assert plain["id"] == "ws_sent_back" and "results" not in plain and "sources" not in plain["action"]
    shown = client.responses.input_items.list(response.id, order="asc", include=["web_search_call.results"]).data
    assert shown[1].to_dict()["results"] == search_item["results"]
