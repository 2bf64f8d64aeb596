"""The listening socket of ``facegate serve``, bound before anything is printed or written.

Binding first means a busy port fails with one clear line (and exit status 2) before the
console URL is shown or a first admin key is created; the bound socket is then handed to the
HTTP server, so no other process can take the port in between.
"""

from __future__ import annotations

import errno
import socket

from facegate.errors import ConfigError

BUSY_HINT = "choose another with --port, make run PORT=..., or FACEGATE_SERVER__PORT"


def listen(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` (port 0: any free port), ready to serve."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ConfigError(f"cannot listen on {host!r}: {exc.strerror}") from exc
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        sock.bind(address)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ConfigError(
                f"port {port} on {host} is already in use (another facegate?); {BUSY_HINT}"
            ) from exc
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    sock.set_inheritable(True)
    return sock


def bound_port(sock: socket.socket) -> int:
    """The port a listening socket is bound to (the one chosen when 0 was asked for)."""
    port: int = sock.getsockname()[1]
    return port
