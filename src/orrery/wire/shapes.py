"""The shapes of the objects ``objects`` builds, as TypedDicts: checked by mypy, plain dicts at run
time (nothing is validated or copied on the output path). Field names and types follow the openai
SDK's models of the same names."""

from __future__ import annotations

from typing import Any, Literal, TypedDict


class InputTokensDetails(TypedDict):
    cached_tokens: int
    cache_write_tokens: int


class OutputTokensDetails(TypedDict):
    reasoning_tokens: int


class Usage(TypedDict):
    """``ResponseUsage``."""

    input_tokens: int
    input_tokens_details: InputTokensDetails
    output_tokens: int
    output_tokens_details: OutputTokensDetails
    total_tokens: int


class OutputTextPart(TypedDict):
    """``ResponseOutputText``."""

    type: Literal["output_text"]
    annotations: list[dict[str, Any]]
    logprobs: list[dict[str, Any]]
    text: str


class ReasoningTextPart(TypedDict):
    """``Content`` of a ``ResponseReasoningItem``."""

    type: Literal["reasoning_text"]
    text: str


class ListPage(TypedDict):
    """``SyncCursorPage`` as the API sends it."""

    object: Literal["list"]
    data: list[dict[str, Any]]
    first_id: str | None
    last_id: str | None
    has_more: bool


ResponseObject = dict[str, Any]
"""``Response``: its fields are the request's echoed parameters (``response_params``) and the
run's state, merged as one dict, which a TypedDict cannot spell without restating every parameter."""
