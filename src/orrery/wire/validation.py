"""Turn a raw request body into a request model, or into an OpenAI-shaped 400.

Messages are worded as OpenAI words them (``Invalid type for 'temperature': expected a decimal,
but got a string instead.``, ``Invalid value: 'x'. Supported values are: 'a' and 'b'.``,
``Unknown parameter: 'foo.bar'.``, ``Missing required parameter: 'input[0].content'.``), with
OpenAI's codes, and name the parameter by its path in the body; never the server's own models
(pydantic's union labels, discriminator tags and class names are left out).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, TypeVar, Union, get_args, get_origin

import orjson
from pydantic import BaseModel, Tag, ValidationError
from pydantic_core import ErrorDetails

from orrery.errors import InvalidRequest
from orrery.wire.common import NO_NUL
from orrery.wire.items import TOOL_ITEM_TYPES
from orrery.wire.policy import INPUT_ITEMS, REFUSED_ITEM_TYPES, REFUSED_TOOL_TYPES

Model = TypeVar("Model", bound=BaseModel)

_TYPE_LABELS = {"str", "int", "float", "bool", "dict", "list", "none"}
_TOOL_ITEM_TAG = "tool_item"
"""The tag ``orrery.wire.items`` validates the items of tools the server does not run under."""
_MISSING = object()
_MAX_SHOWN = 200
"""Characters of a value a message quotes at most."""

_EXPECTED = {
    "string_type": "a string", "int_type": "an integer", "int_parsing": "an integer", "int_from_float": "an integer",
    "float_type": "a decimal", "float_parsing": "a decimal", "bool_type": "a boolean", "bool_parsing": "a boolean",
    "dict_type": "an object", "model_type": "an object", "model_attributes_type": "an object",
    "list_type": "an array", "none_required": "null",
}
"""What a type error's branch expected, by pydantic's error type."""


def _is_type_label(part: str) -> bool:
    """Pydantic names union members in ``loc`` (``str``, ``list[...]``, class names)."""
    return "[" in part or part in _TYPE_LABELS or part[:1].isupper() or part.startswith("constrained-")


def _walk(loc: tuple[Any, ...], data: Any) -> tuple[list[str | int], Any]:
    """The path in the body an error's location names, and the value found there.

    A part that names a key of the data is a field; any other part before the last is a union
    label or discriminator tag pydantic put into ``loc``, and is left out; the last part, unless
    it is a label, is a missing field (its value ``_MISSING``).
    """
    segments: list[str | int] = []
    node = data
    for position, part in enumerate(loc):
        if isinstance(part, int):
            segments.append(part)
            node = node[part] if isinstance(node, list) and 0 <= part < len(node) else _MISSING
        elif isinstance(node, dict) and part in node:
            segments.append(part)
            node = node[part]
        elif position < len(loc) - 1 or _is_type_label(part):
            continue
        else:
            segments.append(part)
            node = _MISSING
    return segments, node


def _format(segments: list[str | int]) -> str:
    path = ""
    for part in segments:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else part
    return path


def param_path(loc: tuple[Any, ...], data: Any) -> str:
    """``("input", 0, "message", "role")`` → ``input[0].role``."""
    return _format(_walk(loc, data)[0])


def _got(value: Any) -> str:
    """A JSON value's type as OpenAI names it in "but got … instead"."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _shown(value: Any) -> str:
    text = value if isinstance(value, str) else orjson.dumps(value).decode()
    return text if len(text) <= _MAX_SHOWN else text[:_MAX_SHOWN] + "…"


def _number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return str(value)


def _one_of(options: list[str], conjunction: str = "or") -> str:
    """``'a'``, ``'a' or 'b'``, ``'a', 'b', or 'c'``."""
    if len(options) < 3:
        return f" {conjunction} ".join(options)
    return ", ".join(options[:-1]) + f", {conjunction} " + options[-1]


def _quoted(values: list[str]) -> list[str]:
    return [f"'{value}'" for value in values]


def _listed(expected: str) -> list[str]:
    """The values of pydantic's ``expected`` / ``expected_tags`` context, in order."""
    return [match.replace("\\'", "'") for match in re.findall(r"'((?:[^'\\]|\\.)*)'", expected)]


# -- the declared type at an error's location, to say what an array holds --------------------------------------------


def _strip(annotation: Any) -> Any:
    while True:
        if get_origin(annotation) is Annotated:
            annotation = get_args(annotation)[0]
            continue
        if _is_union(annotation):
            members = [member for member in get_args(annotation) if member is not type(None)]
            if len(members) == 1:
                annotation = members[0]
                continue
        return annotation


def _is_union(annotation: Any) -> bool:
    return get_origin(annotation) in (Union, type(int | str))


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _tags(member: Any) -> tuple[str, ...]:
    """The discriminator values a union member is chosen by: its ``Tag``, or its ``type`` literal."""
    if get_origin(member) is Annotated:
        tags = tuple(meta.tag for meta in get_args(member)[1:] if isinstance(meta, Tag))
        if tags:
            return tags
    model = _strip(member)
    if _is_model(model) and "type" in model.model_fields:
        kind = _strip(model.model_fields["type"].annotation)
        if get_origin(kind) is Literal:
            return tuple(str(value) for value in get_args(kind))
    return ()


def _member(annotation: Any, label: str) -> Any:
    """The union member a ``loc`` label or tag names, or ``None``."""
    if not _is_union(annotation):
        return None
    for member in get_args(annotation):
        stripped = _strip(member)
        if label in _tags(member) or (_is_model(stripped) and stripped.__name__ == label):
            return stripped
        if (label == "str" or label.startswith("constrained-str")) and stripped is str:
            return stripped
        if label.startswith("list[") and get_origin(stripped) is list:
            return stripped
        if label.startswith("literal[") and get_origin(stripped) is Literal:
            return stripped
        if label.startswith(("tagged-union[", "union[")) and _is_union(stripped):
            return stripped
    return None


def _field(model: type[BaseModel], name: str) -> Any:
    for field_name, info in model.model_fields.items():
        if name in (field_name, info.alias):
            return info.annotation
    return None


def _annotation_at(model: type[BaseModel], loc: tuple[Any, ...]) -> Any:
    annotation: Any = model
    for part in loc:
        annotation = _strip(annotation)
        if isinstance(part, int):
            annotation = get_args(annotation)[0] if get_origin(annotation) is list else None
        elif _is_model(annotation):
            annotation = _field(annotation, part)
        elif get_origin(annotation) is dict:
            annotation = get_args(annotation)[1]
        else:
            annotation = _member(annotation, part)
        if annotation is None:
            return None
    return _strip(annotation)


def _array_of(model: type[BaseModel] | None, loc: tuple[Any, ...]) -> str:
    """``an array of objects`` (or of strings…), as far as the declared type tells."""
    declared = _annotation_at(model, loc) if model is not None else None
    if get_origin(declared) is not list:
        return "an array"
    item = _strip(get_args(declared)[0])
    members = [_strip(member) for member in get_args(item)] if _is_union(item) else [item]
    if all(_is_model(member) or member is dict or get_origin(member) is dict for member in members):
        return "an array of objects"
    if all(member is str or get_origin(member) is Literal for member in members):
        return "an array of strings"
    return "an array"


# -- one error, worded --------------------------------------------------------------------------------------------


class _Error:
    """A pydantic error with the path it names in the body and the value found there."""

    def __init__(self, details: ErrorDetails, data: Any) -> None:
        self.details = details
        self.kind = details["type"]
        self.loc = tuple(details["loc"])
        self.segments, self.value = _walk(self.loc, data)
        self.param = _format(self.segments)
        self.ctx: dict[str, Any] = dict(details.get("ctx") or {})

    @property
    def is_type_error(self) -> bool:
        """A branch of the declared type that the value's JSON type does not fit."""
        if self.kind in _EXPECTED:
            return True
        if self.kind == "literal_error":
            return not isinstance(self.value, str)
        return self.kind == "union_tag_not_found" and not isinstance(self.value, dict)

    def expected(self, model: type[BaseModel] | None) -> list[str]:
        if self.kind == "literal_error":
            return _quoted(_listed(str(self.ctx.get("expected", ""))))
        if self.kind == "list_type":
            return [_array_of(model, self.loc)]
        return [_EXPECTED.get(self.kind, "an object")]


def _invalid_type(param: str, expected: list[str], value: Any) -> InvalidRequest:
    unique = list(dict.fromkeys(expected))
    wanted = unique[0] if len(unique) == 1 else "one of " + _one_of(unique)
    return InvalidRequest(f"Invalid type for '{param}': expected {wanted}, but got {_got(value)} instead.",
                          param=param, code="invalid_type")


def _bound(error: _Error, model: type[BaseModel] | None) -> InvalidRequest:
    value = error.value
    declared = _annotation_at(model, error.loc) if model is not None else None
    if declared in (int, float):
        noun = "integer" if declared is int else "decimal"
    else:
        noun = "integer" if isinstance(value, int) and not isinstance(value, bool) else "decimal"
    below = error.kind.startswith("greater")
    operator = {"greater_than_equal": ">=", "greater_than": ">", "less_than_equal": "<=", "less_than": "<"}[error.kind]
    bound = error.ctx.get({">=": "ge", ">": "gt", "<=": "le", "<": "lt"}[operator])
    side = "below minimum" if below else "above maximum"
    return InvalidRequest(f"Invalid '{error.param}': {noun} {side} value. Expected a value {operator} "
                          f"{_number(bound)}, but got {_number(value)} instead.",
                          param=error.param, code=f"{noun}_{'below_min' if below else 'above_max'}_value")


def _tag_error(error: _Error) -> InvalidRequest:
    """An object whose ``type`` names no member of its union (or is not there)."""
    node = error.value
    if not isinstance(node, dict):
        return _invalid_type(error.param, ["an object"], node)
    type_param = f"{error.param}.type" if error.param else "type"
    if "type" not in node:
        return InvalidRequest(f"Missing required parameter: '{type_param}'.", param=type_param,
                              code="missing_required_parameter")
    tag = node["type"]
    if not isinstance(tag, str):
        return _invalid_type(type_param, ["a string"], tag)
    tags = _listed(str(error.ctx.get("expected_tags", "")))
    if _TOOL_ITEM_TAG in tags:
        tags = [t for t in tags if t != _TOOL_ITEM_TAG] + sorted(TOOL_ITEM_TYPES)
    tags = [t for t in tags if t not in REFUSED_TOOL_TYPES]
    if tag in REFUSED_ITEM_TYPES and "message" in tags:
        return InvalidRequest(f"Unsupported value: '{error.param}' is an item of type '{tag}', which this server "
                              f"does not support: {INPUT_ITEMS[tag].reason}.", param=error.param,
                              code="unsupported_value")
    return InvalidRequest(f"Invalid value: '{_shown(tag)}'. Supported values are: {_one_of(_quoted(tags), 'and')}.",
                          param=error.param, code="invalid_value")


def _worded(error: _Error, model: type[BaseModel] | None) -> InvalidRequest:
    kind, param, value, ctx = error.kind, error.param, error.value, error.ctx
    if kind == "extra_forbidden":
        return InvalidRequest(f"Unknown parameter: '{param}'.", param=param, code="unknown_parameter")
    if kind == "missing":
        return InvalidRequest(f"Missing required parameter: '{param}'.", param=param,
                              code="missing_required_parameter")
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        return _tag_error(error)
    if error.is_type_error:
        return _invalid_type(param, error.expected(model), value)
    if kind == "literal_error":
        supported = _one_of(_quoted(_listed(str(ctx.get("expected", "")))), "and")
        return InvalidRequest(f"Invalid value: '{_shown(value)}'. Supported values are: {supported}.", param=param,
                              code="invalid_value")
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        return _bound(error, model)
    if kind == "string_too_short":
        got = "an empty string" if value == "" else f"a string with length {len(value)}"
        return InvalidRequest(f"Invalid '{param}': string too short. Expected a string with minimum length "
                              f"{ctx.get('min_length')}, but got {got} instead.", param=param,
                              code="string_below_min_length")
    if kind == "string_too_long":
        return InvalidRequest(f"Invalid '{param}': string too long. Expected a string with maximum length "
                              f"{ctx.get('max_length')}, but got a string with length {len(value)} instead.",
                              param=param, code="string_above_max_length")
    if kind == "too_short" and isinstance(value, list):
        if not value:
            return InvalidRequest(f"Invalid '{param}': empty array. Expected an array with minimum length "
                                  f"{ctx.get('min_length')}, but got an empty array instead.", param=param,
                                  code="empty_array")
        return InvalidRequest(f"Invalid '{param}': array too short. Expected an array with minimum length "
                              f"{ctx.get('min_length')}, but got an array with length {len(value)} instead.",
                              param=param, code="array_below_min_length")
    if kind == "too_long" and isinstance(value, list):
        return InvalidRequest(f"Invalid '{param}': array too long. Expected an array with maximum length "
                              f"{ctx.get('max_length')}, but got an array with length {len(value)} instead.",
                              param=param, code="array_above_max_length")
    if kind == "string_pattern_mismatch" and ctx.get("pattern") == NO_NUL:
        return InvalidRequest(f"Invalid '{param}': string must not contain NUL characters (\\u0000).", param=param,
                              code="invalid_value")
    if kind == "string_pattern_mismatch":
        return InvalidRequest(f"Invalid '{param}': string does not match pattern. Expected a string that matches "
                              f"the pattern '{ctx.get('pattern')}'.", param=param, code="invalid_value")
    if kind == "object_above_max_properties":
        return InvalidRequest(f"Invalid '{param}': too many properties. Expected an object with at most "
                              f"{ctx['max_properties']} properties, but got an object with {ctx['properties']} "
                              f"properties instead.", param=param, code=kind)
    if kind == "property_name_above_max_length":
        name = str(ctx["name"])
        shown = name if len(name) <= 12 else f"{name[:3]}...{name[-3:]}"
        return InvalidRequest(f"Invalid property name in '{param}': '{shown}' is too long. Expected a string with "
                              f"maximum length {ctx['max_length']}, but got a string with length {len(name)} "
                              f"instead.", param=f"{param}.{name}", code=kind)
    if kind == "string_above_max_length":
        key_param = f"{param}.{ctx['key']}"
        return InvalidRequest(f"Invalid '{key_param}': string too long. Expected a string with maximum length "
                              f"{ctx['max_length']}, but got a string with length {ctx['length']} instead.",
                              param=key_param, code=kind)
    if kind == "unsupported_parameter":
        return InvalidRequest(f"Unsupported parameter: '{param}' is not supported by this server: "
                              f"{ctx['reason']}.", param=param, code=kind)
    message = str(error.details["msg"])
    if kind == "value_error":
        return InvalidRequest(f"Invalid '{param}': {message.removeprefix('Value error, ')}.", param=param,
                              code="invalid_value")
    return InvalidRequest(f"Invalid value for '{param}': {message}.", param=param, code="invalid_value")


def _chosen(errors: list[_Error]) -> _Error:
    """The error OpenAI would report: a missing top-level parameter, else an unknown parameter,
    else the deepest error, preferring one of the branch the value's type fits."""
    for error in errors:
        if error.kind == "missing" and len(error.segments) == 1:
            return error
    for error in errors:
        if error.kind == "extra_forbidden":
            return error
    depth = max(len(error.segments) for error in errors)
    deepest = [error for error in errors if len(error.segments) == depth]
    return next((error for error in deepest if not error.is_type_error), deepest[0])


def validation_error(exc: ValidationError, data: Any, model: type[BaseModel] | None = None) -> InvalidRequest:
    """The 400 for a body that failed validation; ``model``, the model it was validated with,
    tells what an array should hold."""
    errors = [_Error(details, data) for details in exc.errors(include_url=False)]
    if not errors:
        return InvalidRequest("The request body is invalid.", code="invalid_value")
    chosen = _chosen(errors)
    if chosen.is_type_error and chosen.kind not in ("union_tag_not_found",):
        same_place = [error for error in errors if error.segments == chosen.segments and error.is_type_error
                      and error.kind != "union_tag_not_found"]
        expected = [wanted for error in same_place for wanted in error.expected(model)]
        return _invalid_type(chosen.param, expected, chosen.value)
    return _worded(chosen, model)


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
        raise validation_error(exc, data, model) from None
