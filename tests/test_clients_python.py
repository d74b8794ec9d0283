"""Python agent frameworks against orrery's Responses API: pydantic-ai, the Agents SDK, LangChain, LlamaIndex."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path

import pytest

from conftest import upstream_name
from scripted_upstream import Reply, ToolCall

CLIENTS = Path(__file__).resolve().parent / "clients"
LLAMAINDEX_PYTHON = CLIENTS / ".venv-llamaindex" / "bin" / "python"
REASONING = pytest.mark.parametrize("reasoning", [False, True], ids=["plain", "reasoning"])


def script_tool_loop(upstream, model: str, reasoning: bool, call_id: str) -> str:
    """Queue a call of get_weather(city=Paris), then an answer; return the upstream model name."""
    name = upstream_name(model)
    upstream.script(name,
                    Reply(reasoning="I need the weather." if reasoning else "",
                          tool_calls=[ToolCall("get_weather", '{"city": "Paris"}', id=call_id)]),
                    Reply(reasoning="The tool said sunny." if reasoning else "", text="It is sunny in Paris."))
    return name


def check_tool_result_reached_upstream(upstream, name: str, call_id: str) -> None:
    messages = upstream.bodies(name)[-1]["messages"]
    assert [c["id"] for c in messages[-2]["tool_calls"]] == [call_id]
    assert messages[-1]["role"] == "tool" and messages[-1]["tool_call_id"] == call_id
    assert "sunny" in messages[-1]["content"]


def weather(city: str) -> str:
    """Weather by city."""
    return json.dumps({"city": city, "sky": "sunny"})


@REASONING
def test_pydantic_ai_tool_loop(server, upstream, model, reasoning):
    """pydantic-ai's OpenAIResponsesModel runs one tool, then answers."""
    from pydantic_ai import Agent
    from pydantic_ai.models.openai import OpenAIResponsesModel
    from pydantic_ai.providers.openai import OpenAIProvider

    name = script_tool_loop(upstream, model, reasoning, "call_pyd1")
    provider = OpenAIProvider(base_url=server.base_url, api_key="test-key")
    agent = Agent(OpenAIResponsesModel(model, provider=provider))
    agent.tool_plain(weather, name="get_weather")
    result = agent.run_sync("What is the weather in Paris?")
    assert result.output == "It is sunny in Paris."
    calls = [part for message in result.all_messages() for part in message.parts
             if part.part_kind == "tool-call"]
    assert [(c.tool_name, c.args_as_dict()) for c in calls] == [("get_weather", {"city": "Paris"})]
    # pydantic-ai keeps a reasoning item's summary as the part's content, its text as raw_content.
    thinking = [(part.content, (part.provider_details or {}).get("raw_content"))
                for message in result.all_messages() for part in message.parts if part.part_kind == "thinking"]
    assert thinking == ([("", ["I need the weather."]), ("", ["The tool said sunny."])] if reasoning else [])
    check_tool_result_reached_upstream(upstream, name, "call_pyd1")


@REASONING
def test_agents_sdk_function_tool(server, upstream, model, reasoning):
    """The Agents SDK's Runner over OpenAIResponsesModel calls a function tool, then answers."""
    from agents import Agent, OpenAIResponsesModel, Runner, function_tool, set_tracing_disabled
    from openai import AsyncOpenAI

    set_tracing_disabled(True)
    name = script_tool_loop(upstream, model, reasoning, "call_ag1")
    client = AsyncOpenAI(base_url=server.base_url, api_key="test-key", max_retries=0)
    agent = Agent(name="weather", instructions="Answer with the tool.",
                  model=OpenAIResponsesModel(model=model, openai_client=client),
                  tools=[function_tool(weather, name_override="get_weather")])
    result = asyncio.run(Runner.run(agent, "What is the weather in Paris?"))
    assert result.final_output == "It is sunny in Paris."
    kinds = [item.type for item in result.new_items]
    assert kinds == ((["reasoning_item", "tool_call_item", "tool_call_output_item", "reasoning_item",
                       "message_output_item"]) if reasoning
                     else ["tool_call_item", "tool_call_output_item", "message_output_item"])
    check_tool_result_reached_upstream(upstream, name, "call_ag1")
    assert upstream.bodies(name)[0]["messages"][0] == {"role": "system", "content": "Answer with the tool."}


@REASONING
def test_langchain_responses_tool_round_trip(server, upstream, model, reasoning):
    """ChatOpenAI(use_responses_api=True) with bind_tools: a call, its ToolMessage, the answer."""
    from langchain_core.messages import HumanMessage, ToolMessage
    from langchain_core.tools import tool
    from langchain_openai import ChatOpenAI

    name = script_tool_loop(upstream, model, reasoning, "call_lc1")
    get_weather = tool("get_weather")(weather)
    llm = ChatOpenAI(model=model, base_url=server.base_url, api_key="test-key", use_responses_api=True,
                     max_retries=0)
    bound = llm.bind_tools([get_weather])
    messages = [HumanMessage("What is the weather in Paris?")]
    first = bound.invoke(messages)
    assert [(c["name"], c["args"], c["id"]) for c in first.tool_calls] == [("get_weather", {"city": "Paris"},
                                                                             "call_lc1")]
    messages += [first, ToolMessage(get_weather.invoke(first.tool_calls[0]["args"]), tool_call_id="call_lc1")]
    second = bound.invoke(messages)
    assert second.text == "It is sunny in Paris." and second.tool_calls == []
    blocks = [block["type"] for block in second.content_blocks]
    assert ("reasoning" in blocks) is reasoning
    check_tool_result_reached_upstream(upstream, name, "call_lc1")


LLAMAINDEX_CHAT = """
import json, sys
from llama_index.core.llms import ChatMessage
from llama_index.llms.openai import OpenAIResponses

base_url, model = sys.argv[1:3]
llm = OpenAIResponses(model=model, api_base=base_url, api_key="test-key", max_retries=0, context_window=8192)
response = llm.chat([ChatMessage(role="system", content="Be brief."),
                     ChatMessage(role="user", content="Which planet has rings?")])
print(json.dumps({"role": str(response.message.role.value), "content": response.message.content,
                  "blocks": [block.block_type for block in response.message.blocks]}))
"""


@REASONING
def test_llamaindex_openai_responses_chat(server, upstream, model, reasoning):
    """LlamaIndex's OpenAIResponses chat (its own venv: it needs openai<3)."""
    assert LLAMAINDEX_PYTHON.exists(), (
        "LlamaIndex runs in its own virtualenv: python3 -m venv tests/clients/.venv-llamaindex && "
        "tests/clients/.venv-llamaindex/bin/pip install -r tests/clients/requirements-llamaindex.txt")
    name = upstream_name(model)
    upstream.script(name, Reply(reasoning="Rings: Saturn." if reasoning else "", text="Saturn has rings."))
    done = subprocess.run([str(LLAMAINDEX_PYTHON), "-c", LLAMAINDEX_CHAT, server.base_url, model],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["role"] == "assistant" and result["content"] == "Saturn has rings."
    assert ("thinking" in result["blocks"]) is reasoning
    messages = upstream.bodies(name)[-1]["messages"]
    assert messages == [{"role": "system", "content": "Be brief."},
                        {"role": "user", "content": "Which planet has rings?"}]
