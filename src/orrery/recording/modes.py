"""The recording modes, apart from the settings so that the command line reads them cheaply."""

from __future__ import annotations

from enum import StrEnum


class RecordingMode(StrEnum):
    """What happens to upstream calls: made (live), made and written (record), answered from
    files only (replay), or answered from files and recorded when missing."""

    LIVE = "live"
    RECORD = "record"
    REPLAY = "replay"
    RECORD_IF_MISSING = "record-if-missing"
