"""The Codex CLI against orrery: a provider block in config.toml, a shell command, an answer."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from conftest import upstream_name
from scripted_upstream import Reply, ToolCall

CODEX = Path(__file__).resolve().parent / "clients" / "node_modules" / ".bin" / "codex"

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")


def run_codex(base_url: str, model: str, prompt: str, tmp_path: Path, *options: str,
              files: dict[str, str] | None = None) -> tuple[subprocess.CompletedProcess, list]:
    """Run ``codex exec --json`` with a CODEX_HOME whose config.toml only names orrery as the provider.

    ``files`` are written to the working directory (``tmp_path / "work"``) first; ``options`` go to
    ``codex exec`` before the prompt.
    """
    home, work = tmp_path / "codex-home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    for name, text in (files or {}).items():
        (work / name).write_text(text)
    (home / "config.toml").write_text(
        f'model_provider = "orrery"\nmodel = "{model}"\n\n[model_providers.orrery]\nname = "orrery"\n'
        f'base_url = "{base_url}"\nwire_api = "responses"\nenv_key = "ORRERY_CODEX_TEST_KEY"\n')
    env = {"PATH": os.environ["PATH"], "HOME": str(work), "CODEX_HOME": str(home),
           "ORRERY_CODEX_TEST_KEY": "test-key"}
    done = subprocess.run([str(CODEX), "exec", "--json", "--ephemeral", "--skip-git-repo-check", "-C", str(work),
                           *options, prompt],
                          capture_output=True, text=True, timeout=60, env=env, stdin=subprocess.DEVNULL)
    events = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return done, events


def completed(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [e["item"] for e in events if e["type"] == "item.completed" and e["item"]["type"] == kind]


@pytest.mark.parametrize("catalog", [False, True], ids=["own-model", "gpt-5.5"])
def test_codex_runs_a_shell_command_and_answers(server, upstream, model, tmp_path, catalog):
    """Codex calls exec_command, runs it, sends its output back, and prints the model's answer."""
    if catalog:
        model = "gpt-5.5"  # a model of Codex's bundled catalog: its fuller tool set (apply_patch, tool_search, ...)
    name = upstream_name(model) if "/" in model else model
    upstream.script(name, Reply(tool_calls=[ToolCall("exec_command", '{"cmd": "echo orrery-codex-check"}',
                                                     id="call_cx1")]),
                    Reply(text="The command printed orrery-codex-check."))
    done, events = run_codex(server.base_url, model, "Run echo orrery-codex-check and tell me what it printed.",
                             tmp_path)
    failures = [e for e in events if e["type"] in ("error", "turn.failed")]
    assert done.returncode == 0 and not failures, failures or done.stderr[-3000:]
    [command] = completed(events, "command_execution")
    assert command["exit_code"] == 0 and command["aggregated_output"] == "orrery-codex-check\n"
    assert [m["text"] for m in completed(events, "agent_message")] == ["The command printed orrery-codex-check."]
    assert events[-1]["type"] == "turn.completed"
    first, second = upstream.bodies(name)[-2:]
    offered = {tool["function"]["name"] for tool in first["tools"]}
    assert "exec_command" in offered
    assert second["messages"][-2]["tool_calls"][0]["id"] == "call_cx1"
    assert second["messages"][-1]["role"] == "tool" and second["messages"][-1]["tool_call_id"] == "call_cx1"
    assert "orrery-codex-check" in second["messages"][-1]["content"]


def assert_succeeded(done: subprocess.CompletedProcess, events: list[dict[str, Any]]) -> None:
    failures = [e for e in events if e["type"] in ("error", "turn.failed")]
    assert done.returncode == 0 and not failures, failures or done.stderr[-3000:]
    assert events[-1]["type"] == "turn.completed"


def test_codex_reads_a_file_patches_it_and_answers(server, upstream, tmp_path):
    """gpt-5.5: Codex cats a file with exec_command, edits it with its apply_patch custom tool, then answers."""
    model = "gpt-5.5"
    patch = "*** Begin Patch\n*** Update File: notes.txt\n@@\n-colour: red\n+colour: blue\n*** End Patch\n"
    upstream.script(model, Reply(tool_calls=[ToolCall("exec_command", '{"cmd": "cat notes.txt"}', id="call_cat")]),
                    Reply(tool_calls=[ToolCall("apply_patch", json.dumps({"input": patch}), id="call_patch")]),
                    Reply(text="notes.txt now says the colour is blue."))
    seen = len(upstream.bodies(model))
    done, events = run_codex(server.base_url, model, "In notes.txt, change the colour from red to blue.", tmp_path,
                             "--sandbox", "workspace-write",
                             files={"notes.txt": "name: orrery\ncolour: red\nsize: 3\n"})
    assert_succeeded(done, events)
    assert (tmp_path / "work" / "notes.txt").read_text() == "name: orrery\ncolour: blue\nsize: 3\n"
    [command] = completed(events, "command_execution")
    assert command["exit_code"] == 0 and command["aggregated_output"] == "name: orrery\ncolour: red\nsize: 3\n"
    [change] = completed(events, "file_change")
    assert change["status"] == "completed"
    assert [c["path"].rsplit("/", 1)[-1] for c in change["changes"]] == ["notes.txt"]
    assert [m["text"] for m in completed(events, "agent_message")] == ["notes.txt now says the colour is blue."]

    first, second, third = upstream.bodies(model)[seen:]
    [offered] = [tool["function"] for tool in first["tools"] if tool["function"]["name"] == "apply_patch"]
    assert offered["parameters"]["properties"] == {"input": {"type": "string"}}
    assert "*** Begin Patch" in offered["description"] and "lark grammar" in offered["description"]
    assert second["messages"][-2]["tool_calls"][0]["id"] == "call_cat"
    assert second["messages"][-1]["role"] == "tool" and second["messages"][-1]["tool_call_id"] == "call_cat"
    assert "colour: red" in second["messages"][-1]["content"]
    call = third["messages"][-2]["tool_calls"][0]
    assert call["id"] == "call_patch" and call["function"]["name"] == "apply_patch"
    assert json.loads(call["function"]["arguments"]) == {"input": patch}
    answer = third["messages"][-1]
    assert answer["role"] == "tool" and answer["tool_call_id"] == "call_patch"
    assert "Success. Updated the following files:" in answer["content"] and "M notes.txt" in answer["content"]


def test_codex_searches_its_tools_and_answers(server, upstream, tmp_path):
    """gpt-5.5: the model calls Codex's client-run tool_search; the tools Codex loads reach the model."""
    model = "gpt-5.5"
    upstream.script(model, Reply(tool_calls=[ToolCall("tool_search", '{"query": "spawn agent", "limit": 3}',
                                                      id="call_ts1")]),
                    Reply(text="I found the sub-agent tools."))
    seen = len(upstream.bodies(model))
    done, events = run_codex(server.base_url, model, "Find the tools for sub-agents.", tmp_path)
    assert_succeeded(done, events)
    assert [m["text"] for m in completed(events, "agent_message")] == ["I found the sub-agent tools."]
    first, second = upstream.bodies(model)[seen:]
    assert "tool_search" in {tool["function"]["name"] for tool in first["tools"]}
    call = second["messages"][-2]["tool_calls"][0]
    assert call["id"] == "call_ts1" and call["function"]["name"] == "tool_search"
    assert json.loads(call["function"]["arguments"]) == {"query": "spawn agent", "limit": 3}
    answer = second["messages"][-1]
    assert answer["role"] == "tool" and answer["tool_call_id"] == "call_ts1"
    assert answer["content"].startswith("These tools are now available to call:\n")
    assert "\n- multi_agent_v1 (a group of tools): Tools for spawning and managing sub-agents.\n" in answer["content"]
    assert "\n  - multi_agent_v1__spawn_agent: " in answer["content"]
