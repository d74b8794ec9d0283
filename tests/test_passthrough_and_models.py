"""``/v1/models``, ``/v1/chat/completions`` and ``/v1/embeddings`` through orrery."""

from __future__ import annotations

from pathlib import Path

import httpx
import openai
import pytest

from conftest import free_port, sqlite_server, start_server, stop_server, upstream_name
from scripted_upstream import Reply


def test_models_lists_every_provider_as_id_slash_name(client):
    models = client.models.with_raw_response.list()
    ids = [m.id for m in models.parse().data]
    assert ids == ["scripted/scripted-model", "scripted/scripted-other"]
    assert all(m.object == "model" for m in models.parse().data)
    assert models.headers["x-orrery-unlisted-providers"] == "down", "the unreachable provider is named"
    assert client.models.retrieve("scripted/scripted-model").id == "scripted/scripted-model"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("scripted/unknown")


def test_an_unreachable_provider_lists_its_configured_models(upstream, tmp_path: Path):
    down = f"http://user:hunter2@127.0.0.1:{free_port()}/v1?token=t0ken"
    providers = [{"id": "down", "base_url": down, "models": [{"name": "big-model", "context_window": 8192}]},
                 {"id": "scripted", "base_url": upstream.url, "models": [{"name": "scripted-model"},
                                                                         {"name": "configured-only"}]}]
    with sqlite_server(tmp_path, {"providers": providers}) as server:
        listed = httpx.get(f"{server.base_url}/models")
        assert listed.status_code == 200
        assert [m["id"] for m in listed.json()["data"]] == [
            "down/big-model", "scripted/scripted-model", "scripted/scripted-other", "scripted/configured-only"]
        assert listed.headers["x-orrery-unlisted-providers"] == "down"
        client = server.client()
        assert client.models.retrieve("down/big-model").owned_by == "down"
        with pytest.raises(openai.APIStatusError) as raised:
            client.models.retrieve("down/other-model")
        assert raised.value.status_code == 502 and "provider down" in raised.value.message


def test_models_is_a_502_naming_the_provider_when_nothing_can_be_listed(tmp_path: Path):
    port = free_port()
    providers = [{"id": "gone", "base_url": f"http://user:hunter2@127.0.0.1:{port}/v1?token=t0ken", "timeout": 2}]
    with sqlite_server(tmp_path, {"providers": providers}) as server:
        answer = httpx.get(f"{server.base_url}/models")
        assert answer.status_code == 502
        error = answer.json()["error"]
        assert error["type"] == "upstream_error" and error["code"] == "models_unlisted"
        assert error["message"].startswith("Cannot list models: provider gone: upstream gone unreachable: ")
        assert error["message"].endswith(f"(http://***@127.0.0.1:{port}/v1?token=***)")
        assert "hunter2" not in answer.text and "t0ken" not in answer.text
        with pytest.raises(openai.APIStatusError) as raised:
            server.client().models.list()
        assert raised.value.status_code == 502
    log = (tmp_path / "server.log").read_text()
    assert "hunter2" not in log and "t0ken" not in log


def test_chat_completions_non_streaming(client, upstream, model):
    upstream.script(upstream_name(model), Reply(text="plain chat"))
    completion = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}],
                                                temperature=0.1)
    assert completion.choices[0].message.content == "plain chat"
    assert upstream.bodies(upstream_name(model))[-1] == {
        "model": upstream_name(model), "messages": [{"role": "user", "content": "hi"}], "temperature": 0.1}


def test_chat_completions_streaming(client, upstream, model):
    upstream.script(upstream_name(model), Reply(text="streamed chat", chunk=2))
    chunks = list(client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}],
                                                 stream=True, stream_options={"include_usage": True}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "streamed chat"
    assert chunks[-1].usage is not None


def test_chat_completions_upstream_error_is_passed_on(client, upstream, model):
    upstream.script(upstream_name(model), Reply(status=429, error={"message": "slow down", "type": "rate"}))
    with pytest.raises(openai.RateLimitError) as raised:
        client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}], stream=True)
    assert "slow down" in str(raised.value)


def test_chat_completions_unknown_provider(client):
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="nowhere/x", messages=[{"role": "user", "content": "hi"}])


def test_embeddings(client, upstream):
    result = client.embeddings.create(model="scripted/embedder", input=["a", "bcd"])
    assert [d.embedding[0] for d in result.data] == [1.0, 3.0]
    assert upstream.requests[-1].body["model"] == "embedder"


def test_bare_model_name_goes_to_the_first_provider(server, upstream):
    answer = httpx.post(f"{server.base_url}/responses", json={"model": "bare-model-name", "input": "hi"})
    assert answer.status_code == 200
    assert upstream.bodies("bare-model-name")[-1]["messages"] == [{"role": "user", "content": "hi"}]


def test_a_base_url_query_goes_with_every_upstream_call(upstream, tmp_path):
    """An upstream that wants a query on each call (``?api-version=…``) gets it, on a response's
    chat completion as on the pass-through's."""
    name = "query-model"
    process, url = start_server({"providers": [{"id": "q", "base_url": f"{upstream.url}?api-version=2026-01-01"}],
                                 "db": f"sqlite:///{tmp_path}/q.db"}, log_path=tmp_path / "q.log")
    try:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="k", max_retries=0)
        upstream.script(name, Reply(text="one"), Reply(text="two"))
        assert client.responses.create(model=f"q/{name}", input="hi").output_text == "one"
        completion = client.chat.completions.create(model=f"q/{name}", messages=[{"role": "user", "content": "hi"}])
        assert completion.choices[0].message.content == "two"
    finally:
        stop_server(process)
    assert [r.query for r in upstream.requests if r.body.get("model") == name] == ["api-version=2026-01-01"] * 2
