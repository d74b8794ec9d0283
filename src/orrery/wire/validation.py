"""Turn a raw request body into a request model, or into an OpenAI-shaped 400."""

from __future__ import annotations

from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError

from orrery.errors import InvalidRequest

Model = TypeVar("Model", bound=BaseModel)


_TYPE_LABELS = {"str", "int", "float", "bool", "dict", "list", "none"}


def _is_type_label(part: str) -> bool:
    """Pydantic names union members in ``loc`` (``str``, ``list[...]``, class names)."""
    return "[" in part or part in _TYPE_LABELS or part[:1].isupper() or part.startswith("constrained-")


def param_path(loc: tuple[Any, ...], data: Any) -> str:
    """``("input", 0, "message", "role")`` → ``input[0].role``.

    Walks the request data beside the location: a part that names a key of the data is a field;
    any other part before the last is a union label or discriminator tag pydantic put into
    ``loc``, and is left out; the last part, unless it is a label, is a missing field.
    """
    path = ""
    node = data
    for position, part in enumerate(loc):
        if isinstance(part, int):
            path += f"[{part}]"
            node = node[part] if isinstance(node, list) and 0 <= part < len(node) else None
            continue
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif position < len(loc) - 1 or _is_type_label(part):
            continue
        path += f".{part}" if path else part
    return path


def validation_error(exc: ValidationError, data: Any) -> InvalidRequest:
    errors = exc.errors(include_url=False)
    first = max(errors, key=lambda e: len(e["loc"]))  # the deepest error names the branch that nearly matched
    param = param_path(first["loc"], data) if first["loc"] else None
    kind = first["type"]
    if kind == "extra_forbidden":
        return InvalidRequest(f"Unknown parameter: '{param}'.", param=param, code="unknown_parameter")
    if kind == "missing":
        return InvalidRequest(f"Missing required parameter: '{param}'.", param=param,
                              code="missing_required_parameter")
    code = "invalid_type" if kind.endswith("_type") or kind in {"model_type", "list_type"} else "invalid_value"
    return InvalidRequest(f"Invalid value for '{param}': {first['msg']}.", param=param, code=code)


MAX_DEPTH_MARGIN = 8


def _check_depth(data: Any) -> None:
    """Refuse bodies nested too deeply for the responses that would embed them.

    orjson serializes at most 254 levels; a response object wraps request values (tools,
    schemas, items) in a few more levels, so the body must serialize with a margin to spare.
    Serializing once in C is far cheaper than walking the body in Python.
    """
    wrapped = data
    for _ in range(MAX_DEPTH_MARGIN):
        wrapped = [wrapped]
    try:
        orjson.dumps(wrapped)
    except TypeError:
        raise InvalidRequest(
            f"The request body is nested too deeply (at most {254 - MAX_DEPTH_MARGIN} levels).",
            code="invalid_json",
        ) from None


def parse_json(raw: bytes) -> Any:
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidRequest(
            "We could not parse the JSON body of your request. The body must be valid JSON.",
            code="invalid_json",
        ) from None
    _check_depth(data)
    return data


def parse_request(raw: bytes, model: type[Model]) -> Model:
    data = parse_json(raw)
    if not isinstance(data, dict):
        raise InvalidRequest("The request body must be a JSON object.", code="invalid_json")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc, data) from None
