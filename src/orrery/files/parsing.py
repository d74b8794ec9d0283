"""The text of an uploaded file: plain text, Markdown, HTML, JSON, CSV/TSV and PDF.

Blocking and CPU-bound: callers on the event loop run ``extract_text`` in a worker thread.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from html.parser import HTMLParser
from pathlib import Path

from pypdf import PdfReader
from pypdf.errors import DependencyError, PyPdfError

SNIFF_BYTES = 8192
HTML_SUFFIXES = frozenset({".html", ".htm", ".xhtml"})
UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


class UnsupportedFile(Exception):
    """The file is binary, undecodable, or of a type whose text cannot be extracted."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def extract_text(path: Path, filename: str) -> str:
    """The text of the file at ``path``; ``filename`` (as uploaded) gives its type by extension.

    A PDF is recognised by its extension or its ``%PDF-`` header; any other file must be text.
    """
    suffix = Path(filename).suffix.lower()
    with path.open("rb") as file:
        head = file.read(SNIFF_BYTES)
        if suffix == ".pdf" or head.startswith(b"%PDF-"):
            return _pdf_text(file, filename)
    if _is_binary(head):
        raise UnsupportedFile(f"{filename}: binary content of an unsupported type")
    text = _decode(path.read_bytes(), filename)
    if suffix in HTML_SUFFIXES:
        return html_text(text)
    if suffix == ".json":
        return _json_text(text)
    if suffix in (".csv", ".tsv"):
        return _csv_text(text, tab_separated=suffix == ".tsv")
    return text


def _is_binary(data: bytes) -> bool:
    """A NUL byte marks binary content (git's test), except in UTF-16 text, which opens with a BOM."""
    return b"\x00" in data and not data.startswith(UTF16_BOMS)


def _decode(raw: bytes, filename: str) -> str:
    if raw.startswith(UTF16_BOMS):
        try:
            text = raw.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise UnsupportedFile(f"{filename}: undecodable UTF-16 text: {exc.reason}") from exc
        # UTF-16 text can hold NUL characters (UTF-8 and cp1252 text with one is binary), which
        # PostgreSQL's text type refuses.
        return text.replace("\x00", "")
    if _is_binary(raw):
        raise UnsupportedFile(f"{filename}: binary content of an unsupported type")
    # utf-8-sig also reads UTF-8 without a BOM. Text that is not UTF-8 is, in practice, Windows'
    # cp1252; latin-1 decodes the five bytes cp1252 leaves undefined, and never fails.
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return raw.decode("latin-1")


def _pdf_text(file: io.BufferedReader, filename: str) -> str:
    """Pages' text, separated by blank lines; pypdf reads the open file by seeking, not whole."""
    try:
        pages = [page.extract_text() for page in PdfReader(file).pages]
    except (PyPdfError, DependencyError) as exc:
        raise UnsupportedFile(f"{filename}: unreadable PDF: {exc}") from exc
    # PDF text can hold NUL characters, which PostgreSQL's text type refuses.
    return "\n\n".join(page for page in pages if page.strip()).replace("\x00", "")


def _json_text(text: str) -> str:
    """The document pretty-printed; malformed (or absurdly nested) JSON is kept as the text it is."""
    try:
        document = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        return text
    return json.dumps(document, indent=2, ensure_ascii=False)


def _csv_text(text: str, *, tab_separated: bool) -> str:
    """The table rewritten as plain CSV: a line per non-empty row, the header included."""
    dialect: type[csv.Dialect] | csv.Dialect = csv.excel_tab if tab_separated else csv.excel
    if not tab_separated:
        try:
            dialect = csv.Sniffer().sniff(text[:SNIFF_BYTES], delimiters=",;\t|")
        except csv.Error:
            pass
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for row in csv.reader(io.StringIO(text, newline=""), dialect):
        cells = [" ".join(cell.split()) for cell in row]
        if any(cells):
            writer.writerow(cells)
    return out.getvalue().rstrip("\n")


BLOCK_TAGS = frozenset({
    "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "figcaption", "figure",
    "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav", "ol", "p",
    "pre", "section", "table", "title", "tr", "ul",
})
CELL_TAGS = frozenset({"td", "th"})
HIDDEN_TAGS = frozenset({"script", "style", "template"})


class _VisibleText(HTMLParser):
    """Collects the text a browser shows: no scripts, styles or templates; a line per block, and
    a line per source line inside ``<pre>``."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.pieces: list[str] = []
        self._hidden = 0
        self._pre = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "pre":
            self._pre += 1
        if tag in HIDDEN_TAGS:
            self._hidden += 1
        elif tag in BLOCK_TAGS:
            self.pieces.append("\n")
        elif tag in CELL_TAGS:
            self.pieces.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag == "pre":
            self._pre = max(0, self._pre - 1)
        if tag in HIDDEN_TAGS:
            self._hidden = max(0, self._hidden - 1)
        elif tag in BLOCK_TAGS:
            self.pieces.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.pieces.append(data if self._pre else data.replace("\r", " ").replace("\n", " "))


def html_text(markup: str) -> str:
    """The visible text of an HTML document, a line per block, runs of whitespace collapsed."""
    parser = _VisibleText()
    parser.feed(markup)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.pieces).split("\n"))
    return "\n".join(line for line in lines if line)
