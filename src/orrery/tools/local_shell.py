"""The local shell tool (``{"type": "local_shell"}``, Codex's): commands the client runs on its machine.

The model is offered a function ``local_shell`` whose parameters are the fields of OpenAI's
``exec`` action (``command`` as argv, ``env``, ``working_directory``, ``timeout_ms``, ``user``);
its call comes back as a ``local_shell_call`` item, and the client's ``local_shell_call_output``
is shown to the model as that call's ``tool`` message. The output names its call by ``id`` (the
call's ``call_id``, as the SDK has it) or by ``call_id`` (as OpenAI's guide and most clients send it).
"""

from __future__ import annotations

import json
from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from orrery.tools.base import ChatFunction, Item, ModelCall, PreparedTools, Replay, RequestTools, ToolKind
from orrery.tools.client_calls import CallItem, ClientFunction, arguments_of, offered_by_every_entry
from orrery.tools.shell import integer, string_map, strings
from orrery.wire.common import Identifier, LenientModel, StrictModel

FUNCTION_NAME = "local_shell"
ITEM_PREFIX = "lsh_"
DESCRIPTION = ("Run a command on the user's machine and read its output. The command is given as argv: the "
               "program first, then each of its arguments.")
PARAMETERS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "command": {"type": "array", "items": {"type": "string"},
                    "description": "The command to run, as argv (e.g. [\"ls\", \"-la\"])."},
        "env": {"type": "object", "additionalProperties": {"type": "string"},
                "description": "Environment variables to set for the command."},
        "working_directory": {"type": "string", "description": "The directory to run the command in."},
        "timeout_ms": {"type": "integer", "description": "A timeout for the command, in milliseconds."},
        "user": {"type": "string", "description": "The user to run the command as."},
    },
    "required": ["command"],
}
OPTIONAL_FIELDS = ("working_directory", "timeout_ms", "user")


class LocalShellTool(StrictModel):
    type: Literal["local_shell"]


class ExecAction(LenientModel):
    type: Literal["exec"] = "exec"
    command: list[str]
    env: dict[str, str] = Field(default_factory=dict)
    timeout_ms: int | None = None
    user: str | None = None
    working_directory: str | None = None


class LocalShellCallItem(LenientModel):
    type: Literal["local_shell_call"]
    call_id: str = Field(min_length=1)
    action: ExecAction
    id: Identifier | None = None


class LocalShellCallOutputItem(LenientModel):
    type: Literal["local_shell_call_output"]
    output: str | list[dict[str, Any]]
    id: Identifier | None = None
    """The call's ``call_id``, per the SDK."""
    call_id: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _names_its_call(self) -> LocalShellCallOutputItem:
        if self.id is None and self.call_id is None:
            raise ValueError("a local_shell_call_output names its call by 'id' (the call's call_id) or 'call_id'")
        return self


def chat_function() -> ChatFunction:
    return {"type": "function", "function": {"name": FUNCTION_NAME, "description": DESCRIPTION,
                                             "parameters": PARAMETERS}}


def action_of(arguments: dict[str, Any]) -> dict[str, Any]:
    """The ``exec`` action from the function's arguments, every field of the SDK's type set."""
    return {"type": "exec", "command": strings(arguments.get("command")), "env": string_map(arguments.get("env")),
            "timeout_ms": integer(arguments.get("timeout_ms")),
            "user": arguments["user"] if isinstance(arguments.get("user"), str) else None,
            "working_directory": arguments["working_directory"]
            if isinstance(arguments.get("working_directory"), str) else None}


def build(call: ModelCall) -> CallItem:
    item: Item = {"id": ITEM_PREFIX + call.call_id, "type": "local_shell_call", "call_id": call.call_id,
                  "action": action_of(arguments_of(call)), "status": "in_progress"}
    return item, ()


def arguments(action: dict[str, Any]) -> str:
    """The function's arguments for a stored action: ``command``, and the other fields that are set."""
    shown: dict[str, Any] = {"command": action.get("command", [])}
    if action.get("env"):
        shown["env"] = action["env"]
    shown |= {key: action[key] for key in OPTIONAL_FIELDS if action.get(key) is not None}
    return json.dumps(shown, ensure_ascii=False)


def replayed(item: Item) -> Replay:
    if item["type"] == "local_shell_call":
        return Replay(calls=((ModelCall(item["call_id"], FUNCTION_NAME, arguments(item["action"])), None),))
    return Replay(answers=((item.get("call_id") or item["id"], item["output"]),))


class LocalShellKind(ToolKind):
    tool_types: ClassVar[tuple[str, ...]] = ("local_shell",)
    tool_model = LocalShellTool
    item_models = (LocalShellCallItem, LocalShellCallOutputItem)
    item_id_prefixes: ClassVar[dict[str, str]] = {"local_shell_call": "lsh", "local_shell_call_output": "lsho"}

    @classmethod
    def replayer(cls) -> Any:
        return replayed

    async def prepare(self, request: RequestTools) -> PreparedTools | None:
        return offered_by_every_entry(request, ClientFunction(chat_function(), build))
