"""Where orrery may send requests a client asked for (an ``mcp`` tool's ``server_url``).

By default not to this machine, nor its networks: an address that is loopback, private,
link-local (cloud metadata services among them), shared, multicast, reserved or unspecified is
refused, checked on the addresses the host name resolves to and again on every redirect. The
``outbound.allow`` setting lists what may be reached all the same: host names (``mcp.internal``,
``localhost:8931``), addresses or networks (``10.0.0.0/8``, ``127.0.0.1``).

What is checked is each request's host as resolved when the request is sent; a host name whose
address changes between the check and the connection (DNS rebinding) is not caught.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class OutboundRefused(Exception):
    """The request would reach an address the policy refuses; the message says which and why."""


def _kind(address: IPAddress) -> str | None:
    """Why the address is not one a client may make the server reach, or ``None`` if it is."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    for name in ("loopback", "unspecified", "link_local", "private", "multicast", "reserved"):
        if getattr(address, f"is_{name}"):
            return name.replace("_", "-")
    return None if address.is_global else "not global"


class OutboundPolicy:
    def __init__(self, allow: Iterable[str] = ()) -> None:
        self._hosts: set[str] = set()
        self._networks: list[IPNetwork] = []
        for entry in allow:
            try:
                self._networks.append(ipaddress.ip_network(entry.strip(), strict=False))
            except ValueError:
                self._hosts.add(entry.strip().lower())

    def _allowed(self, address: IPAddress) -> bool:
        return any(address in network for network in self._networks)

    async def check(self, host: str, port: int | None) -> None:
        """Raise OutboundRefused unless every address ``host`` resolves to may be reached."""
        name = host.strip("[]").lower()
        if name in self._hosts or (port is not None and f"{name}:{port}" in self._hosts):
            return
        try:
            addresses: list[IPAddress] = [ipaddress.ip_address(name)]
        except ValueError:
            try:
                infos = await asyncio.get_running_loop().getaddrinfo(name, port, type=socket.SOCK_STREAM)
            except OSError as exc:
                raise OutboundRefused(f"its host {name!r} does not resolve ({exc.strerror or exc})") from None
            addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
        for address in addresses:
            kind = _kind(address)
            if kind is not None and not self._allowed(address):
                where = name if name == str(address) else f"{name} ({address})"
                raise OutboundRefused(f"{where} is a {kind} address, which this server does not reach for clients "
                                      "unless its outbound.allow setting lists it")
