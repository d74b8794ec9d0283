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
    return "[" in part or part in _TYPE_LABELS or part[:1].isupper()


def param_path(loc: tuple[Any, ...], data: Any) -> str:
    """``("input", 0, "message", "role")`` → ``input[0].role``.

    Walks the request data beside the location so union labels and discriminator tags, which
    pydantic puts into ``loc``, are left out while real field names stay.
    """
    path = ""
    node = data
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
            node = node[part] if isinstance(node, list) and 0 <= part < len(node) else None
            continue
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, dict) and part == node.get("type", "message") or _is_type_label(part):
            continue
        else:
            node = None
        path += f".{part}" if path else part
    return path


def validation_error(exc: ValidationError, data: Any) -> InvalidRequest:
    errors = exc.errors(include_url=False)
    first = max(errors, key=lambda e: len(e["loc"]))  # the deepest error names the branch that nearly matched
    param = param_path(first["loc"], data) or None
    kind = first["type"]
    if kind == "extra_forbidden":
        return InvalidRequest(f"Unknown parameter: '{param}'.", param=param, code="unknown_parameter")
    if kind == "missing":
        return InvalidRequest(f"Missing required parameter: '{param}'.", param=param,
                              code="missing_required_parameter")
    code = "invalid_type" if kind.endswith("_type") or kind in {"model_type", "list_type"} else "invalid_value"
    return InvalidRequest(f"Invalid value for '{param}': {first['msg']}.", param=param, code=code)


def parse_json(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidRequest(
            "We could not parse the JSON body of your request. The body must be valid JSON.",
            code="invalid_json",
        ) from None


def parse_request(raw: bytes, model: type[Model]) -> Model:
    data = parse_json(raw)
    if not isinstance(data, dict):
        raise InvalidRequest("The request body must be a JSON object.", code="invalid_json")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc, data) from None
