"""URLs as the server shows, stores, logs and records them: without the credentials they carry."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

REDACTED = "***"
USER_INFO = re.compile(r"//[^/@]*@")


def without_user_info(url: str) -> str:
    """``url`` with no ``user:password@`` at all (where ``redacted`` shows ``***@``)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def redacted(url: str) -> str:
    """``url`` with its user info and each query value replaced by ``***``, and no fragment (the
    query's names stay, so the URL is still recognisable). One that does not parse is cut at its
    ``?`` or ``#``, and loses what precedes an ``@``."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        if parts.port:
            host += f":{parts.port}"
    except ValueError:
        return USER_INFO.sub("//", re.split(r"[?#]", url, maxsplit=1)[0])
    if "@" in parts.netloc:
        host = f"{REDACTED}@{host}"
    query = "&".join(f"{quote(name, safe='')}={REDACTED}"
                     for name, _ in parse_qsl(parts.query, keep_blank_values=True))
    scheme = f"{parts.scheme}:" if parts.scheme else ""
    authority = "//" if url[len(scheme):].startswith("//") else ""
    return f"{scheme}{authority}{host}{parts.path}" + (f"?{query}" if query else "")
