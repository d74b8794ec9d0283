"""Filling a server from the shell, and ingestion that survives the server being killed."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from conftest import start_server, stop_server

WORDS = ("planet ring orbit moon star comet dust ice rock gas giant telescope light year galaxy nebula "
         "crater surface atmosphere storm wind pressure mass gravity").split()


def orrery(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "orrery", *args], capture_output=True, text=True, timeout=180)


def test_files_upload_and_vector_store_create(tmp_path: Path):
    process, url = start_server({"db": f"sqlite:///{tmp_path / 'cli.db'}", "data_dir": str(tmp_path / "data")},
                                log_path=tmp_path / "cli.log")
    try:
        notes = tmp_path / "notes.txt"
        notes.write_text("Saturn has rings of ice.")
        guide = tmp_path / "guide.md"
        guide.write_text("# Guide\nJupiter has ninety-five moons.")
        uploaded = orrery("files", "upload", str(notes), str(guide), "--base-url", f"{url}/v1")
        assert uploaded.returncode == 0, uploaded.stderr
        lines = [line.split("\t") for line in uploaded.stdout.strip().split("\n")]
        assert [path for _, path in lines] == [str(notes), str(guide)]
        assert all(file_id.startswith("file-") for file_id, _ in lines)
        assert "upload" in uploaded.stderr

        created = orrery("vector-stores", "create", "docs", "--files", str(notes), str(guide),
                         "--base-url", f"{url}/v1")
        assert created.returncode == 0, created.stderr
        store_id, name, summary = created.stdout.strip().split("\t")
        assert name == "docs" and summary == "2 completed, 0 failed, 0 in progress"
        assert "ingest" in created.stderr
        hits = httpx.post(f"{url}/v1/vector_stores/{store_id}/search", json={"query": "moons of Jupiter"}).json()
        assert hits["data"][0]["filename"] == "guide.md"

        binary = tmp_path / "blob.bin"
        binary.write_bytes(bytes(range(256)))
        failing = orrery("vector-stores", "create", "bad", "--files", str(binary), "--base-url", f"{url}/v1")
        assert failing.returncode == 1 and failing.stdout.strip().endswith("0 completed, 1 failed, 0 in progress")
        missing = orrery("files", "upload", str(tmp_path / "nope.txt"), "--base-url", f"{url}/v1")
        assert missing.returncode != 0 and "no such file" in missing.stderr
    finally:
        stop_server(process)


def test_ingestion_survives_a_killed_server(tmp_path: Path):
    config = {"db": f"sqlite:///{tmp_path / 'restart.db'}", "data_dir": str(tmp_path / "data")}
    rng = random.Random(7)
    text = " ".join(rng.choice(WORDS) for _ in range(50_000)) + " The answer is forty-two."
    first, url = start_server(config, log_path=tmp_path / "first.log")
    try:
        file_id = httpx.post(f"{url}/v1/files", files={"file": ("long.txt", text.encode())},
                             data={"purpose": "assistants"}).json()["id"]
        store_id = httpx.post(f"{url}/v1/vector_stores", json={"name": "restart", "file_ids": [file_id]}).json()["id"]
        time.sleep(1.5)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    second, url = start_server(config, log_path=tmp_path / "second.log")
    try:
        status = httpx.get(f"{url}/v1/vector_stores/{store_id}/files/{file_id}").json()["status"]
        assert status == "in_progress", "the killed server had not finished: the restart must pick the file up"
        deadline = time.monotonic() + 120
        while status == "in_progress":
            assert time.monotonic() < deadline, "ingestion never resumed"
            time.sleep(0.5)
            status = httpx.get(f"{url}/v1/vector_stores/{store_id}/files/{file_id}").json()["status"]
        assert status == "completed"
        store = httpx.get(f"{url}/v1/vector_stores/{store_id}").json()
        assert store["file_counts"] == {"in_progress": 0, "completed": 1, "failed": 0, "cancelled": 0, "total": 1}
        hits = httpx.post(f"{url}/v1/vector_stores/{store_id}/search",
                          json={"query": "forty-two", "search_mode": "keyword"}).json()["data"]
        assert "forty-two" in hits[0]["content"][0]["text"]
    finally:
        stop_server(second)
