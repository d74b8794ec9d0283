"""Credentials in the URLs orrery is configured with never reach its log, its recordings or its store."""

from __future__ import annotations

from pathlib import Path

import openai

from conftest import start_server, stop_server

PASSWORD = "provider-pass-5555"


def test_a_provider_urls_user_info_is_neither_logged_nor_recorded_nor_stored(upstream, tmp_path: Path,
                                                                           stored_bytes) -> None:
    base_url = upstream.url.replace("://", f"://someone:{PASSWORD}@")
    recordings = tmp_path / "recordings"
    db_url = f"sqlite:///{tmp_path / 'o.db'}"
    config = {"providers": [{"id": "withauth", "base_url": base_url}], "db": db_url,
              "data_dir": str(tmp_path), "recording": {"mode": "record", "dir": str(recordings)}}
    log = tmp_path / "server.log"
    process, url = start_server(config, log_path=log, extra_args=("--log-level", "info"))
    try:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="k", max_retries=0)
        response = client.responses.create(model="withauth/scripted-model", input="hello")
        assert response.status == "completed"
    finally:
        stop_server(process)
    text = log.read_text()
    assert "withauth=http://***@127.0.0.1" in text and PASSWORD not in text
    recorded = list(recordings.rglob("*.json"))
    assert recorded and all(PASSWORD not in path.read_text() for path in recorded)
    assert PASSWORD.encode() not in stored_bytes(db_url, response.id.encode())
