"""A minimal HTTP CONNECT proxy for tests: one tunnel per connection, every tunnel
recorded; `resolve` maps the names clients ask for to the addresses actually dialled."""

from __future__ import annotations

import select
import socket
import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class _Tunnel(socketserver.StreamRequestHandler):
    server: _ProxyServer

    def handle(self) -> None:
        request = self.rfile.readline().decode()
        while self.rfile.readline() not in (b"\r\n", b""):
            pass
        _, authority, _ = request.split()
        host, port = authority.rsplit(":", 1)
        self.server.tunnels.append(authority)
        with socket.create_connection((self.server.resolve.get(host, host), int(port))) as far:
            self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            ends = [self.connection, far]
            while True:
                readable, _, _ = select.select(ends, [], [], 10)
                if not readable:
                    return
                for end in readable:
                    data = end.recv(65536)
                    if not data:
                        return
                    (far if end is self.connection else self.connection).sendall(data)


class _ProxyServer(socketserver.ThreadingTCPServer):
    daemon_threads = True

    def __init__(self, resolve: dict[str, str]) -> None:
        super().__init__(("127.0.0.1", 0), _Tunnel)
        self.resolve = resolve
        self.tunnels: list[str] = []


@contextmanager
def connect_proxy(resolve: dict[str, str] | None = None) -> Iterator[_ProxyServer]:
    """A running proxy; its URL is http://127.0.0.1:<server_address[1]>."""
    proxy = _ProxyServer(resolve or {})
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    try:
        yield proxy
    finally:
        proxy.shutdown()
        proxy.server_close()
