"""The apply_patch tool (``{"type": "apply_patch"}``): file edits the client applies.

The model is offered a function ``apply_patch`` with one ``operation`` (``create_file``,
``update_file`` or ``delete_file`` of a ``path``, with a ``diff`` but for deletions); its call
comes back as an ``apply_patch_call`` item, and the client's ``apply_patch_call_output`` (its
``status`` and ``output`` log) is shown to the model as that call's ``tool`` message.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field

from orrery.tools.base import ChatFunction, Item, ModelCall, PreparedTools, Replay, RequestTools, ToolKind
from orrery.tools.client_calls import CallItem, ClientFunction, arguments_of, offered_by_every_entry
from orrery.wire.common import Identifier, LenientModel, StrictModel

FUNCTION_NAME = "apply_patch"
ITEM_PREFIX = "apc_"
OPERATIONS = ("create_file", "update_file", "delete_file")
DESCRIPTION = (
    "Create, update or delete one file. For create_file, 'diff' is the new file's whole content, each line "
    "prefixed with '+'. For update_file, 'diff' is a V4A diff of the file: one or more hunks, each starting with a "
    "line '@@' (optionally followed by a line of the file, such as a class or function signature, that locates the "
    "hunk), then about three lines of unchanged context before and after each change prefixed with ' ', removed "
    "lines prefixed with '-' and added lines prefixed with '+'. delete_file takes no diff.")
PARAMETERS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "operation": {
            "type": "object",
            "properties": {
                "type": {"type": "string", "enum": list(OPERATIONS)},
                "path": {"type": "string", "description": "The path of the file."},
                "diff": {"type": "string", "description": "The diff to apply (not for delete_file)."},
            },
            "required": ["type", "path"],
        },
    },
    "required": ["operation"],
}


class ApplyPatchTool(StrictModel):
    type: Literal["apply_patch"]
    allowed_callers: list[Literal["direct", "programmatic"]] | None = None


class CreateFile(LenientModel):
    type: Literal["create_file"]
    path: str
    diff: str


class UpdateFile(LenientModel):
    type: Literal["update_file"]
    path: str
    diff: str


class DeleteFile(LenientModel):
    type: Literal["delete_file"]
    path: str


class ApplyPatchCallItem(LenientModel):
    type: Literal["apply_patch_call"]
    call_id: str = Field(min_length=1)
    operation: Annotated[CreateFile | UpdateFile | DeleteFile, Field(discriminator="type")]
    id: Identifier | None = None


class ApplyPatchCallOutputItem(LenientModel):
    type: Literal["apply_patch_call_output"]
    call_id: str = Field(min_length=1)
    status: Literal["completed", "failed"]
    output: str | None = None
    id: Identifier | None = None


def chat_function() -> ChatFunction:
    return {"type": "function", "function": {"name": FUNCTION_NAME, "description": DESCRIPTION,
                                             "parameters": PARAMETERS}}


def operation_of(arguments: dict[str, Any]) -> dict[str, Any]:
    """The operation the model asked for, in the SDK's shape. An operation of no known type is an
    update (with no diff, a no-op for the client): a deletion is never guessed."""
    asked = arguments.get("operation")
    asked = asked if isinstance(asked, dict) else arguments
    kind = asked.get("type") if asked.get("type") in OPERATIONS else "update_file"
    path = asked.get("path") if isinstance(asked.get("path"), str) else ""
    if kind == "delete_file":
        return {"type": kind, "path": path}
    diff = asked.get("diff") if isinstance(asked.get("diff"), str) else ""
    return {"type": kind, "path": path, "diff": diff}


def build(call: ModelCall) -> CallItem:
    item: Item = {"id": ITEM_PREFIX + call.call_id, "type": "apply_patch_call", "call_id": call.call_id,
                  "operation": operation_of(arguments_of(call)), "status": "in_progress"}
    return item, ()


def answer(item: Item) -> str:
    """The ``tool`` message for an output: its log, said to be a failure when the patch failed."""
    output = item.get("output") or ""
    if item.get("status") == "failed":
        return f"The patch failed: {output}" if output else "The patch failed."
    return output or "The patch was applied."


def replayed(item: Item) -> Replay:
    if item["type"] == "apply_patch_call":
        arguments = json.dumps({"operation": item["operation"]}, ensure_ascii=False)
        return Replay(calls=((ModelCall(item["call_id"], FUNCTION_NAME, arguments), None),))
    return Replay(answers=((item["call_id"], answer(item)),))


class ApplyPatchKind(ToolKind):
    tool_types: ClassVar[tuple[str, ...]] = ("apply_patch",)
    tool_model = ApplyPatchTool
    item_models = (ApplyPatchCallItem, ApplyPatchCallOutputItem)
    item_id_prefixes: ClassVar[dict[str, str]] = {"apply_patch_call": "apc", "apply_patch_call_output": "apco"}

    @classmethod
    def replayer(cls) -> Any:
        return replayed

    async def prepare(self, request: RequestTools) -> PreparedTools | None:
        return offered_by_every_entry(request, ClientFunction(chat_function(), build))
