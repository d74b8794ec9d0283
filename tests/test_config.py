"""``load_settings``: YAML keys, ORRERY_* variables, flags, their precedence and every ConfigError."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from orrery.config import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    DEFAULT_WEB_SEARCH_URL,
    LOCAL_SCHEME,
    ConfigError,
    RecordingMode,
    Settings,
    WebSearchConfig,
    load_settings,
)


def write_config(tmp_path: Path, document: object) -> str:
    path = tmp_path / "orrery.yaml"
    path.write_text(yaml.safe_dump(document))
    return str(path)


FULL = {
    "providers": [{"id": "openai", "base_url": "https://api.example/v1/", "api_key": "sk-yaml",
                   "timeout": 120, "connect_timeout": "5"},
                  {"id": "my-local", "base_url": "http://localhost:8000/v1"}],
    "host": "0.0.0.0", "port": 9000, "db": "sqlite:///yaml.db", "workers": 3, "data_dir": "~/orrery-data",
    "log_level": "debug", "recording": {"mode": "replay", "dir": "~/recs"}, "response_lease": 15,
    "web_search": {"base_url": "http://search.example/", "api_key": "tvly-yaml", "timeout": 5},
}


def test_defaults(tmp_path: Path):
    settings = load_settings(env={"ORRERY_DATA_DIR": str(tmp_path)})
    assert (settings.host, settings.port, settings.workers) == (DEFAULT_HOST, DEFAULT_PORT, 1)
    assert settings.log_level == "info"
    assert settings.providers == () and settings.web_search is None
    assert settings.recording_mode is RecordingMode.LIVE and settings.response_lease == 60.0
    assert settings.db_url == f"sqlite:///{tmp_path / 'orrery.db'}"
    assert settings.recording_dir == tmp_path / "recordings"
    home = load_settings(env={})
    assert home.data_dir == Path.home() / ".orrery"
    assert home.db_url == f"sqlite:///{Path.home() / '.orrery' / 'orrery.db'}"


def test_every_yaml_key(tmp_path: Path):
    settings = load_settings(config_path=write_config(tmp_path, FULL), env={"ORRERY_MY_LOCAL_API_KEY": "sk-env"})
    openai, local = settings.providers
    assert (openai.id, openai.base_url, openai.api_key, openai.timeout, openai.connect_timeout) == (
        "openai", "https://api.example/v1", "sk-yaml", 120.0, 5.0)
    assert (local.id, local.api_key, local.timeout, local.model_path) == ("my-local", "sk-env", 600.0, None)
    assert (settings.host, settings.port, settings.workers) == ("0.0.0.0", 9000, 3)
    assert settings.db_url == "sqlite:///yaml.db"
    assert settings.data_dir == Path.home() / "orrery-data" and settings.log_level == "debug"
    assert settings.recording_mode is RecordingMode.REPLAY and settings.recording_dir == Path.home() / "recs"
    assert settings.response_lease == 15.0
    assert settings.web_search == WebSearchConfig(base_url="http://search.example", api_key="tvly-yaml", timeout=5)


def test_yaml_api_key_wins_over_the_environment(tmp_path: Path):
    settings = load_settings(config_path=write_config(tmp_path, FULL), env={"ORRERY_OPENAI_API_KEY": "sk-env"})
    assert settings.providers[0].api_key == "sk-yaml"


def test_every_environment_variable_wins_over_yaml(tmp_path: Path):
    env = {
        "ORRERY_CONFIG": write_config(tmp_path, FULL), "ORRERY_DB": "sqlite:///env.db", "ORRERY_HOST": "::1",
        "ORRERY_PORT": "9100", "ORRERY_DATA_DIR": str(tmp_path / "data"), "ORRERY_LOG_LEVEL": "warning",
        "ORRERY_RECORDING_MODE": "record-if-missing", "ORRERY_RECORDING_DIR": str(tmp_path / "recs"),
        "ORRERY_RESPONSE_LEASE": "2.5", "ORRERY_WEB_SEARCH_URL": "http://env-search.example/",
        "ORRERY_WEB_SEARCH_API_KEY": "tvly-env",
    }
    settings = load_settings(env=env)
    assert (settings.db_url, settings.host, settings.port, settings.log_level) == ("sqlite:///env.db", "::1", 9100,
                                                                                   "warning")
    assert settings.data_dir == tmp_path / "data" and settings.recording_dir == tmp_path / "recs"
    assert settings.recording_mode is RecordingMode.RECORD_IF_MISSING and settings.response_lease == 2.5
    assert settings.web_search == WebSearchConfig(base_url="http://env-search.example", api_key="tvly-env", timeout=5)
    assert settings.workers == 3 and [p.id for p in settings.providers] == ["openai", "my-local"], "from ORRERY_CONFIG"


def test_empty_environment_variables_leave_the_yaml(tmp_path: Path):
    settings = load_settings(config_path=write_config(tmp_path, FULL), env={"ORRERY_HOST": "", "ORRERY_PORT": ""})
    assert (settings.host, settings.port) == ("0.0.0.0", 9000)


def test_flags_win_over_environment(tmp_path: Path):
    overrides = {"host": "10.0.0.1", "port": 9200, "db_url": "sqlite:///flag.db", "workers": 2, "log_level": "error",
                 "recording_mode": "record", "recording_dir": str(tmp_path / "flag-recs"), "data_dir": None}
    env = {"ORRERY_HOST": "::1", "ORRERY_PORT": "9100", "ORRERY_DB": "sqlite:///env.db",
           "ORRERY_RECORDING_MODE": "replay", "ORRERY_DATA_DIR": str(tmp_path), "ORRERY_FLAG_API_KEY": "sk-flag"}
    settings = load_settings(config_path=write_config(tmp_path, FULL), overrides=overrides, env=env,
                             provider_specs=["flag=http://flag.example/v1/"])
    assert (settings.host, settings.port, settings.db_url, settings.workers, settings.log_level) == (
        "10.0.0.1", 9200, "sqlite:///flag.db", 2, "error")
    assert settings.recording_mode is RecordingMode.RECORD and settings.recording_dir == tmp_path / "flag-recs"
    assert settings.data_dir == tmp_path, "a flag left out (None) keeps the environment's value"
    [provider] = settings.providers
    assert (provider.id, provider.base_url, provider.api_key) == ("flag", "http://flag.example/v1", "sk-flag")


def test_gguf_provider(tmp_path: Path):
    model = tmp_path / "model.gguf"
    model.write_bytes(b"GGUF")
    settings = load_settings(provider_specs=[f"local=gguf:{model}"], env={})
    assert settings.providers[0].base_url == f"{LOCAL_SCHEME}{model.resolve()}"
    assert settings.providers[0].model_path == model.resolve()


def test_web_search_needs_a_url_or_a_key(tmp_path: Path):
    assert load_settings(config_path=write_config(tmp_path, {"web_search": {"timeout": 3}}), env={}).web_search is None
    only_key = load_settings(env={"ORRERY_WEB_SEARCH_API_KEY": "tvly-k"}).web_search
    assert only_key == WebSearchConfig(base_url=DEFAULT_WEB_SEARCH_URL, api_key="tvly-k", timeout=30.0)
    url_from_yaml = load_settings(config_path=write_config(tmp_path, {"web_search": {"base_url": "http://s.example"}}),
                                  env={"ORRERY_WEB_SEARCH_API_KEY": "tvly-k"}).web_search
    assert url_from_yaml == WebSearchConfig(base_url="http://s.example", api_key="tvly-k")


def test_json_round_trip_keeps_api_keys_for_workers(tmp_path: Path):
    settings = load_settings(config_path=write_config(tmp_path, FULL), env={})
    data = json.loads(json.dumps(settings.to_json()))
    assert Settings.from_json(data) == settings
    assert data["providers"][0]["api_key"] == "sk-yaml" and data["web_search"]["api_key"] == "tvly-yaml"


def test_model_copy_keeps_the_rest(tmp_path: Path):
    settings = load_settings(config_path=write_config(tmp_path, FULL), env={})
    copied = settings.model_copy(update={"providers": ()})
    assert copied.providers == () and copied.port == settings.port


@pytest.mark.parametrize(("document", "env", "message"), [
    ({"recording": {"mode": "sometimes"}}, {},
     "recording_mode: Input should be 'live', 'record', 'replay' or 'record-if-missing', got 'sometimes'"),
    ({}, {"ORRERY_RECORDING_MODE": "LIVE"}, "recording_mode: Input should be 'live'"),
    ({"providers": [{"id": "a", "base_url": "http://a"}, {"id": "a", "base_url": "http://b"}]}, {},
     "provider ids must be unique, got ['a', 'a']"),
    ({"response_lease": 0}, {}, "response_lease: Input should be greater than 0, got 0"),
    ({}, {"ORRERY_RESPONSE_LEASE": "-1"}, "response_lease: Input should be greater than 0, got '-1'"),
    ({}, {"ORRERY_RESPONSE_LEASE": "soon"}, "response_lease: Input should be a valid number"),
    ({}, {"ORRERY_PORT": "http"}, "port: Input should be a valid integer, unable to parse string as an integer, "
                                  "got 'http'"),
    ({"providers": [{"id": "a"}]}, {}, "each provider needs 'id' and 'base_url', got {'id': 'a'}"),
    ({"providers": ["a=http://a"]}, {}, "each provider needs 'id' and 'base_url'"),
    ({"providers": [{"id": "a b", "base_url": "http://a"}]}, {},
     "provider id 'a b' may hold only letters, digits, - and _"),
    ({"providers": [{"id": "a", "base_url": "http://a", "timeout": "long"}]}, {},
     "provider a: timeout: Input should be a valid number, unable to parse string as a number, got 'long'"),
    ({"providers": [{"id": "x", "base_url": "gguf:/nonexistent/model.gguf"}]}, {},
     "provider x: no GGUF model file at '/nonexistent/model.gguf'"),
    ({"web_search": {"base_url": "http://s", "timeout": "soon"}}, {},
     "web_search.timeout: Input should be a valid number, unable to parse string as a number, got 'soon'"),
    ({"web_search": {"api_key": ["tvly-secret"]}}, {}, "web_search.api_key: Input should be a valid string"),
])
def test_config_errors(tmp_path: Path, document: dict, env: dict, message: str):
    with pytest.raises(ConfigError) as raised:
        load_settings(config_path=write_config(tmp_path, document), env=env)
    assert str(raised.value).startswith(message), str(raised.value)
    assert "tvly-secret" not in str(raised.value)


@pytest.mark.parametrize("section", ["recording", "web_search"])
def test_sections_must_be_mappings(tmp_path: Path, section: str):
    path = write_config(tmp_path, {section: "tvly-secret"})
    with pytest.raises(ConfigError) as raised:
        load_settings(config_path=path, env={})
    assert str(raised.value) == f"config {path}: {section!r} must be a mapping, not a str"


def test_duplicate_provider_flags():
    with pytest.raises(ConfigError, match=r"provider ids must be unique, got \['a', 'a'\]"):
        load_settings(provider_specs=["a=http://a", "a=http://b"], env={})


@pytest.mark.parametrize("spec", ["no-equals-sign", "=http://a", "a=", "a b=http://a"])
def test_bad_provider_spec(spec: str):
    with pytest.raises(ConfigError) as raised:
        load_settings(provider_specs=[spec], env={})
    assert str(raised.value) == f"--provider expects ID=BASE_URL (ID of letters, digits, - or _), got {spec!r}"


def test_unreadable_config(tmp_path: Path):
    missing = tmp_path / "missing.yaml"
    with pytest.raises(ConfigError, match=f"cannot read config {missing}: .*No such file"):
        load_settings(config_path=str(missing), env={})
    with pytest.raises(ConfigError, match=f"cannot read config {missing}"):
        load_settings(env={"ORRERY_CONFIG": str(missing)})
    broken = tmp_path / "broken.yaml"
    broken.write_text("providers: [unclosed")
    with pytest.raises(ConfigError, match=f"cannot read config {broken}: "):
        load_settings(config_path=str(broken), env={})
    listed = tmp_path / "list.yaml"
    listed.write_text("- host\n")
    with pytest.raises(ConfigError, match=f"config {listed} must be a mapping"):
        load_settings(config_path=str(listed), env={})


@pytest.mark.parametrize(("document", "message"), [
    ({"prot": 8000}, "unknown key 'prot' (did you mean 'port'?)"),
    ({"recording": {"mdoe": "replay"}}, "unknown key 'recording.mdoe' (did you mean 'mode'?)"),
    ({"limits": {"rpm": 10}}, "unknown key 'limits.rpm' (valid keys: requests_per_minute, concurrent_responses)"),
    ({"providers": [{"id": "a", "base_url": "http://a"}, {"id": "b", "base_url": "http://b", "prot": 1}]},
     "unknown key 'providers[1].prot' (valid keys: id, base_url, api_key, timeout, connect_timeout, "),
    ({"providers": [{"id": "a", "base_url": "http://a", "models": [{"name": "m", "context": 4096}]}]},
     "unknown key 'providers[0].models[0].context' (did you mean 'context_window'?)"),
    ({"web_search": {"api-key": "tvly-secret"}}, "unknown key 'web_search.api-key' (did you mean 'api_key'?)"),
    ({"api_keys": [{"key": "tvly-secret", "projet": "p"}]},
     "unknown key 'api_keys[0].projet' (did you mean 'project'?)"),
    ({"background": {"poll": 1}, "websocket": {"max_age": 1}, "prot": 1, "hots": "::1"},
     "unknown key 'hots' (did you mean 'host'?); unknown key 'prot' (did you mean 'port'?)"),
])
def test_unknown_keys_are_refused_with_the_nearest_valid_one(tmp_path: Path, document: dict, message: str):
    path = write_config(tmp_path, document)
    with pytest.raises(ConfigError) as raised:
        load_settings(config_path=path, env={})
    assert str(raised.value).startswith(f"config {path}: {message}"), str(raised.value)
    assert "tvly-secret" not in str(raised.value)


def test_environment_variables_that_are_no_setting_are_left_alone(tmp_path: Path):
    settings = load_settings(env={"ORRERY_URL": "http://elsewhere", "ORRERY_PROT": "1",
                                  "ORRERY_DATA_DIR": str(tmp_path)})
    assert settings.port == DEFAULT_PORT


def test_serve_refuses_an_unknown_key(tmp_path: Path):
    path = write_config(tmp_path, {"prot": 8000, "providers": [{"id": "a", "base_url": "http://a", "time_out": 5}]})
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORRERY_")}
    result = subprocess.run([sys.executable, "-m", "orrery", "serve", "--config", path],
                            capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 2
    assert result.stderr == (f"orrery: config {path}: unknown key 'prot' (did you mean 'port'?); "
                             "unknown key 'providers[0].time_out' (did you mean 'timeout'?)\n")
