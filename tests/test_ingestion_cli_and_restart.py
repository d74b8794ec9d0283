"""Filling a server from the shell, and ingestion that survives the server being killed."""

from __future__ import annotations

import json
import os
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


def orrery(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``orrery ARGS`` with none of this run's variables that point a client command at a server."""
    kept = {k: v for k, v in os.environ.items()
            if not k.startswith("ORRERY_") and k not in ("OPENAI_BASE_URL", "OPENAI_API_KEY")}
    return subprocess.run([sys.executable, "-m", "orrery", *args], capture_output=True, text=True, timeout=180,
                          env={**kept, **(env or {})})


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


def test_files_and_vector_stores_listed_searched_and_deleted(tmp_path: Path):
    config = {"db": f"sqlite:///{tmp_path / 'cli.db'}", "data_dir": str(tmp_path / "data"),
              "api_keys": [{"key": "sk-cli-test", "project": "cli"}]}
    process, url = start_server(config, log_path=tmp_path / "cli.log")
    keyed = {"ORRERY_URL": url, "ORRERY_API_KEY": "sk-cli-test"}
    try:
        refused = orrery("files", "list", env={"ORRERY_URL": url})
        assert refused.returncode == 1 and refused.stdout == ""
        assert refused.stderr.startswith(f"orrery: GET {url}/v1/files failed (401): ")
        assert "Traceback" not in refused.stderr
        openai_env = orrery("files", "list", "--json",
                            env={"OPENAI_BASE_URL": f"{url}/v1", "OPENAI_API_KEY": "sk-cli-test"})
        assert openai_env.returncode == 0 and json.loads(openai_env.stdout) == [], openai_env.stderr

        notes = tmp_path / "notes.txt"
        notes.write_text("Saturn has rings of ice and rock, some of them hundreds of kilometres wide. " * 3)
        guide = tmp_path / "guide.md"
        guide.write_text("# Guide\nJupiter has ninety-five moons.")
        created = orrery("vector-stores", "create", "docs", "--files", str(notes), str(guide), env=keyed)
        assert created.returncode == 0, created.stderr
        store_id = created.stdout.split("\t")[0]

        files = orrery("files", "list", env=keyed)
        assert files.returncode == 0, files.stderr
        header, *rows = files.stdout.strip().split("\n")
        assert header.split() == ["ID", "FILENAME", "BYTES", "PURPOSE", "CREATED"]
        listed = {row.split()[1]: row.split() for row in rows}
        assert set(listed) == {"notes.txt", "guide.md"}
        assert listed["guide.md"][2:4] == [str(guide.stat().st_size), "assistants"]
        as_json = json.loads(orrery("files", "list", "--json", env=keyed).stdout)
        assert {f["id"] for f in as_json} == {row[0] for row in listed.values()}

        stores = orrery("vector-stores", "list", env=keyed)
        header, row = stores.stdout.strip().split("\n")
        assert header.split() == ["ID", "NAME", "FILES", "BYTES", "STATUS", "CREATED"]
        assert row.split()[:3] == [store_id, "docs", "2"] and row.split()[4] == "completed"

        search = orrery("vector-stores", "search", store_id, "moons of Jupiter", "--max-results", "1", env=keyed)
        assert search.returncode == 0, search.stderr
        header, hit = search.stdout.strip().split("\n")
        assert header.split() == ["SCORE", "FILE", "TEXT"]
        score, filename, text = hit.split(maxsplit=2)
        assert 0 < float(score) <= 1 and filename == "guide.md" and text == "# Guide Jupiter has ninety-five moons."
        long_hit = orrery("vector-stores", "search", store_id, "rings of Saturn", "--max-results", "1", env=keyed)
        text = long_hit.stdout.strip().split("\n")[1].split(maxsplit=2)[2]
        assert text.startswith("Saturn has rings of ice") and text.endswith(" …") and len(text) <= 100
        answer = json.loads(orrery("vector-stores", "search", store_id, "moons", "--json", env=keyed).stdout)
        assert answer["object"] == "vector_store.search_results.page"
        missing_store = orrery("vector-stores", "search", "vs_missing", "moons", env=keyed)
        assert missing_store.returncode == 1 and "(404)" in missing_store.stderr
        assert "Traceback" not in missing_store.stderr

        deleted = orrery("files", "delete", listed["guide.md"][0], "file-missing", env=keyed)
        assert deleted.returncode == 1
        assert deleted.stdout == f"deleted {listed['guide.md'][0]}\n"
        assert deleted.stderr == "orrery: no file file-missing\n"
        remaining = orrery("files", "list", "--url", f"{url}/v1", "--api-key", "sk-cli-test")
        assert [row.split()[1] for row in remaining.stdout.strip().split("\n")[1:]] == ["notes.txt"]
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
