"""A GGUF chat model run by llama.cpp (llama-cpp-python), synchronously.

Everything here runs in the local provider's one worker thread; ``orrery.inference.local`` hands
the results to the event loop. Importing this module needs the ``local`` extra.
"""

from __future__ import annotations

import threading
from collections.abc import Generator, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import llama_cpp.llama_cpp as llama_lib
from llama_cpp import Llama
from llama_cpp.llama_chat_format import Jinja2ChatFormatter

CONTEXT_TOKENS = 8192


class GenerationCancelled(Exception):
    """The consumer went away while the prompt was being read."""


class ModelLoadError(Exception):
    """The GGUF file could not be loaded."""


def _cpu_advertises_amx() -> bool:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            return any(line.startswith("flags") and " amx_int8" in line for line in cpuinfo)
    except OSError:
        return False


def _weights_in_plain_buffers() -> None:
    """Keep weights out of the CPU backend's extra buffer types (AMX tiles, repacked layouts).

    Virtual machines can advertise AMX to a process that may not use it, and llama.cpp's AMX
    matrix multiply then dies of a general protection fault on the first decode.
    llama-cpp-python has no parameter for ``use_extra_bufts``, so the default model parameters
    it starts from are wrapped, once per process.
    """
    defaults = llama_lib.llama_model_default_params
    if getattr(defaults, "plain_buffers", False):
        return

    def plain_defaults() -> Any:
        params = defaults()
        params.use_extra_bufts = False
        return params

    plain_defaults.plain_buffers = True  # type: ignore[attr-defined]
    llama_lib.llama_model_default_params = plain_defaults


class _CountingLlama(Llama):
    """Counts the prompt and generated tokens of each generation, and stops it when asked:
    between two prompt batches or two generated tokens."""

    prompt_tokens = 0
    completion_tokens = 0
    _cancelled: threading.Event | None = None

    @contextmanager
    def watching(self, cancelled: threading.Event) -> Iterator[None]:
        self.prompt_tokens = self.completion_tokens = 0
        self._cancelled = cancelled
        try:
            yield
        finally:
            self._cancelled = None

    def _stopped(self) -> bool:
        return self._cancelled is not None and self._cancelled.is_set()

    def eval(self, tokens: Sequence[int]) -> None:
        for start in range(0, len(tokens), self.n_batch):
            if self._stopped():
                raise GenerationCancelled
            super().eval(tokens[start:start + self.n_batch])

    def generate(self, tokens: Sequence[int], *args: Any,
                 **kwargs: Any) -> Generator[int, Sequence[int] | None, None]:
        self.prompt_tokens = len(tokens)
        for token in super().generate(tokens, *args, **kwargs):
            if self._stopped():
                return
            if not llama_lib.llama_vocab_is_eog(self._model.vocab, token):
                self.completion_tokens += 1
            yield token


def _say_when_cut(choices: list[Any], llama: _CountingLlama, kwargs: dict[str, Any]) -> None:
    """``length`` for a forced call cut by ``max_tokens``, which llama-cpp-python ends with
    ``tool_calls`` whatever stopped it, its arguments then broken JSON."""
    if choices and choices[0].get("finish_reason") == "tool_calls" and llama.completion_tokens >= kwargs["max_tokens"]:
        choices[0]["finish_reason"] = "length"


class LlamaChatModel:
    """One loaded GGUF chat model; loaded on first use."""

    def __init__(self, path: Path, name: str) -> None:
        self.path = path
        self.name = name
        self._llama: _CountingLlama | None = None
        self._formatter: Jinja2ChatFormatter | None = None

    def _loaded(self) -> _CountingLlama:
        if self._llama is None:
            if _cpu_advertises_amx():
                _weights_in_plain_buffers()
            try:
                self._llama = _CountingLlama(model_path=str(self.path), n_ctx=CONTEXT_TOKENS, verbose=False)
            except ValueError as exc:
                raise ModelLoadError(f"cannot load the GGUF model {self.path}: {exc}") from exc
        return self._llama

    def count_prompt(self, kwargs: dict[str, Any]) -> int | None:
        """The prompt tokens a chat completion with ``kwargs`` reads, rendered by the model's own
        chat template as ``create_chat_completion`` renders it; ``None`` for a model without one."""
        llama = self._loaded()
        template = llama.metadata.get("tokenizer.chat_template")
        if template is None:
            return None
        if self._formatter is None:
            eos, bos = llama.token_eos(), llama.token_bos()
            self._formatter = Jinja2ChatFormatter(
                template=template, eos_token=llama._model.token_get_text(eos) if eos != -1 else "",
                bos_token=llama._model.token_get_text(bos) if bos != -1 else "", stop_token_ids=[eos])
        rendered = self._formatter(messages=kwargs["messages"], tools=kwargs.get("tools"),
                                   tool_choice=kwargs.get("tool_choice"))
        return len(llama.tokenize(rendered.prompt.encode("utf-8"), add_bos=not rendered.added_special, special=True))

    def chat(self, kwargs: dict[str, Any], cancelled: threading.Event) -> dict[str, Any]:
        """A whole chat completion, usage included."""
        llama = self._loaded()
        with llama.watching(cancelled):
            completion = llama.create_chat_completion(**kwargs, model=self.name)
        assert isinstance(completion, dict)
        completion["model"] = self.name
        _say_when_cut(completion["choices"], llama, kwargs)
        return cast(dict[str, Any], completion)

    def chat_stream(self, kwargs: dict[str, Any], cancelled: threading.Event) -> Iterator[dict[str, Any]]:
        """The chunks of a chat completion, then one with ``usage`` and no choices."""
        llama = self._loaded()
        with llama.watching(cancelled):
            chunks = llama.create_chat_completion(**kwargs, model=self.name, stream=True)
            assert isinstance(chunks, Generator)
            last: dict[str, Any] = {}
            try:
                for last in chunks:
                    last["model"] = self.name
                    _say_when_cut(last["choices"], llama, kwargs)
                    yield last
                    if cancelled.is_set():
                        return
            finally:
                chunks.close()
            prompt, completion = llama.prompt_tokens, llama.completion_tokens
        yield {
            "id": last.get("id"), "object": "chat.completion.chunk", "created": last.get("created"),
            "model": self.name, "choices": [],
            "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion},
        }

    def close(self) -> None:
        if self._llama is not None:
            self._llama.close()
            self._llama = None
