"""Settings from an optional YAML file, ORRERY_* environment variables and CLI flags.

Precedence, lowest first: defaults, YAML (``--config`` or ``ORRERY_CONFIG``), environment,
command-line flags. Each setting is declared once, as a field whose ``From`` names its YAML key and
environment variable. Provider API keys come from the YAML or ``ORRERY_<ID>_API_KEY``; they are
never written anywhere. A YAML key that no field declares is an error; the environment is read only
by the names declared, so other ``ORRERY_*`` variables (the shell commands', a provider's key) pass.
"""

from __future__ import annotations

import difflib
import os
import re
import types
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypeVar, Union, get_args, get_origin

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PositiveFloat,
    PositiveInt,
    ValidationError,
    model_validator,
)
from pydantic_core import ErrorDetails

from orrery.observability.logs import LogFormat
from orrery.recording.modes import RecordingMode

DEFAULT_PORT = 8321
DEFAULT_HOST = "127.0.0.1"
PROVIDER_ID = re.compile(r"^[A-Za-z0-9_-]+$")
LOCAL_SCHEME = "gguf:"
DEFAULT_WEB_SEARCH_URL = "https://api.tavily.com"

M = TypeVar("M", bound=BaseModel)
SECRETS = ("api_key", "state_key", "key", "api_keys")
"""Settings whose values no error message shows."""


class ConfigError(ValueError):
    """A setting is missing or malformed."""


@dataclass(frozen=True)
class From:
    """Where a setting is read: its YAML key (``section.key`` for one inside a section) and its
    environment variable, which wins over the YAML."""

    yaml: str
    env: str | None = None

    def read(self, document: Mapping[str, Any], env: Mapping[str, str], path: str | None) -> Any:
        if self.env and env.get(self.env):
            return env[self.env]
        *sections, key = self.yaml.split(".")
        for section in sections:
            document = document.get(section) or {}
            if not isinstance(document, dict):
                # Not shown: a section given as a bare string may well be an API key.
                raise ConfigError(f"config {path}: {section!r} must be a mapping, not a {type(document).__name__}")
        return document.get(key)


_ExpandedPath = Annotated[Path, AfterValidator(Path.expanduser)]


class _Model(BaseModel):
    """Frozen; unknown keys refused; a number where text is expected (YAML ``id: 1``,
    ``api_key: 12345``) is taken as text."""

    model_config = ConfigDict(frozen=True, coerce_numbers_to_str=True, extra="forbid")


class ModelConfig(_Model):
    """What the server should know of one of a provider's models that its upstream does not say."""

    name: str
    context_window: PositiveInt | None = None
    """Tokens the model reads at most, prompt and answer together."""


class ProviderConfig(_Model):
    id: str
    base_url: str
    api_key: str | None = None
    timeout: float = 600.0
    connect_timeout: float = 10.0
    reasoning_history: bool = False
    """Show the model its reasoning of earlier turns, as ``reasoning_content`` on the assistant
    messages that followed it (vLLM, llama.cpp and DeepSeek-style chat templates read it)."""
    models: tuple[ModelConfig, ...] = ()
    max_output_tokens: PositiveInt = 1024
    """GGUF models only: the most tokens one answer writes when the request sets no limit."""
    repeat_penalty: Annotated[float, Field(ge=1.0)] = 1.1
    """GGUF models only: llama.cpp's penalty on tokens repeated from the last 64 (1.0: none)."""
    max_queue_wait: PositiveFloat = 30.0
    """GGUF models only: seconds a request waits for its turn (one generation at a time) before
    it is answered 503 with ``Retry-After``."""

    @property
    def model_path(self) -> Path | None:
        """The model file of a provider run in-process (``base_url`` ``gguf:/path/model.gguf``)."""
        if self.base_url.startswith(LOCAL_SCHEME):
            return Path(self.base_url[len(LOCAL_SCHEME):])
        return None


class WebSearchConfig(_Model):
    """A Tavily-compatible search API (``POST {base_url}/search``) behind the ``web_search`` tool."""

    base_url: Annotated[str, From("web_search.base_url", "ORRERY_WEB_SEARCH_URL"),
                        AfterValidator(lambda url: url.rstrip("/"))] = DEFAULT_WEB_SEARCH_URL
    api_key: Annotated[str | None, From("web_search.api_key", "ORRERY_WEB_SEARCH_API_KEY")] = None
    timeout: Annotated[float, From("web_search.timeout")] = 30.0


class StaticKey(_Model):
    """An API key given in the configuration, and the project (principal) it acts for."""

    key: str = Field(min_length=1)
    project: str = Field(min_length=1, max_length=128)
    admin: bool = False
    """Reads every project's objects."""


def _comma_separated(value: Any) -> Any:
    """An environment variable's ``a,b,c``; the YAML's list as it is."""
    return [part.strip() for part in value.split(",") if part.strip()] if isinstance(value, str) else value


def _static_keys(value: Any) -> Any:
    """``ORRERY_API_KEYS``: ``KEY1=PROJECT1,KEY2=PROJECT2``; the YAML's list as it is."""
    if not isinstance(value, str):
        return value
    keys = []
    for entry in filter(None, (part.strip() for part in value.split(","))):
        key, sep, project = entry.rpartition("=")
        if not sep or not key or not project:
            raise ValueError("ORRERY_API_KEYS expects KEY=PROJECT pairs separated by commas")
        keys.append({"key": key, "project": project})
    return keys


class Settings(_Model):
    providers: tuple[ProviderConfig, ...] = ()
    db_url: Annotated[str, From("db", "ORRERY_DB")] = ""
    host: Annotated[str, From("host", "ORRERY_HOST")] = DEFAULT_HOST
    port: Annotated[int, From("port", "ORRERY_PORT")] = DEFAULT_PORT
    workers: Annotated[int, From("workers")] = 1
    data_dir: Annotated[_ExpandedPath, From("data_dir", "ORRERY_DATA_DIR")] = Field(
        default_factory=lambda: Path.home() / ".orrery")
    log_level: Annotated[str, From("log_level", "ORRERY_LOG_LEVEL")] = "info"
    log_format: Annotated[LogFormat, From("log_format", "ORRERY_LOG_FORMAT")] = "text"
    """``json``: each log line a JSON object, with the response id (and trace ids) it is written for."""
    recording_mode: Annotated[RecordingMode, From("recording.mode", "ORRERY_RECORDING_MODE")] = RecordingMode.LIVE
    recording_dir: Annotated[_ExpandedPath | None, From("recording.dir", "ORRERY_RECORDING_DIR")] = None
    web_search: WebSearchConfig | None = None
    response_lease: Annotated[PositiveFloat, From("response_lease", "ORRERY_RESPONSE_LEASE")] = 60.0
    """Seconds a response outlives a server process that died running it, before it is marked failed."""
    background_concurrency: Annotated[PositiveInt, From("background.concurrency",
                                                        "ORRERY_BACKGROUND_CONCURRENCY")] = 64
    """Background responses each server process runs at once; more wait, queued, for any process."""
    background_poll: Annotated[PositiveFloat, From("background.poll", "ORRERY_BACKGROUND_POLL")] = 0.1
    """Seconds between a process's looks at the store for queued background responses, for
    cancellations of its runs, and for new events of a stream followed from another process."""
    websocket_max_age: Annotated[PositiveFloat, From("websocket.max_age", "ORRERY_WEBSOCKET_MAX_AGE")] = 3600.0
    """Seconds a WebSocket connection serves responses; past them it answers
    ``websocket_connection_limit_reached`` and closes, as OpenAI's do after 60 minutes."""
    outbound_allow: Annotated[tuple[str, ...], From("outbound.allow", "ORRERY_OUTBOUND_ALLOW"),
                              BeforeValidator(_comma_separated)] = ()
    """Hosts, addresses and networks a client's URLs (MCP servers) may reach although they are
    loopback, private or link-local, which are refused otherwise."""
    keep_alive: Annotated[PositiveInt, From("keep_alive", "ORRERY_KEEP_ALIVE")] = 5
    """Seconds an idle client connection is kept open (uvicorn's keep-alive timeout): a client that
    reuses connections longer than this should close them sooner, or a request it sends just as the
    server closes one is lost."""
    requests_per_minute: Annotated[int, Field(ge=0), From("limits.requests_per_minute",
                                                         "ORRERY_REQUESTS_PER_MINUTE")] = 0
    """Requests a project (an API key's) may make a minute, in each server process; 0: no limit."""
    concurrent_responses: Annotated[int, Field(ge=0), From("limits.concurrent_responses",
                                                          "ORRERY_CONCURRENT_RESPONSES")] = 0
    """Responses a project may have running at once, in each server process; 0: no limit."""
    max_request_bytes: Annotated[PositiveInt, From("max_request_bytes", "ORRERY_MAX_REQUEST_BYTES")] = 32 * 1024 * 1024
    """Bytes a request body may hold (a file upload: 512 MB); a larger one is a 413."""
    api_keys: Annotated[tuple[StaticKey, ...], From("api_keys", "ORRERY_API_KEYS"), BeforeValidator(_static_keys)] = ()
    """Keys every ``/v1/*`` request must carry, besides those made with ``orrery keys create``."""
    state_key: Annotated[str | None, From("state_key", "ORRERY_STATE_KEY")] = None
    """The Fernet key that seals ``encrypted_content``; generated once in ``data_dir`` when not set."""

    @model_validator(mode="after")
    def _unique_provider_ids(self) -> Settings:
        ids = [p.id for p in self.providers]
        if len(ids) != len(set(ids)):
            raise ValueError(f"provider ids must be unique, got {ids}")
        return self

    def with_defaults(self) -> Settings:
        """The store and the recordings directory, when not set, under ``data_dir``."""
        return self.model_copy(update={
            "db_url": self.db_url or f"sqlite:///{self.data_dir / 'orrery.db'}",
            "recording_dir": self.recording_dir or self.data_dir / "recordings",
        })

    def to_json(self) -> dict[str, Any]:
        """A JSON-safe form, used to hand the settings to worker processes."""
        return self.model_dump(mode="json")

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Settings:
        return _validated(cls, data)


def _problem(error: ErrorDetails) -> str:
    """One validation error as ``where: what, got value`` (never showing an API key)."""
    where = ".".join(str(part) for part in error["loc"])
    what = str(error["ctx"]["error"]) if error["type"] == "value_error" else error["msg"]
    if not where:
        return what
    if error["loc"][-1] in SECRETS:
        return f"{where}: {what}"
    return f"{where}: {what}, got {error['input']!r}"


def _validated(model: type[M], data: Any, context: str = "") -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        # from None: pydantic's own text repeats the whole input, API keys included.
        raise ConfigError(context + "; ".join(_problem(e) for e in exc.errors())) from None


def _given(value: Any) -> bool:
    """Whether a value sets its setting: an empty one (``ORRERY_DB=``, ``db:``) leaves the default."""
    return value is not None and value != ""


def _read(model: type[BaseModel], document: Mapping[str, Any], env: Mapping[str, str],
          path: str | None) -> dict[str, Any]:
    """The values that the YAML document and the environment give for ``model``'s fields."""
    values = {name: source.read(document, env, path)
              for name, field in model.model_fields.items()
              for source in field.metadata if isinstance(source, From)}
    return {name: value for name, value in values.items() if _given(value)}


def api_key_from_env(provider_id: str, env: Mapping[str, str]) -> str | None:
    return env.get(f"ORRERY_{provider_id.upper().replace('-', '_')}_API_KEY") or None


def _base_url(provider_id: str, base_url: str) -> str:
    """The URL without a trailing slash, or ``gguf:`` and the model file's absolute path."""
    if not base_url.startswith(LOCAL_SCHEME):
        return base_url.rstrip("/")
    path = Path(base_url[len(LOCAL_SCHEME):]).expanduser()
    if not path.is_file():
        raise ConfigError(f"provider {provider_id}: no GGUF model file at {str(path)!r}")
    return f"{LOCAL_SCHEME}{path.resolve()}"


def parse_provider_spec(spec: str, env: Mapping[str, str]) -> ProviderConfig:
    """Parse ``ID=BASE_URL`` (or ``ID=gguf:PATH``) as given to ``--provider``."""
    provider_id, sep, base_url = spec.partition("=")
    if not sep or not base_url or not PROVIDER_ID.match(provider_id):
        raise ConfigError(f"--provider expects ID=BASE_URL (ID of letters, digits, - or _), got {spec!r}")
    return ProviderConfig(id=provider_id, base_url=_base_url(provider_id, base_url),
                          api_key=api_key_from_env(provider_id, env))


def _provider_from_yaml(entry: Any, env: Mapping[str, str]) -> ProviderConfig:
    """A ``providers`` entry; its ``api_key``, when given, wins over ``ORRERY_<ID>_API_KEY``."""
    if not isinstance(entry, dict) or "id" not in entry or "base_url" not in entry:
        raise ConfigError(f"each provider needs 'id' and 'base_url', got {entry!r}")
    provider_id = str(entry["id"])
    if not PROVIDER_ID.match(provider_id):
        raise ConfigError(f"provider id {provider_id!r} may hold only letters, digits, - and _")
    options = {key: value for key, value in entry.items() if _given(value)}
    return _validated(ProviderConfig, {
        **options, "id": provider_id, "base_url": _base_url(provider_id, str(entry["base_url"])),
        "api_key": entry.get("api_key") or api_key_from_env(provider_id, env),
    }, context=f"provider {provider_id}: ")


def _read_yaml(path: str) -> dict[str, Any]:
    try:
        document = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read config {path}: {exc}") from exc
    if not isinstance(document, dict):
        raise ConfigError(f"config {path} must be a mapping")
    return document


@dataclass(frozen=True)
class _Entries:
    """A YAML list whose entries are mappings with these keys."""

    keys: dict[str, Any]


def _shape(annotation: Any) -> Any:
    """What a field's YAML value holds: a model's keys, a list of such mappings, or a plain value (None)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _yaml_keys(annotation, nested=True)
    origin = get_origin(annotation)
    if origin is tuple:
        inner = _shape(get_args(annotation)[0])
        return _Entries(inner) if isinstance(inner, dict) else None
    if origin in (Union, types.UnionType):
        return next((shape for shape in map(_shape, get_args(annotation)) if shape is not None), None)
    return None


def _yaml_keys(model: type[BaseModel], *, nested: bool = False) -> dict[str, Any]:
    """``model``'s YAML keys, sections as nested mappings: each field's ``From`` path (inside a
    section's own model, its last part), else the field's name."""
    keys: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        source = next((item for item in field.metadata if isinstance(item, From)), None)
        path = source.yaml.split(".") if source else [name]
        *sections, key = path[-1:] if nested else path
        node = keys
        for section in sections:
            node = node.setdefault(section, {})
        node[key] = _shape(field.annotation)
    return keys


def _unknown_keys(value: Any, shape: Any, where: str = "") -> list[str]:
    """Each key of the YAML ``value`` that ``shape`` does not have, by its full path, with the
    nearest valid key (or every valid one)."""
    if isinstance(shape, _Entries):
        entries = value if isinstance(value, list) else []
        return [problem for index, entry in enumerate(entries)
                for problem in _unknown_keys(entry, shape.keys, f"{where}[{index}]")]
    if not isinstance(shape, dict) or not isinstance(value, dict):
        return []  # a value of the wrong type: validation names it
    problems = []
    for key, inner in value.items():
        path = f"{where}.{key}" if where else str(key)
        if key in shape:
            problems.extend(_unknown_keys(inner, shape[key], path))
            continue
        nearest = difflib.get_close_matches(str(key), list(shape), n=1)
        hint = f"did you mean {nearest[0]!r}?" if nearest else f"valid keys: {', '.join(shape)}"
        problems.append(f"unknown key {path!r} ({hint})")
    return problems


def load_settings(
    *,
    config_path: str | None = None,
    provider_specs: list[str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
) -> Settings:
    """Build the settings from YAML, environment and explicit overrides (CLI flags, by field name)."""
    env = os.environ if env is None else env
    path = config_path or env.get("ORRERY_CONFIG")
    document = _read_yaml(path) if path else {}
    unknown = _unknown_keys(document, _yaml_keys(Settings))
    if unknown:
        raise ConfigError(f"config {path}: {'; '.join(unknown)}")
    if provider_specs:
        providers = [parse_provider_spec(spec, env) for spec in provider_specs]
    else:
        providers = [_provider_from_yaml(entry, env) for entry in document.get("providers") or []]
    values = _read(Settings, document, env, path)
    web_search = _read(WebSearchConfig, document, env, path)
    if "base_url" in web_search or "api_key" in web_search:
        values["web_search"] = web_search  # without either, the tool answers 400
    values.update({key: value for key, value in (overrides or {}).items() if _given(value)})
    return _validated(Settings, {**values, "providers": tuple(providers)}).with_defaults()
