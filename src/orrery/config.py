"""Settings from an optional YAML file, ORRERY_* environment variables and CLI flags.

Precedence, lowest first: defaults, YAML (``--config`` or ``ORRERY_CONFIG``), environment,
command-line flags. Provider API keys come from the YAML or ``ORRERY_<ID>_API_KEY``; they are
never written anywhere.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any, Mapping

import yaml

DEFAULT_PORT = 8321
DEFAULT_HOST = "127.0.0.1"
PROVIDER_ID = re.compile(r"^[A-Za-z0-9_-]+$")
LOCAL_SCHEME = "gguf:"


class RecordingMode(StrEnum):
    """What happens to upstream calls: made (live), made and written (record), answered from
    files only (replay), or answered from files and recorded when missing."""

    LIVE = "live"
    RECORD = "record"
    REPLAY = "replay"
    RECORD_IF_MISSING = "record-if-missing"


class ConfigError(ValueError):
    """A setting is missing or malformed."""


@dataclass(frozen=True)
class ProviderConfig:
    id: str
    base_url: str
    api_key: str | None = None
    timeout: float = 600.0
    connect_timeout: float = 10.0

    @property
    def model_path(self) -> Path | None:
        """The model file of a provider run in-process (``base_url`` ``gguf:/path/model.gguf``)."""
        if self.base_url.startswith(LOCAL_SCHEME):
            return Path(self.base_url[len(LOCAL_SCHEME):])
        return None


DEFAULT_WEB_SEARCH_URL = "https://api.tavily.com"


@dataclass(frozen=True)
class WebSearchConfig:
    """A Tavily-compatible search API (``POST {base_url}/search``) behind the ``web_search`` tool."""

    base_url: str = DEFAULT_WEB_SEARCH_URL
    api_key: str | None = None
    timeout: float = 30.0


@dataclass(frozen=True)
class Settings:
    providers: tuple[ProviderConfig, ...] = ()
    db_url: str = ""
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    workers: int = 1
    data_dir: Path = field(default_factory=lambda: Path.home() / ".orrery")
    log_level: str = "info"
    recording_mode: RecordingMode = RecordingMode.LIVE
    recording_dir: Path | None = None
    web_search: WebSearchConfig | None = None
    response_lease: float = 60.0
    """Seconds a response outlives a server process that died running it, before it is marked failed."""

    def with_defaults(self) -> Settings:
        settings = self
        if not settings.db_url:
            settings = replace(settings, db_url=f"sqlite:///{self.data_dir / 'orrery.db'}")
        if settings.recording_dir is None:
            settings = replace(settings, recording_dir=self.data_dir / "recordings")
        return settings

    def to_json(self) -> dict[str, Any]:
        """A JSON-safe form, used to hand the settings to worker processes."""
        return {
            "providers": [vars(p) for p in self.providers],
            "db_url": self.db_url,
            "host": self.host,
            "port": self.port,
            "workers": self.workers,
            "data_dir": str(self.data_dir),
            "log_level": self.log_level,
            "recording_mode": self.recording_mode,
            "recording_dir": str(self.recording_dir) if self.recording_dir else None,
            "web_search": vars(self.web_search) if self.web_search else None,
            "response_lease": self.response_lease,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Settings:
        return cls(
            providers=tuple(ProviderConfig(**p) for p in data["providers"]),
            db_url=data["db_url"],
            host=data["host"],
            port=data["port"],
            workers=data["workers"],
            data_dir=Path(data["data_dir"]),
            log_level=data["log_level"],
            recording_mode=RecordingMode(data["recording_mode"]),
            recording_dir=Path(data["recording_dir"]) if data["recording_dir"] else None,
            web_search=WebSearchConfig(**data["web_search"]) if data.get("web_search") else None,
            response_lease=data["response_lease"],
        )


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
    if not isinstance(entry, dict) or "id" not in entry or "base_url" not in entry:
        raise ConfigError(f"each provider needs 'id' and 'base_url', got {entry!r}")
    provider_id = str(entry["id"])
    if not PROVIDER_ID.match(provider_id):
        raise ConfigError(f"provider id {provider_id!r} may hold only letters, digits, - and _")
    options = {k: entry[k] for k in ("timeout", "connect_timeout") if k in entry}
    return ProviderConfig(
        id=provider_id,
        base_url=_base_url(provider_id, str(entry["base_url"])),
        api_key=entry.get("api_key") or api_key_from_env(provider_id, env),
        **{k: float(v) for k, v in options.items()},
    )


def _web_search(section: Any, env: Mapping[str, str]) -> WebSearchConfig | None:
    """The web search API from the YAML ``web_search`` section and ``ORRERY_WEB_SEARCH_*``; ``None``
    (the tool answers 400) when neither names a URL or a key."""
    if section is not None and not isinstance(section, dict):
        raise ConfigError("'web_search' must be a mapping with 'base_url', 'api_key' and 'timeout'")
    section = section or {}
    base_url = env.get("ORRERY_WEB_SEARCH_URL") or section.get("base_url")
    api_key = env.get("ORRERY_WEB_SEARCH_API_KEY") or section.get("api_key")
    if not base_url and not api_key:
        return None
    try:
        timeout = float(section.get("timeout", WebSearchConfig.timeout))
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"web_search timeout must be a number of seconds: {exc}") from exc
    return WebSearchConfig(base_url=str(base_url or DEFAULT_WEB_SEARCH_URL).rstrip("/"),
                           api_key=str(api_key) if api_key else None, timeout=timeout)


def load_settings(
    *,
    config_path: str | None = None,
    provider_specs: list[str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
) -> Settings:
    """Build the settings from YAML, environment and explicit overrides (CLI flags)."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    providers: list[ProviderConfig] = []
    web_search_section: Any = None

    path = config_path or env.get("ORRERY_CONFIG")
    if path:
        try:
            document = yaml.safe_load(Path(path).read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"cannot read config {path}: {exc}") from exc
        if not isinstance(document, dict):
            raise ConfigError(f"config {path} must be a mapping")
        providers = [_provider_from_yaml(p, env) for p in document.get("providers") or []]
        for key in ("host", "port", "workers", "log_level", "response_lease"):
            if key in document:
                values[key] = document[key]
        if "db" in document:
            values["db_url"] = document["db"]
        if "data_dir" in document:
            values["data_dir"] = Path(document["data_dir"]).expanduser()
        web_search_section = document.get("web_search")
        recording = document.get("recording") or {}
        if not isinstance(recording, dict):
            raise ConfigError(f"config {path}: 'recording' must be a mapping with 'mode' and 'dir'")
        if "mode" in recording:
            values["recording_mode"] = recording["mode"]
        if "dir" in recording:
            values["recording_dir"] = recording["dir"]

    for key, name in (("db_url", "ORRERY_DB"), ("host", "ORRERY_HOST"), ("port", "ORRERY_PORT"),
                      ("data_dir", "ORRERY_DATA_DIR"), ("log_level", "ORRERY_LOG_LEVEL"),
                      ("recording_mode", "ORRERY_RECORDING_MODE"), ("recording_dir", "ORRERY_RECORDING_DIR"),
                      ("response_lease", "ORRERY_RESPONSE_LEASE")):
        if env.get(name):
            values[key] = env[name]

    if provider_specs:
        providers = [parse_provider_spec(spec, env) for spec in provider_specs]
    values.update({k: v for k, v in (overrides or {}).items() if v is not None})

    modes = [mode.value for mode in RecordingMode]
    if str(values.get("recording_mode", "live")) not in modes:
        raise ConfigError(f"recording mode must be one of {', '.join(modes)}, got {values['recording_mode']!r}")
    ids = [p.id for p in providers]
    if len(ids) != len(set(ids)):
        raise ConfigError(f"provider ids must be unique, got {ids}")
    try:
        settings = Settings(
            providers=tuple(providers),
            db_url=str(values.get("db_url", "")),
            host=str(values.get("host", DEFAULT_HOST)),
            port=int(values.get("port", DEFAULT_PORT)),
            workers=int(values.get("workers", 1)),
            data_dir=Path(values.get("data_dir", Path.home() / ".orrery")).expanduser(),
            log_level=str(values.get("log_level", "info")),
            recording_mode=RecordingMode(values.get("recording_mode", "live")),
            recording_dir=Path(values["recording_dir"]).expanduser() if values.get("recording_dir") else None,
            web_search=_web_search(web_search_section, env),
            response_lease=float(values.get("response_lease", Settings.response_lease)),
        )
    except (TypeError, ValueError) as exc:
        raise ConfigError(str(exc)) from exc
    if not settings.response_lease > 0:
        raise ConfigError(f"response_lease must be a positive number of seconds, got {settings.response_lease}")
    return settings.with_defaults()
