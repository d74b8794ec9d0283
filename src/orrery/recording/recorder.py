"""The recorder a server runs with: mode, directory, and a transport for each provider."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from orrery.config import ProviderConfig, RecordingMode, Settings
from orrery.inference.transport import Transport
from orrery.recording.storage import RecordingStore
from orrery.recording.tools import RecordingToolTransport
from orrery.recording.transport import RecordingTransport
from orrery.tools.base import ToolTransport


class Recorder:
    def __init__(self, mode: RecordingMode, directory: Path) -> None:
        self.mode = mode
        self.store = RecordingStore(directory)
        self._tool_replays: dict[str, bytes] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> Recorder | None:
        """None in live mode: no layer at all between the client and the network."""
        if settings.recording_mode is RecordingMode.LIVE:
            return None
        assert settings.recording_dir is not None
        return cls(settings.recording_mode, settings.recording_dir)

    def transport_for(self, provider: ProviderConfig) -> Callable[[Transport], Transport]:
        base_path = urlsplit(provider.base_url).path

        def wrap(inner: Transport) -> Transport:
            return RecordingTransport(inner, self.store, self.mode, base_path=base_path)

        return wrap

    def wrap_tool_transport(self, inner: ToolTransport) -> ToolTransport:
        """Puts recording between a server-side tool and its service."""
        return RecordingToolTransport(inner, self.store, self.mode, self._tool_replays)
