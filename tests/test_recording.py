"""Record and replay of upstream calls, in llama-stack's format, checked against the seeds."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import openai
import pytest

from conftest import SEEDS, free_port, start_server, stop_server, upstream_name
from orrery.recording.hashing import request_hash
from orrery.recording.tools import tool_request_hash
from scripted_upstream import Reply, SearchReply, ToolCall
from test_mcp import start_mcp_server, stop_mcp_server
from wire import check_events, output_text, stream

SATURN = "cd222f01d7ea1ac366a7047fec375e23501333a7e1173fc346f4eae530f6d3ee"
CONVERSATION = "2c7ef062cd359c27bf13edcc081b47d2d30f85486facb326c6566433a1a7937f"
FILE_SEARCH = "816a62894f78f439f800f50431b565c19c73f68de45ec7f96b1c1fd4a7beb4bc"
HEADER = "X-Orrery-Test-Id"


def seed(name: str) -> dict:
    return json.loads((SEEDS / f"{name}.json").read_text())


def recorded_text(recording: dict) -> str:
    return "".join(c["__data__"]["choices"][0]["delta"].get("content") or ""
                   for c in recording["response"]["body"] if c["__data__"]["choices"])


def run_server(tmp: Path, name: str, providers: list[dict], mode: str, directory: Path,
               keep_env: tuple[str, ...] = (), web_search: dict | None = None) -> tuple[subprocess.Popen, str]:
    config = {"providers": providers, "db": f"sqlite:///{tmp / (name + '.db')}",
              "recording": {"mode": mode, "dir": str(directory)}, "outbound": {"allow": ["127.0.0.1"]}}
    if web_search is not None:
        config["web_search"] = web_search
    return start_server(config, log_path=tmp / f"{name}.log", keep_env=keep_env)


@pytest.mark.parametrize("path", sorted(SEEDS.glob("*.json")), ids=lambda p: p.name[:12])
def test_seed_hashes_reproduce_file_names(path: Path):
    recording = json.loads(path.read_text())
    request = recording["request"]
    digest = request_hash(recording["test_id"], request["method"], urlsplit(request["url"]).path, request["body"])
    assert digest == path.stem


@pytest.fixture(scope="module")
def seed_server(tmp_path_factory) -> Iterator[str]:
    """Replay mode over a copy of the seeds, with OpenAI's URL as recorded: no network is used."""
    tmp = tmp_path_factory.mktemp("seeds")
    directory = tmp / "recordings"
    shutil.copytree(SEEDS, directory)
    process, url = run_server(tmp, "seed", [{"id": "openai", "base_url": "https://api.openai.com/v1/v1"}],
                              "replay", directory)
    yield url
    stop_server(process)


def test_seed_saturn_replays_streaming_and_not(seed_server):
    recording = seed(SATURN)
    client = openai.OpenAI(base_url=f"{seed_server}/v1", api_key="unused", max_retries=0,
                           default_headers={HEADER: recording["test_id"]})
    messages = recording["request"]["body"]["messages"]
    events = [e.to_dict() for e in client.responses.create(model="openai/gpt-4o", input=messages, stream=True)]
    final = check_events(events)
    text = recorded_text(recording)
    assert text.startswith("THE PLANET WITH RINGS") and "SATURN" in text
    assert output_text(final) == text
    assert final["usage"]["input_tokens"] == 66 and final["usage"]["output_tokens"] == 41
    assert final["usage"]["total_tokens"] == 107
    response = client.responses.create(model="openai/gpt-4o", input=messages)
    assert response.output_text == text
    assert (response.usage.input_tokens, response.usage.output_tokens, response.usage.total_tokens) == (66, 41, 107)


@pytest.mark.parametrize("name", [CONVERSATION, FILE_SEARCH])
def test_seed_chat_bodies_replay_through_the_pass_through(seed_server, name):
    recording = seed(name)
    body = {**recording["request"]["body"], "model": "openai/gpt-4o"}
    answer = httpx.post(f"{seed_server}/v1/chat/completions", json=body, headers={HEADER: recording["test_id"]})
    assert answer.status_code == 200, answer.text
    chunks = [json.loads(line[6:]) for line in answer.text.split("\n")
              if line.startswith("data: ") and line != "data: [DONE]"]
    assert chunks == [c["__data__"] for c in recording["response"]["body"]]
    assert answer.text.endswith("data: [DONE]\n\n")


def test_replay_without_a_recording_names_the_hash_and_how_to_record(seed_server):
    client = openai.OpenAI(base_url=f"{seed_server}/v1", api_key="unused", max_retries=0,
                           default_headers={HEADER: "tests/nowhere.py::test_missing"})
    with pytest.raises(openai.APIStatusError) as raised:
        client.responses.create(model="openai/gpt-4o", input="never recorded")
    message = raised.value.message
    assert raised.value.status_code == 502
    assert "no recording" in message and "tests/nowhere.py::test_missing" in message
    assert "ORRERY_RECORDING_MODE=record-if-missing" in message
    digest = message.split("no recording ")[1].split(" ")[0]
    assert len(digest) == 64
    events = stream(f"{seed_server}/v1", {"model": "openai/gpt-4o", "input": "never recorded"},
                    headers={HEADER: "tests/nowhere.py::test_missing"})
    assert events[-1]["type"] == "response.failed"
    assert digest in events[-1]["response"]["error"]["message"]


@pytest.fixture(scope="module")
def recorded(tmp_path_factory, upstream) -> Iterator[dict]:
    """A server recording against the scripted upstream, and one replaying the same files offline."""
    tmp = tmp_path_factory.mktemp("record")
    directory = tmp / "recordings"
    live = [{"id": "scripted", "base_url": upstream.url}]
    dead = [{"id": "scripted", "base_url": f"http://127.0.0.1:{free_port()}/v1"}]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ORRERY_SCRIPTED_API_KEY", "sk-never-written")
        patch.setenv("ORRERY_WEB_SEARCH_API_KEY", "tvly-never-written")
        recording, record_url = run_server(tmp, "record", live, "record", directory,
                                           keep_env=("ORRERY_SCRIPTED_API_KEY", "ORRERY_WEB_SEARCH_API_KEY"),
                                           web_search={"base_url": upstream.search_url})
    replaying, replay_url = run_server(tmp, "replay", dead, "replay", directory,
                                       web_search={"base_url": f"http://127.0.0.1:{free_port()}"})
    yield {"record": record_url, "replay": replay_url, "dir": directory}
    stop_server(recording)
    stop_server(replaying)


def clients(recorded: dict) -> tuple[openai.OpenAI, openai.OpenAI]:
    return (openai.OpenAI(base_url=f"{recorded[k]}/v1", api_key="client-key", max_retries=0)
            for k in ("record", "replay"))


def files(directory: Path) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in directory.glob("*.json")}


def test_record_then_replay_offline(recorded, upstream, model, request):
    name = upstream_name(model)
    upstream.script(name, Reply(text="recorded once", chunk=3))
    record, replay = clients(recorded)
    first = record.responses.create(model=model, input="remember this")
    assert first.output_text == "recorded once"

    body = upstream.bodies(name)[-1]
    digest = request_hash(request.node.nodeid, "POST", "/v1/chat/completions", body)
    saved = files(recorded["dir"])[digest]
    assert saved["test_id"] == request.node.nodeid
    assert saved["request"]["endpoint"] == "/v1/chat/completions"
    assert saved["request"]["headers"] == {} and saved["request"]["body"] == body
    assert saved["request"]["model"] == name
    chunks = [c["__data__"] for c in saved["response"]["body"]]
    assert saved["response"]["is_streaming"] is True
    assert {c["id"] for c in chunks} == {f"rec-{digest[:12]}"} and {c["created"] for c in chunks} == {0}
    assert all(c["__type__"].endswith("ChatCompletionChunk") for c in saved["response"]["body"])

    calls = len(upstream.requests)
    again = replay.responses.create(model=model, input="remember this")
    assert again.output_text == "recorded once"
    assert again.usage.to_dict() == first.usage.to_dict()
    events = [e.to_dict() for e in replay.responses.create(model=model, input="remember this", stream=True)]
    assert output_text(check_events(events)) == "recorded once"
    assert [e["delta"] for e in events if e["type"] == "response.output_text.delta"] == ["rec", "ord", "ed ",
                                                                                          "onc", "e"]
    assert len(upstream.requests) == calls, "replay never calls the upstream"


def test_no_secret_is_written(recorded, upstream, model):
    record, _ = clients(recorded)
    record.responses.create(model=model, input="secret check")
    record.embeddings.create(model="scripted/embedder", input=["x"])
    upstream.script(upstream_name(model), Reply(tool_calls=[ToolCall("web_search", '{"query":"secret"}')]),
                    Reply(text="ok"))
    record.responses.create(model=model, input="search", tools=[{"type": "web_search"}])
    assert upstream.searches("secret")[-1].headers["authorization"] == "Bearer tvly-never-written"
    for path in recorded["dir"].glob("*.json"):
        text = path.read_text()
        assert "sk-never-written" not in text and "client-key" not in text and "tvly-never-written" not in text
        assert "authorization" not in text.lower()


def test_web_searches_are_recorded_as_tool_invocations_and_replayed(recorded, upstream, model, request):
    query = f"tool recording {model}"
    record, replay = clients(recorded)
    outputs = []
    for client in (record, replay):
        upstream.script(upstream_name(model), Reply(tool_calls=[ToolCall("web_search", json.dumps({"query": query}))]),
                        Reply(text="Found it."))
        events = [e.to_dict() for e in client.responses.create(
            model=model, input="look it up", tools=[{"type": "web_search"}], stream=True,
            include=["web_search_call.action.sources"])]
        final = check_events(events)
        outputs.append((final["output"][0]["action"], output_text(final)))
    assert outputs[0] == outputs[1] and outputs[1][1] == "Found it."
    assert len(upstream.searches(query)) == 1, "replay never calls the search API"

    tool_request = {"test_id": request.node.nodeid, "provider": "tavily", "tool_name": "web_search",
                    "kwargs": {"query": query, "max_results": 5}}
    saved = files(recorded["dir"])[tool_request_hash(tool_request)]
    assert saved["test_id"] == request.node.nodeid
    assert saved["request"] == tool_request
    assert saved["response"]["is_streaming"] is False
    assert saved["response"]["body"]["__type__"] == "orrery.tool_result"
    assert [page["url"] for page in saved["response"]["body"]["__data__"]] == [
        source["url"] for source in outputs[0][0]["sources"]]
    listing = subprocess.run([sys.executable, "-m", "orrery", "recordings", "list", "--dir", str(recorded["dir"])],
                             capture_output=True, text=True, check=True).stdout
    assert any("tavily.web_search" in line and request.node.nodeid in line for line in listing.splitlines())


def test_a_failed_web_search_replays_as_the_same_failure(recorded, upstream, model):
    query = f"failing tool recording {model}"
    upstream.script_search(query, SearchReply(status=401))
    record, replay = clients(recorded)
    statuses = []
    for client in (record, replay):
        upstream.script(upstream_name(model), Reply(tool_calls=[ToolCall("web_search", json.dumps({"query": query}))]),
                        Reply(text="No luck."))
        response = client.responses.create(model=model, input="look", tools=[{"type": "web_search"}])
        statuses.append((response.output[0].status, response.output_text))
    assert statuses == [("failed", "No luck.")] * 2
    [saved] = [r for r in files(recorded["dir"]).values() if r["request"].get("kwargs", {}).get("query") == query]
    assert saved["response"]["body"] == {"__type__": "orrery.tool_error", "__data__": {
        "message": "the web search API answered 401: scripted search failure"}}


def test_a_tool_invocation_missing_from_the_recordings_fails_the_response(recorded, upstream, model, request):
    query = f"deleted recording {model}"
    record, replay = clients(recorded)
    upstream.script(upstream_name(model), Reply(tool_calls=[ToolCall("web_search", json.dumps({"query": query}))]),
                    Reply(text="one"))
    record.responses.create(model=model, input="look", tools=[{"type": "web_search"}])
    tool_request = {"test_id": request.node.nodeid, "provider": "tavily", "tool_name": "web_search",
                    "kwargs": {"query": query, "max_results": 5}}
    digest = tool_request_hash(tool_request)
    (recorded["dir"] / f"{digest}.json").unlink()
    events = [e.to_dict() for e in replay.responses.create(model=model, input="look", stream=True,
                                                            tools=[{"type": "web_search"}])]
    failed = check_events(events)
    assert failed["status"] == "failed" and failed["output"][0]["status"] == "failed"
    message = failed["error"]["message"]
    assert f"no recording {digest}" in message and "'web_search' of 'tavily'" in message
    assert "ORRERY_RECORDING_MODE=record-if-missing" in message


def test_upstream_errors_replay_as_the_same_error(recorded, upstream, model):
    rate_limited = Reply(status=429, error={"message": "Slow down", "type": "rate"})
    upstream.script(upstream_name(model), rate_limited, rate_limited)
    record, replay = clients(recorded)
    answers = []
    for client in (record, replay):
        with pytest.raises(openai.RateLimitError) as chat:
            client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])
        with pytest.raises(openai.RateLimitError) as responses:
            client.responses.create(model=model, input="hi")
        answers.append((chat.value.status_code, chat.value.body, "Slow down" in responses.value.message))
    assert answers[0] == answers[1] == (429, answers[0][1], True)
    saved = [r for r in files(recorded["dir"]).values() if r["request"].get("model") == upstream_name(model)]
    assert saved[0]["response"]["status"] == 429
    assert saved[0]["response"]["body"]["__data__"]["error"]["message"] == "Slow down"


def test_chat_non_streaming_embeddings_and_models_replay(recorded, upstream, model):
    upstream.script(upstream_name(model), Reply(text="plain"))
    record, replay = clients(recorded)
    results = []
    for client in (record, replay):
        completion = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])
        embedding = client.embeddings.create(model="scripted/embedder", input=["abc", "de"])
        models = client.models.list()
        results.append((completion.choices[0].message.content, [d.embedding for d in embedding.data],
                        [m.id for m in models.data]))
    assert results[0] == results[1]
    assert results[1][0] == "plain" and results[1][2] == ["scripted/scripted-model", "scripted/scripted-other"]


def test_each_test_id_has_its_own_recordings(recorded, model):
    record, _ = clients(recorded)
    record.responses.create(model=model, input="mine")
    other = openai.OpenAI(base_url=f"{recorded['replay']}/v1", api_key="k", max_retries=0,
                          default_headers={HEADER: "tests/other.py::test_other"})
    with pytest.raises(openai.APIStatusError) as raised:
        other.responses.create(model=model, input="mine")
    assert "tests/other.py::test_other" in raised.value.message


def test_record_if_missing_records_once(upstream, model, tmp_path):
    directory = tmp_path / "recordings"
    process, url = run_server(tmp_path, "rim", [{"id": "scripted", "base_url": upstream.url}],
                              "record-if-missing", directory)
    try:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="k", max_retries=0)
        upstream.script(upstream_name(model), Reply(text="first and only"))
        assert client.responses.create(model=model, input="q").output_text == "first and only"
        calls = len(upstream.bodies(upstream_name(model)))
        assert client.responses.create(model=model, input="q").output_text == "first and only"
        assert len(upstream.bodies(upstream_name(model))) == calls
        assert len(list(directory.glob("*.json"))) == 1
    finally:
        stop_server(process)


def test_recordings_cli_lists_shows_and_prunes(upstream, model, tmp_path, request):
    directory = tmp_path / "recordings"
    shutil.copytree(SEEDS, directory)
    process, url = run_server(tmp_path, "cli", [{"id": "scripted", "base_url": upstream.url}], "record", directory)
    try:
        openai.OpenAI(base_url=f"{url}/v1", api_key="k", max_retries=0).responses.create(model=model, input="q")
    finally:
        stop_server(process)
    orrery = [sys.executable, "-m", "orrery", "recordings"]
    listing = subprocess.run([*orrery, "list", "--dir", str(directory)], capture_output=True, text=True, check=True)
    lines = listing.stdout.strip().split("\n")
    assert len(lines) == 5
    assert any(request.node.nodeid in line and upstream_name(model) in line for line in lines)
    assert all("/v1/chat/completions" in line for line in lines)
    shown = subprocess.run([*orrery, "show", SATURN[:10], "--dir", str(directory)],
                           capture_output=True, text=True, check=True)
    assert json.loads(shown.stdout) == seed(SATURN)
    dry = subprocess.run([*orrery, "prune", "--dry-run", "--dir", str(directory)], capture_output=True, text=True,
                         check=True)
    assert dry.stdout.count("would delete") == 4 and len(list(directory.glob("*.json"))) == 5
    subprocess.run([*orrery, "prune", "--dir", str(directory)], capture_output=True, text=True, check=True)
    remaining = [json.loads(p.read_text()) for p in directory.glob("*.json")]
    assert [r["test_id"] for r in remaining] == [request.node.nodeid]


def test_serve_flags_set_the_recording_mode(upstream, model, tmp_path):
    directory = tmp_path / "flagged"
    process, url = start_server({"providers": [{"id": "scripted", "base_url": upstream.url}]},
                                log_path=tmp_path / "flags.log",
                                extra_args=("--recording-mode", "record", "--recording-dir", str(directory),
                                            "--db", f"sqlite:///{tmp_path / 'f.db'}"))
    try:
        openai.OpenAI(base_url=f"{url}/v1", api_key="k", max_retries=0).responses.create(model=model, input="q")
    finally:
        stop_server(process)
    assert len(list(directory.glob("*.json"))) == 1


def test_mcp_listings_and_calls_are_recorded_and_replayed_without_the_server(recorded, upstream, model, request):
    process, mcp_url = start_mcp_server("mcp-token-never-written")
    mcp_tool = {"type": "mcp", "server_label": "calc", "server_url": mcp_url, "require_approval": "never",
                "authorization": "mcp-token-never-written"}
    record, replay = clients(recorded)
    outputs = []
    try:
        upstream.script(upstream_name(model), Reply(tool_calls=[ToolCall("add", '{"a":20,"b":22}')]),
                        Reply(text="42."))
        outputs.append(record.responses.create(model=model, input="20+22?", tools=[mcp_tool]))
    finally:
        stop_mcp_server(process)
    events = [e.to_dict() for e in replay.responses.create(model=model, input="20+22?", tools=[mcp_tool], stream=True)]
    outputs.append(openai.types.responses.Response.model_validate(check_events(events)))
    listing, call, message = outputs[1].output
    assert (call.name, call.output, message.content[0].text) == ("add", "42", "42.")
    assert outputs[0].output[1].to_dict() == call.to_dict()
    assert listing.tools == outputs[0].output[0].tools

    saved = files(recorded["dir"])
    for tool_name, kwargs in (("mcp_list_tools", {"server_url": mcp_url}),
                              ("add", {"server_url": mcp_url, "arguments": {"a": 20, "b": 22}})):
        tool_request = {"test_id": request.node.nodeid, "provider": "mcp", "tool_name": tool_name, "kwargs": kwargs}
        assert saved[tool_request_hash(tool_request)]["request"] == tool_request
    assert all("mcp-token-never-written" not in json.dumps(recording) for recording in saved.values())


def test_an_mcp_listing_missing_from_the_recordings_is_424_naming_it(recorded, model):
    _, replay = clients(recorded)
    mcp_tool = {"type": "mcp", "server_label": "calc", "server_url": "http://127.0.0.1:9/never-recorded"}
    with pytest.raises(openai.APIStatusError) as raised:
        replay.responses.create(model=model, input="q", tools=[mcp_tool])
    assert raised.value.status_code == 424
    assert "no recording" in raised.value.message and "'mcp_list_tools' of 'mcp'" in raised.value.message


def test_credentials_in_an_upstream_url_are_not_written(upstream, model, tmp_path):
    directory = tmp_path / "recordings"
    with_credentials = upstream.url.replace("http://", "http://user:url-secret-4321@")
    process, url = run_server(tmp_path, "creds", [{"id": "scripted", "base_url": with_credentials}], "record",
                              directory)
    try:
        upstream.script(upstream_name(model), Reply(text="fine"))
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="k", max_retries=0)
        assert client.responses.create(model=model, input="q").output_text == "fine"
    finally:
        stop_server(process)
    [recording] = [json.loads(p.read_text()) for p in directory.glob("*.json")]
    assert recording["request"]["url"] == f"{upstream.url}/chat/completions"
    assert "url-secret-4321" not in json.dumps(recording)
