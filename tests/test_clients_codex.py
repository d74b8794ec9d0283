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


def run_codex(base_url: str, model: str, prompt: str, tmp_path: Path) -> tuple[subprocess.CompletedProcess, list]:
    """Run ``codex exec --json`` with a CODEX_HOME whose config.toml only names orrery as the provider."""
    home, work = tmp_path / "codex-home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    (home / "config.toml").write_text(
        f'model_provider = "orrery"\nmodel = "{model}"\n\n[model_providers.orrery]\nname = "orrery"\n'
        f'base_url = "{base_url}"\nwire_api = "responses"\nenv_key = "ORRERY_CODEX_TEST_KEY"\n')
    env = {"PATH": os.environ["PATH"], "HOME": str(work), "CODEX_HOME": str(home),
           "ORRERY_CODEX_TEST_KEY": "test-key"}
    done = subprocess.run([str(CODEX), "exec", "--json", "--ephemeral", "--skip-git-repo-check", "-C", str(work),
                           prompt], capture_output=True, text=True, timeout=60, env=env, stdin=subprocess.DEVNULL)
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
