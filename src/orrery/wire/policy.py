"""What the server does with every field of the Responses contract (openai 3.57.0), in one table.

Every parameter of ``responses.create``, every input item type, every tool type and every
``include`` value has one policy:

- ``implemented``: the server does what the field asks;
- ``passed upstream``: sent to the chat-completions backend under the same name, and echoed;
- ``accepted and echoed``: validated, stored and shown in the response object (as the setting in
  effect, where OpenAI's response shows that rather than the value asked for), with no further
  effect here;
- ``refused``: a 400 naming the field (``unsupported_parameter``, ``unsupported_tool`` or
  ``unsupported_value``) and saying why.

The README's table is written from this one (``markdown_table``), and a test keeps the two equal
and checks that every name the openai SDK's types declare has an entry here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Policy = Literal["implemented", "passed upstream", "accepted and echoed", "refused"]

IMPLEMENTED: Policy = "implemented"
PASSED: Policy = "passed upstream"
ECHOED: Policy = "accepted and echoed"
REFUSED: Policy = "refused"


@dataclass(frozen=True)
class Entry:
    policy: Policy
    reason: str
    """One line: what the server does with it, or why it is refused."""


def _entries(rows: dict[str, tuple[Policy, str]]) -> dict[str, Entry]:
    return {name: Entry(policy, reason) for name, (policy, reason) in rows.items()}


PARAMETERS = _entries({
    "access_programs": (ECHOED, "OpenAI's access programs; a program given is shown, none applies here"),
    "background": (IMPLEMENTED, "queued at once and run by any server process on the store; streams resume "
                                "from any `sequence_number`; cancellable"),
    "background_options": (IMPLEMENTED, "checked as OpenAI does (`2h` and `8h` need `background: true` without "
                                        "`stream`); every window runs as soon as a worker is free"),
    "context_management": (IMPLEMENTED, "past `compact_threshold` tokens (else the window), the earlier context is "
                                        "compacted first, as a `compaction` output item"),
    "conversation": (IMPLEMENTED, "the conversation's items are shown first; the turn is appended to it"),
    "image": (ECHOED, "no image context compression here: shown as the effective `disabled`"),
    "include": (IMPLEMENTED, "each value below"),
    "input": (IMPLEMENTED, "a string or input items (each item type below)"),
    "instructions": (IMPLEMENTED, "a system message for this turn only"),
    "max_output_tokens": (IMPLEMENTED, "sent as `max_tokens`; a response cut short by it is `incomplete`"),
    "max_tool_calls": (IMPLEMENTED, "server-side tool calls past it are not run"),
    "metadata": (IMPLEMENTED, "stored and shown (16 pairs at most, as OpenAI checks)"),
    "model": (IMPLEMENTED, "`provider/name`, or a name of the first provider"),
    "moderation": (REFUSED, "this server runs no moderation model, and would otherwise answer unmoderated"),
    "parallel_tool_calls": (IMPLEMENTED, "sent upstream with the tools"),
    "previous_response_id": (IMPLEMENTED, "the chain's items are shown first"),
    "prompt": (REFUSED, "stored prompt templates live in an OpenAI project; this server stores none"),
    "prompt_cache_key": (PASSED, "a caching hint for backends that take one"),
    "prompt_cache_options": (ECHOED, "prompt caching is the backend's own; shown with its defaults filled in"),
    "prompt_cache_retention": (ECHOED, "prompt caching is the backend's own; nothing is sent for it"),
    "reasoning": (IMPLEMENTED, "`effort` is sent as `reasoning_effort`; the rest is echoed"),
    "safety_identifier": (PASSED, "for backends that monitor abuse"),
    "service_tier": (ECHOED, "no tiers here: `auto` is shown as `default`, `fast` as `priority`, as OpenAI does"),
    "store": (IMPLEMENTED, "`false` keeps nothing"),
    "stream": (IMPLEMENTED, "SSE events, then `data: [DONE]`"),
    "stream_options": (IMPLEMENTED, "`include_obfuscation` is accepted; events carry no `obfuscation` padding"),
    "temperature": (PASSED, "shown as 1.0 (OpenAI's default) when not set"),
    "text": (IMPLEMENTED, "`format` is sent as `response_format`; `verbosity` is echoed"),
    "tool_choice": (IMPLEMENTED, "every form, `allowed_tools` by narrowing the tools offered"),
    "tools": (IMPLEMENTED, "each tool type below"),
    "top_logprobs": (PASSED, "with `logprobs: true`; shown as 0 when not set"),
    "top_p": (PASSED, "shown as 1.0 (OpenAI's default) when not set"),
    "truncation": (IMPLEMENTED, "with a known context window: `auto` drops the oldest messages to fit, "
                                "`disabled` answers `context_length_exceeded` before any stream"),
    "user": (PASSED, "for backends that take it"),
})
"""The parameters of ``ResponseCreateParamsBase``, and ``stream``."""

EXTRA_PARAMETERS = _entries({
    "client_metadata": (IMPLEMENTED, "the Codex CLI's string map: stored with the request, never sent upstream "
                                     "nor shown (OpenAI's public API does not know it)"),
    "frequency_penalty": (PASSED, "not in the SDK's types (Open Responses has it); shown as 0.0 when not set"),
    "presence_penalty": (PASSED, "not in the SDK's types (Open Responses has it); shown as 0.0 when not set"),
})
"""Parameters real clients send that the openai SDK's types do not declare."""

_KEPT = "kept and listed with the input items; the model is not shown it"

INPUT_ITEMS = _entries({
    "additional_tools": (REFUSED, "tools added in the middle of the input are not offered to the model yet"),
    "apply_patch_call": (IMPLEMENTED, "an apply_patch tool call, shown to the model again"),
    "apply_patch_call_output": (IMPLEMENTED, "its result, shown to the model"),
    "code_interpreter_call": (ECHOED, _KEPT),
    "compaction": (IMPLEMENTED, "shown to the model as the summary it seals; the items before it are not shown"),
    "compaction_trigger": (IMPLEMENTED, "the last item: the response compacts the context instead of answering"),
    "computer_call": (ECHOED, _KEPT),
    "computer_call_output": (ECHOED, _KEPT),
    "configuration_update": (REFUSED, "configuration changes in the middle of the input are not applied yet"),
    "custom_tool_call": (IMPLEMENTED, "a custom tool call, shown to the model again"),
    "custom_tool_call_output": (IMPLEMENTED, "its result, shown to the model"),
    "file_search_call": (IMPLEMENTED, "a search and its results, shown to the model again"),
    "function_call": (IMPLEMENTED, "shown to the model as an assistant tool call"),
    "function_call_output": (IMPLEMENTED, "shown to the model as a tool message"),
    "image_generation_call": (ECHOED, _KEPT),
    "item_reference": (IMPLEMENTED, "replaced by the stored item it names"),
    "local_shell_call": (IMPLEMENTED, "a local shell call, shown to the model again"),
    "local_shell_call_output": (IMPLEMENTED, "its result, shown to the model"),
    "mcp_approval_request": (IMPLEMENTED, "an MCP call waiting for approval"),
    "mcp_approval_response": (IMPLEMENTED, "runs or declines the approved call"),
    "mcp_call": (IMPLEMENTED, "an MCP call and its result, shown to the model again"),
    "mcp_list_tools": (IMPLEMENTED, "an MCP server's tools, not listed again"),
    "message": (IMPLEMENTED, "every role and content part"),
    "program": (REFUSED, "programmatic tool calling is not run by this server"),
    "program_output": (REFUSED, "programmatic tool calling is not run by this server"),
    "reasoning": (IMPLEMENTED, "sealed content is opened; shown to backends that read reasoning"),
    "shell_call": (IMPLEMENTED, "a shell call, shown to the model again"),
    "shell_call_output": (IMPLEMENTED, "its result, shown to the model"),
    "tool_search_call": (IMPLEMENTED, "a tool search, shown to the model again"),
    "tool_search_output": (IMPLEMENTED, "the tools it found"),
    "web_search_call": (IMPLEMENTED, "a search and its pages, shown to the model again"),
})
"""The ``type`` values of ``ResponseInputItemParam``."""

_NOT_RUN = "this server has no {} to run it in"

TOOLS = _entries({
    "apply_patch": (IMPLEMENTED, "client-run: calls end the response as `apply_patch_call` items"),
    "code_interpreter": (REFUSED, _NOT_RUN.format("code sandbox")),
    "computer": (REFUSED, _NOT_RUN.format("computer")),
    "computer_use_preview": (REFUSED, _NOT_RUN.format("computer")),
    "custom": (IMPLEMENTED, "client-run: offered as a function taking one string"),
    "file_search": (IMPLEMENTED, "searches this server's vector stores"),
    "function": (IMPLEMENTED, "client-run: offered to the model as given"),
    "image_generation": (REFUSED, "this server has no image model"),
    "local_shell": (IMPLEMENTED, "client-run: calls end the response as `local_shell_call` items"),
    "mcp": (IMPLEMENTED, "remote MCP servers, with approvals"),
    "namespace": (IMPLEMENTED, "client-run: its tools offered as `namespace__name`"),
    "programmatic_tool_calling": (REFUSED, "this server runs no model-written programs"),
    "shell": (IMPLEMENTED, "client-run: calls end the response as `shell_call` items"),
    "tool_search": (IMPLEMENTED, "finds tools among those deferred"),
    "web_search": (IMPLEMENTED, "a Tavily-compatible search API; left out without one"),
    "web_search_2025_08_26": (IMPLEMENTED, "as `web_search`"),
    "web_search_preview": (IMPLEMENTED, "as `web_search`"),
    "web_search_preview_2025_03_11": (IMPLEMENTED, "as `web_search`"),
})
"""The ``type`` values of ``ToolParam``."""

INCLUDES = _entries({
    "code_interpreter_call.outputs": (IMPLEMENTED, "code interpreter items sent as input are kept whole"),
    "computer_call_output.output.image_url": (IMPLEMENTED, "computer call outputs sent as input are kept whole"),
    "file_search_call.results": (IMPLEMENTED, "the chunks a search found"),
    "message.input_image.image_url": (IMPLEMENTED, "input images always keep their URL"),
    "message.output_text.logprobs": (IMPLEMENTED, "asked of the backend with `logprobs: true`"),
    "reasoning.encrypted_content": (IMPLEMENTED, "reasoning sealed under the server's key"),
    "web_search_call.action.sources": (IMPLEMENTED, "the pages a search found"),
    "web_search_call.results": (IMPLEMENTED, "the text of the pages read"),
})
"""The values of ``ResponseIncludable``."""

TABLES: tuple[tuple[str, dict[str, Entry]], ...] = (
    ("parameter", {**PARAMETERS, **EXTRA_PARAMETERS}),
    ("input item", INPUT_ITEMS),
    ("tool", TOOLS),
    ("include", INCLUDES),
)

REFUSED_ITEM_TYPES = frozenset(name for name, entry in INPUT_ITEMS.items() if entry.policy == REFUSED)
REFUSED_TOOL_TYPES = tuple(name for name, entry in TOOLS.items() if entry.policy == REFUSED)


def markdown_table() -> str:
    """The policy of every field, as the README shows it."""
    lines = ["| kind | name | policy | what it does, or why not |", "|---|---|---|---|"]
    for kind, entries in TABLES:
        lines += [f"| {kind} | `{name}` | {entry.policy} | {entry.reason} |" for name, entry in sorted(entries.items())]
    return "\n".join(lines) + "\n"
