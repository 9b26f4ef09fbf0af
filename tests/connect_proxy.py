"""Minimal HTTP CONNECT and SOCKS5 proxies for tests: one tunnel per connection, every
tunnel recorded; `resolve` maps the names clients ask for to the addresses actually
dialled (a SOCKS5 client sends names, as an SSH -D tunnel resolves them)."""

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
        while (line := self.rfile.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            self.server.headers.append((name.strip().lower(), value.strip()))
        _, authority, _ = request.split()
        host, port = authority.rsplit(":", 1)
        self.server.tunnels.append(authority)
        with socket.create_connection((self.server.resolve.get(host, host), int(port))) as far:
            self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            _pipe(self.connection, far)


class _ProxyServer(socketserver.ThreadingTCPServer):
    daemon_threads = True

    def __init__(self, resolve: dict[str, str]) -> None:
        super().__init__(("127.0.0.1", 0), _Tunnel)
        self.resolve = resolve
        self.tunnels: list[str] = []
        self.headers: list[tuple[str, str]] = []  # of every CONNECT, lower-case names


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


def _pipe(near: socket.socket, far: socket.socket) -> None:
    ends = [near, far]
    while True:
        readable, _, _ = select.select(ends, [], [], 10)
        if not readable:
            return
        for end in readable:
            data = end.recv(65536)
            if not data:
                return
            (far if end is near else near).sendall(data)


class _Socks(socketserver.StreamRequestHandler):
    server: _SocksServer

    def handle(self) -> None:
        read = self.rfile.read
        _version, count = read(2)
        methods = read(count)
        wanted = 2 if self.server.credentials else 0
        if wanted not in methods:
            self.wfile.write(b"\x05\xff")
            return
        self.wfile.write(bytes([5, wanted]))
        if wanted == 2:
            _v, size = read(2)
            user = read(size).decode()
            password = read(read(1)[0]).decode()
            ok = (user, password) == self.server.credentials
            self.wfile.write(b"\x01" + (b"\x00" if ok else b"\x01"))
            if not ok:
                return
        _v, _command, _reserved, kind = read(4)
        if kind == 3:
            host = read(read(1)[0]).decode()
        else:
            host = socket.inet_ntop(
                socket.AF_INET if kind == 1 else socket.AF_INET6, read(4 if kind == 1 else 16)
            )
        port = int.from_bytes(read(2), "big")
        self.server.tunnels.append(f"{host}:{port}")
        with socket.create_connection((self.server.resolve.get(host, host), port)) as far:
            self.wfile.write(b"\x05\x00\x00\x01" + bytes(4) + b"\x00\x00")
            self.wfile.flush()
            _pipe(self.connection, far)


class _SocksServer(socketserver.ThreadingTCPServer):
    daemon_threads = True

    def __init__(self, resolve: dict[str, str], credentials: tuple[str, str] | None) -> None:
        super().__init__(("127.0.0.1", 0), _Socks)
        self.resolve, self.credentials = resolve, credentials
        self.tunnels: list[str] = []


@contextmanager
def socks_proxy(
    resolve: dict[str, str] | None = None, credentials: tuple[str, str] | None = None
) -> Iterator[_SocksServer]:
    """A running SOCKS5 proxy; its URL is socks5://[user:password@]127.0.0.1:<port>."""
    proxy = _SocksServer(resolve or {}, credentials)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    try:
        yield proxy
    finally:
        proxy.shutdown()
        proxy.server_close()
