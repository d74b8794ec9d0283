"""Several worker processes, each listening on a socket of its own on the shared port.

uvicorn's workers share one listening socket: whichever is waiting in ``accept`` first takes the
next connection, so keep-alive clients can land on one worker and leave the others idle (32
connections went 32/0 over two workers). Here each worker binds its own socket with
``SO_REUSEPORT``, and the kernel spreads new connections evenly over them by their addresses. A
worker that dies takes its socket with it (the parent holds none), so nothing is routed to a
socket nobody accepts on; uvicorn's supervisor starts its replacement, which binds anew.
"""

from __future__ import annotations

import errno
import socket
from typing import Any

import uvicorn
from uvicorn.supervisors import Multiprocess


class PortInUse(RuntimeError):
    pass


def _listening_socket(host: str, port: int, *, reuse_port: bool) -> socket.socket:
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                         flags=socket.AI_PASSIVE)[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(address)
    sock.set_inheritable(True)
    return sock


def _bound_in_worker(host: str, port: int) -> list[socket.socket]:
    return [_listening_socket(host, port, reuse_port=True)]


class SocketPerWorker(list[socket.socket]):
    """What uvicorn's supervisor hands each worker process as its sockets: empty here, and
    unpickled in the worker (processes are spawned) as a list of one socket the worker bound."""

    def __init__(self, host: str, port: int) -> None:
        super().__init__()
        self.host = host
        self.port = port

    def __reduce__(self) -> tuple[Any, ...]:
        return _bound_in_worker, (self.host, self.port)


def check_port_free(host: str, port: int) -> None:
    """Raise PortInUse if anything listens on the port, another orrery started the same way
    included (which ``SO_REUSEPORT`` would otherwise let share the port silently)."""
    try:
        _listening_socket(host, port, reuse_port=False).close()
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise PortInUse(f"{host}:{port} is already in use") from None
        raise


def run_workers(config: uvicorn.Config) -> None:
    """Serve with ``config.workers`` processes, each on its own socket where the system allows it."""
    if not hasattr(socket, "SO_REUSEPORT"):
        Multiprocess(config, sockets=[config.bind_socket()]).run()
        return
    check_port_free(config.host, config.port)
    Multiprocess(config, sockets=SocketPerWorker(config.host, config.port)).run()
