"""The shell tool (``{"type": "shell", "environment": {"type": "local"}}``): commands the client runs.

The model is offered a function ``shell`` with ``commands`` (run in order), ``timeout_ms`` and
``max_output_length``; its call comes back as a ``shell_call`` item announced with no commands,
each command then streamed by ``response.shell_call_command.added/delta/done`` as OpenAI streams
them (the SDK's accumulator appends a command on ``added`` and its text on ``delta``). The client's
``shell_call_output`` (stdout, stderr and outcome of each command) is shown to the model as
readable text. Hosted environments (``container_auto``, ``container_reference``: OpenAI runs the
commands in its containers) are refused: here the client runs every command.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field

from orrery.errors import InvalidRequest
from orrery.tools.base import (
    ChatFunction,
    Item,
    ModelCall,
    PreparedTools,
    Replay,
    Replayer,
    RequestTools,
    ToolEvent,
    ToolKind,
)
from orrery.tools.client_calls import CallItem, ClientCallRunner, ClientFunction, arguments_of
from orrery.wire.common import Identifier, LenientModel, StrictModel

FUNCTION_NAME = "shell"
ITEM_PREFIX = "sh_"
DESCRIPTION = ("Run shell commands on the user's machine and read what each printed (stdout, stderr) and how it "
               "ended (exit code or timeout). The commands run in order.")
PARAMETERS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "commands": {"type": "array", "items": {"type": "string"},
                     "description": "Shell command lines to run, in order (e.g. [\"ls -la\", \"cat README.md\"])."},
        "timeout_ms": {"type": "integer", "description": "A timeout for the commands, in milliseconds."},
        "max_output_length": {"type": "integer",
                              "description": "The most characters of output to return from each command."},
    },
    "required": ["commands"],
}


def strings(value: Any) -> list[str]:
    """A list of strings from what the model sent: a lone string is one item; anything else is left out."""
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list):
        return []
    return [entry if isinstance(entry, str) else json.dumps(entry, ensure_ascii=False) for entry in value]


def string_map(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {str(key): entry if isinstance(entry, str) else json.dumps(entry, ensure_ascii=False)
            for key, entry in value.items()}


def integer(value: Any) -> int | None:
    """An integer argument; ``None`` when the model sent none (or something else)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


class LocalSkill(StrictModel):
    name: str
    description: str
    path: str


class LocalEnvironment(StrictModel):
    type: Literal["local"]
    skills: list[LocalSkill] | None = None


class HostedEnvironment(LenientModel):
    """A container OpenAI runs the commands in: accepted as the SDK shapes it, refused by ``prepare``."""

    type: Literal["container_auto", "container_reference"]


class ShellTool(StrictModel):
    type: Literal["shell"]
    environment: Annotated[LocalEnvironment | HostedEnvironment, Field(discriminator="type")] | None = None
    allowed_callers: list[Literal["direct", "programmatic"]] | None = None


class ShellAction(LenientModel):
    commands: list[str]
    timeout_ms: int | None = None
    max_output_length: int | None = None


class ShellCallItem(LenientModel):
    type: Literal["shell_call"]
    call_id: str = Field(min_length=1)
    action: ShellAction
    id: Identifier | None = None


class ExitOutcome(LenientModel):
    type: Literal["exit"]
    exit_code: int


class TimeoutOutcome(LenientModel):
    type: Literal["timeout"]


class ShellOutputContent(LenientModel):
    stdout: str = ""
    stderr: str = ""
    outcome: Annotated[ExitOutcome | TimeoutOutcome, Field(discriminator="type")]


class ShellCallOutputItem(LenientModel):
    type: Literal["shell_call_output"]
    call_id: str = Field(min_length=1)
    output: list[ShellOutputContent]
    max_output_length: int | None = None
    id: Identifier | None = None


def _description(tool: ShellTool) -> str:
    environment = tool.environment
    if not isinstance(environment, LocalEnvironment) or not environment.skills:
        return DESCRIPTION
    skills = "\n".join(f"- {skill.name} ({skill.path}): {skill.description}" for skill in environment.skills)
    return (f"{DESCRIPTION}\n\nSkills installed on the machine (each a directory whose SKILL.md says how to use "
            f"it):\n{skills}")


def chat_function(tool: ShellTool) -> ChatFunction:
    return {"type": "function", "function": {"name": FUNCTION_NAME, "description": _description(tool),
                                             "parameters": PARAMETERS}}


def _build(environment: dict[str, Any] | None) -> Any:
    def build(call: ModelCall) -> CallItem:
        arguments = arguments_of(call)
        commands = strings(arguments.get("commands"))
        item: Item = {"id": ITEM_PREFIX + call.call_id, "type": "shell_call", "call_id": call.call_id,
                      "action": {"commands": commands, "timeout_ms": integer(arguments.get("timeout_ms")),
                                 "max_output_length": integer(arguments.get("max_output_length"))},
                      "status": "in_progress"}
        if environment is not None:
            item["environment"] = environment
        events: list[ToolEvent] = []
        for index, command in enumerate(commands):
            events += [("response.shell_call_command.added", {"command_index": index, "command": ""}),
                       ("response.shell_call_command.delta", {"command_index": index, "delta": command}),
                       ("response.shell_call_command.done", {"command_index": index, "command": command})]
        return item, tuple(events)

    return build


class ShellCallRunner(ClientCallRunner):
    """Announces a shell call with no commands yet, as OpenAI does: its command events add them."""

    def __init__(self, functions: Mapping[str, ClientFunction]) -> None:
        super().__init__(functions)
        self._actions: dict[str, dict[str, Any]] = {}

    def start_item(self, call: ModelCall) -> Item:
        item = super().start_item(call)
        self._actions[call.call_id] = item["action"]
        item["action"] = {**item["action"], "commands": []}
        return item

    async def run(self, call: ModelCall, item: Item) -> AsyncIterator[ToolEvent]:
        async for event in super().run(call, item):
            yield event
        item["action"] = self._actions.pop(call.call_id, item["action"])


def render_output(commands: list[str], output: list[dict[str, Any]]) -> str:
    """A shell call's output as the model reads it: each command, what it printed, how it ended."""
    parts = []
    for index, content in enumerate(output):
        lines = [f"$ {commands[index]}"] if index < len(commands) else []
        stdout, stderr = content.get("stdout") or "", content.get("stderr") or ""
        if stdout:
            lines.append(stdout.rstrip("\n"))
        if stderr:
            lines += ["stderr:", stderr.rstrip("\n")]
        outcome = content.get("outcome") or {}
        lines.append("(timed out)" if outcome.get("type") == "timeout" else f"(exit code {outcome.get('exit_code')})")
        parts.append("\n".join(lines))
    return "\n\n".join(parts) if parts else "(no output)"


def call_arguments(action: dict[str, Any]) -> str:
    shown: dict[str, Any] = {"commands": action.get("commands", [])}
    shown |= {key: action[key] for key in ("timeout_ms", "max_output_length") if action.get(key) is not None}
    return json.dumps(shown, ensure_ascii=False)


class ShellReplay:
    """Remembers each call's commands, to show them beside their output."""

    def __init__(self) -> None:
        self._commands: dict[str, list[str]] = {}

    def __call__(self, item: Item) -> Replay:
        if item["type"] == "shell_call":
            self._commands[item["call_id"]] = item["action"].get("commands", [])
            return Replay(calls=((ModelCall(item["call_id"], FUNCTION_NAME, call_arguments(item["action"])), None),))
        text = render_output(self._commands.get(item["call_id"], []), item["output"])
        return Replay(answers=((item["call_id"], text),))


class ShellKind(ToolKind):
    tool_types: ClassVar[tuple[str, ...]] = ("shell",)
    tool_model = ShellTool
    item_models = (ShellCallItem, ShellCallOutputItem)
    item_id_prefixes: ClassVar[dict[str, str]] = {"shell_call": "sh", "shell_call_output": "sho"}

    @classmethod
    def replayer(cls) -> Replayer:
        return ShellReplay()

    async def prepare(self, request: RequestTools) -> PreparedTools | None:
        if not request.entries:
            return None
        for position, tool in request.entries:
            if isinstance(tool.environment, HostedEnvironment):
                raise InvalidRequest(
                    f"The shell tool's environment '{tool.environment.type}' is a container OpenAI runs the commands "
                    "in; this server has none. Use {\"type\": \"local\"} (or no environment): the shell_call items "
                    "come back to you to run, and you send their shell_call_output.",
                    param=f"tools[{position}].environment", code="unsupported_tool")
        position, tool = request.entries[0]
        environment = {"type": "local"} if isinstance(tool.environment, LocalEnvironment) else None
        function = ClientFunction(chat_function(tool), _build(environment))
        return PreparedTools(functions={position: [function.chat]},
                             runner=ShellCallRunner({function.name: function}))
