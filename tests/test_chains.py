"""``previous_response_id`` chains, and the seed recording's exact upstream body."""

from __future__ import annotations

import json

import httpx
import pytest

from conftest import SEEDS, upstream_name
from scripted_upstream import Reply
from wire import stream

SATURN = SEEDS / "cd222f01d7ea1ac366a7047fec375e23501333a7e1173fc346f4eae530f6d3ee.json"


def saturn_seed() -> dict:
    return json.loads(SATURN.read_text())["request"]["body"]


def test_seed_saturn_second_turn_as_input(client, upstream):
    """The three messages of the seed through /v1/responses reach the upstream byte for byte."""
    recorded = saturn_seed()
    client.responses.create(model="scripted/gpt-4o", input=recorded["messages"])
    assert upstream.bodies("gpt-4o")[-1] == recorded
    assert json.dumps(upstream.bodies("gpt-4o")[-1]) == json.dumps(recorded)


def test_seed_saturn_second_turn_as_chain(client, upstream):
    """The same body when the first turn is a stored response and the second chains on it."""
    recorded = saturn_seed()
    question, answer, follow_up = (m["content"] for m in recorded["messages"])
    upstream.script("gpt-4o", Reply(text=answer))
    first = client.responses.create(model="scripted/gpt-4o", input=question)
    client.responses.create(model="scripted/gpt-4o", input=follow_up, previous_response_id=first.id)
    assert upstream.bodies("gpt-4o")[-1] == recorded


def test_chain_of_three_and_instructions_stay_with_their_turn(client, upstream, model):
    name = upstream_name(model)
    upstream.script(name, Reply(text="A1"), Reply(text="A2"), Reply(text="A3"))
    first = client.responses.create(model=model, input="Q1", instructions="Speak French.")
    second = client.responses.create(model=model, input="Q2", previous_response_id=first.id)
    third = client.responses.create(model=model, input=[{"role": "user", "content": "Q3"}],
                                    previous_response_id=second.id, instructions="Speak Latin.")
    bodies = upstream.bodies(name)
    assert bodies[0]["messages"] == [{"role": "system", "content": "Speak French."},
                                     {"role": "user", "content": "Q1"}]
    assert bodies[1]["messages"] == [{"role": "user", "content": "Q1"}, {"role": "assistant", "content": "A1"},
                                     {"role": "user", "content": "Q2"}]
    assert bodies[2]["messages"] == [
        {"role": "system", "content": "Speak Latin."},
        {"role": "user", "content": "Q1"}, {"role": "assistant", "content": "A1"},
        {"role": "user", "content": "Q2"}, {"role": "assistant", "content": "A2"},
        {"role": "user", "content": "Q3"}]
    assert third.previous_response_id == second.id
    assert client.responses.retrieve(third.id).previous_response_id == second.id


def test_branching_from_one_response(client, upstream, model):
    name = upstream_name(model)
    upstream.script(name, Reply(text="root"), Reply(text="left"), Reply(text="right"))
    root = client.responses.create(model=model, input="R")
    client.responses.create(model=model, input="L", previous_response_id=root.id)
    client.responses.create(model=model, input="X", previous_response_id=root.id)
    assert upstream.bodies(name)[-1]["messages"] == [
        {"role": "user", "content": "R"}, {"role": "assistant", "content": "root"}, {"role": "user", "content": "X"}]


def test_unknown_previous_response_is_404_before_streaming(server, model):
    response = httpx.post(f"{server.base_url}/responses", json={
        "model": model, "input": "x", "previous_response_id": "resp_missing", "stream": True})
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert error["param"] == "previous_response_id" and "resp_missing" in error["message"]


def test_previous_response_still_in_progress_is_400(server, upstream, model):
    name = upstream_name(model)
    upstream.script(name, Reply(text="slow answer", chunk=1, delay=0.05))
    with httpx.Client(timeout=30) as http:
        with http.stream("POST", f"{server.base_url}/responses",
                         json={"model": model, "input": "slow", "stream": True}) as slow:
            lines = slow.iter_lines()
            first = json.loads(next(line for line in lines if line.startswith("data: "))[6:])
            response_id = first["response"]["id"]
            deltas = 0
            for line in lines:
                deltas += "output_text.delta" in line
                if deltas == 3:
                    break
            chained = http.post(f"{server.base_url}/responses", json={
                "model": model, "input": "next", "previous_response_id": response_id})
            assert chained.status_code == 400, chained.text
            assert chained.json()["error"]["param"] == "previous_response_id"
            assert "in_progress" in chained.json()["error"]["message"]
            for _ in lines:
                pass
    retrieved = httpx.get(f"{server.base_url}/responses/{response_id}").json()
    assert retrieved["status"] == "completed"
    again = httpx.post(f"{server.base_url}/responses", json={
        "model": model, "input": "next", "previous_response_id": response_id})
    assert again.status_code == 200


def test_chain_continues_from_a_streamed_response(client, server, upstream, model):
    name = upstream_name(model)
    upstream.script(name, Reply(text="streamed"))
    events = stream(server.base_url, {"model": model, "input": "one"})
    client.responses.create(model=model, input="two", previous_response_id=events[-1]["response"]["id"])
    assert upstream.bodies(name)[-1]["messages"][1] == {"role": "assistant", "content": "streamed"}


@pytest.mark.parametrize("depth", [30])
def test_long_chain_history_is_complete_and_ordered(client, upstream, model, depth):
    name = upstream_name(model)
    previous = None
    for turn in range(depth):
        upstream.script(name, Reply(text=f"a{turn}"))
        previous = client.responses.create(model=model, input=f"q{turn}", previous_response_id=previous).id
    client.responses.create(model=model, input="last", previous_response_id=previous)
    contents = [m["content"] for m in upstream.bodies(name)[-1]["messages"]]
    assert contents == [x for turn in range(depth) for x in (f"q{turn}", f"a{turn}")] + ["last"]
