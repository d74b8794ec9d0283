"""``<|file-…|>`` citation markers in the model's text, turned into ``file_citation`` annotations.

Streamed text is filtered as it arrives: a marker split across deltas is held back until it is
complete, so the deltas never show a raw marker and still join to exactly the final text. The space
before a marker is dropped with it ("a fact <|file-1|>." reads "a fact." with the annotation at
the period), as the reference implementation does.
"""

from __future__ import annotations

import re
from typing import Any

MARKER = re.compile(r"<\|(file-[A-Za-z0-9_-]+)\|>")
PARTIAL = re.compile(r" ?(<(\|(f(i(l(e(-[A-Za-z0-9_-]*\|?)?)?)?)?)?)?)?$")
"""What a text may end with that could still become a marker (with the space before it)."""


class CitationFilter:
    def __init__(self, filenames: dict[str, str]) -> None:
        """``filenames``: the files the model may cite (file id → filename)."""
        self.filenames = filenames
        self._pending = ""
        self.length = 0
        self.annotations: list[dict[str, Any]] = []

    def feed(self, delta: str) -> tuple[str, list[dict[str, Any]]]:
        """The text to show now, and the annotations it completed."""
        buffer = self._pending + delta
        shown: list[str] = []
        added: list[dict[str, Any]] = []
        position = 0
        for match in MARKER.finditer(buffer):
            before = buffer[position:match.start()]
            if before.endswith(" "):
                before = before[:-1]
            shown.append(before)
            self.length += len(before)
            file_id = match.group(1)
            if file_id in self.filenames:
                annotation = {"type": "file_citation", "file_id": file_id, "filename": self.filenames[file_id],
                              "index": self.length}
                self.annotations.append(annotation)
                added.append(annotation)
            position = match.end()
        rest = buffer[position:]
        held = PARTIAL.search(rest)
        cut = held.start() if held else len(rest)
        shown.append(rest[:cut])
        self.length += cut
        self._pending = rest[cut:]
        return "".join(shown), added

    def finish(self) -> str:
        """Whatever was held back, shown as it is: it never became a marker."""
        rest, self._pending = self._pending, ""
        self.length += len(rest)
        return rest


def with_markers(text: str, annotations: list[dict[str, Any]]) -> str:
    """The text as the model wrote it, markers put back, to show it the same turn again later."""
    pieces = []
    position = 0
    for annotation in sorted((a for a in annotations if a.get("type") == "file_citation"),
                             key=lambda a: a["index"]):
        pieces.append(text[position:annotation["index"]])
        pieces.append(f" <|{annotation['file_id']}|>")
        position = annotation["index"]
    pieces.append(text[position:])
    return "".join(pieces)
