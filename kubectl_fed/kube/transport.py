"""Keep-alive HTTP/1.1 connections to one apiserver, on the standard library.

Why not urllib3 or the generated kubernetes client: a sync pass sends thousands
of small requests, and those layers cost about as much client CPU per request as
http.client itself does (BENCHMARKS.md, "Client CPU"); importing the generated
client also costs ~0.5 s per command. The kubernetes package is still what reads
kubeconfig users that need an exec or auth-provider plugin (see connect.py).
"""

from __future__ import annotations

import base64
import http.client
import select
import socket
import ssl
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from email.message import Message
from typing import Any
from urllib.parse import SplitResult, unquote, urlsplit

# Safe to send twice. PATCH is, as kubectl-fed uses it: merge patches and server-side
# applies give the same result when repeated (no JSON-patch appends go to a server).
IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "PATCH", "DELETE"})

# What an auth hook returns: headers as a mapping, or as pairs when a name repeats
# (Impersonate-Group is sent once per group).
AuthHeaders = Mapping[str, str] | Iterable[tuple[str, str]]


class Headers:
    """Request headers that may repeat a name. http.client looks at the names by iterating
    and sends what items() yields, one line per pair."""

    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        self.pairs = list(pairs)

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self.pairs)

    def items(self) -> Iterator[tuple[str, str]]:
        return iter(self.pairs)


def _headers(headers: Mapping[str, str], auth: AuthHeaders) -> Headers:
    extra = list(auth.items() if isinstance(auth, Mapping) else auth)
    names = {name.lower() for name, _ in extra}
    return Headers([*((k, v) for k, v in headers.items() if k.lower() not in names), *extra])


class TransportError(Exception):
    """The exchange failed below HTTP: refused, reset, timed out, bad TLS."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(str(cause) or type(cause).__name__)
        self.cause = cause


@dataclass(frozen=True)
class Response:
    status: int
    reason: str
    headers: Message
    data: bytes


class _Plain(http.client.HTTPConnection):
    """A plain HTTP connection, through a SOCKS5 proxy when one is given."""

    def __init__(
        self, host: str, port: int, *, timeout: float | None, socks: SplitResult | None = None
    ) -> None:
        super().__init__(host, port, timeout=timeout)
        self._socks = socks

    def connect(self) -> None:
        if self._socks is None:
            super().connect()
        else:
            self.sock = socks5_connect(self._socks, self.host, self.port, self.timeout)


class _Connection(_Plain):
    """An HTTPS connection whose certificate is checked against ``server_hostname``
    (kubeconfig's tls-server-name) when one is given, else against the host."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        context: ssl.SSLContext,
        server_hostname: str | None,
        timeout: float | None,
        socks: SplitResult | None = None,
    ) -> None:
        super().__init__(host, port, timeout=timeout, socks=socks)
        self._ssl = context
        self._server_hostname = server_hostname

    def connect(self) -> None:
        super().connect()  # TCP (or through SOCKS5), and the CONNECT tunnel if any
        hostname = self._server_hostname or getattr(self, "_tunnel_host", None) or self.host
        self.sock = self._ssl.wrap_socket(self.sock, server_hostname=hostname)


SOCKS_SCHEMES = ("socks5", "socks5h")


def socks5_connect(proxy: SplitResult, host: str, port: int, timeout: float | None) -> Any:
    """A socket to host:port through a SOCKS5 proxy (RFC 1928), with username/password
    authentication (RFC 1929) when the proxy URL carries them. The host name is resolved
    by the proxy, as kubectl's dialer (golang.org/x/net/proxy) does: private names behind
    an SSH -D tunnel resolve there. Written here because it is forty lines and the one
    well-known library for it (PySocks) is unmaintained since 2019."""
    sock = socket.create_connection((str(proxy.hostname), proxy.port or 1080), timeout)
    try:
        user, password = unquote(proxy.username or ""), unquote(proxy.password or "")
        methods = b"\x00\x02" if user else b"\x00"
        sock.sendall(b"\x05" + bytes([len(methods)]) + methods)
        version, method = _read(sock, 2)
        if version != 5 or method not in methods:
            raise OSError(f"SOCKS5 proxy {proxy.hostname}: no acceptable authentication")
        if method == 2:
            pair = user.encode(), password.encode()
            sock.sendall(
                b"\x01" + bytes([len(pair[0])]) + pair[0] + bytes([len(pair[1])]) + pair[1]
            )
            if _read(sock, 2)[1] != 0:
                raise OSError(f"SOCKS5 proxy {proxy.hostname}: username/password refused")
        name = host.encode("idna")
        sock.sendall(b"\x05\x01\x00\x03" + bytes([len(name)]) + name + port.to_bytes(2, "big"))
        reply = _read(sock, 4)
        if reply[1] != 0:
            raise OSError(
                f"SOCKS5 proxy {proxy.hostname}: connect to {host}:{port} failed (reply {reply[1]})"
            )
        bound = {1: 4, 4: 16}.get(reply[3])
        _read(sock, (bound if bound is not None else _read(sock, 1)[0]) + 2)
        return sock
    except BaseException:
        sock.close()
        raise


def _read(sock: Any, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise OSError("SOCKS5 proxy closed the connection")
        data += chunk
    return data


def _checked_proxy(proxy: str) -> SplitResult:
    """The proxy URL, refused here (not at the first request) when unusable. Errors name
    it without its password: they end up in status conditions and doctor's output."""
    url = urlsplit(proxy)
    shown = redacted_url(url)
    try:
        url.port  # noqa: B018  (a bad port raises only when read)
    except ValueError as err:
        raise ValueError(f"proxy {shown!r}: {err}") from None
    if url.scheme not in ("http", *SOCKS_SCHEMES) or not url.hostname:
        raise ValueError(f"proxy {shown!r}: http:// (CONNECT) and socks5:// proxies are supported")
    return url


def redacted_url(url: SplitResult) -> str:
    """The URL with its password shown as xxxxx (as Go's url.Redacted does)."""
    if url.password is None:
        return url.geturl()
    netloc = url.netloc.rpartition("@")[2]
    return url._replace(netloc=f"{url.username}:xxxxx@{netloc}").geturl()


def _proxy_auth(proxy: SplitResult) -> dict[str, str]:
    """Basic credentials of an http:// proxy URL, sent with CONNECT as Go's transport
    (kubectl) sends them."""
    if proxy.username is None:
        return {}
    pair = f"{unquote(proxy.username)}:{unquote(proxy.password or '')}".encode()
    return {"Proxy-Authorization": "Basic " + base64.b64encode(pair).decode()}


class Transport:
    """A small pool of connections to one server; safe to share between threads."""

    def __init__(
        self,
        server: str,
        ssl_context: ssl.SSLContext | None,
        auth_headers: Callable[[], AuthHeaders],
        *,
        server_hostname: str | None = None,
        proxy: str | None = None,
        pool_size: int = 8,
    ) -> None:
        url = urlsplit(server)
        if url.scheme not in ("https", "http") or not url.hostname:
            raise ValueError(f"server {server!r} is not an http(s) URL")
        self.server = server
        self.auth_headers = auth_headers
        self._https = url.scheme == "https"
        self._host = url.hostname
        self._port = url.port or (443 if self._https else 80)
        self._prefix = url.path.rstrip("/")
        self._ssl = ssl_context or ssl.create_default_context()
        self._server_hostname = server_hostname
        self._proxy = _checked_proxy(proxy) if proxy else None
        self.pool_size = pool_size
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    def url(self, target: str) -> str:
        """The full URL of a request target (what `-v=6` prints)."""
        return self.server.rstrip("/") + target

    def clone(self, pool_size: int) -> Transport:
        """Same server and identity, separate connections."""
        other = Transport.__new__(Transport)
        other.__dict__.update(self.__dict__)
        other.pool_size, other._idle, other._lock = pool_size, [], threading.Lock()
        return other

    # ------------------------------------------------------------------ requests

    def request(
        self,
        method: str,
        target: str,
        headers: dict[str, str],
        body: bytes | None,
        timeout: float | None,
    ) -> Response:
        """One exchange. A kept-alive connection the server closed meanwhile is
        replaced once for idempotent methods; anything else is a TransportError."""
        sent = _headers(headers, self.auth_headers())
        connection, reused = self._checkout(timeout)
        try:
            return self._exchange(connection, method, target, sent, body)
        except (OSError, http.client.HTTPException) as err:
            if not (reused and method in IDEMPOTENT):
                raise TransportError(err) from None
        try:
            return self._exchange(self._new(timeout), method, target, sent, body)
        except (OSError, http.client.HTTPException) as err:
            raise TransportError(err) from None

    def _exchange(
        self,
        connection: http.client.HTTPConnection,
        method: str,
        target: str,
        headers: Headers,
        body: bytes | None,
    ) -> Response:
        """Send and read the whole answer; the connection goes back to the pool, or is
        closed when the server said so or the exchange failed."""
        try:
            connection.request(
                method,
                self._prefix + target,
                body=body,
                headers=headers,  # type: ignore[arg-type]  # a multi-valued mapping
            )
            response = connection.getresponse()
            data = response.read()
        except BaseException:
            connection.close()
            raise
        self._checkin(connection, response)
        return Response(response.status, response.reason, response.headers, data)

    def stream(
        self,
        target: str,
        headers: dict[str, str],
        connect_timeout: float | None,
        read_timeout: float,
    ) -> tuple[Response, Iterator[bytes]]:
        """A GET whose body is read line by line (watches) on a connection of its own.
        On a non-2xx status the whole body is in the Response and no lines follow."""
        connection = self._new(connect_timeout)
        try:
            connection.connect()
            assert connection.sock is not None
            connection.sock.settimeout(read_timeout)
            connection.request(
                "GET",
                self._prefix + target,
                headers=_headers(headers, self.auth_headers()),  # type: ignore[arg-type]
            )
            response = connection.getresponse()
            if not 200 <= response.status < 300:
                failed = Response(
                    response.status, response.reason, response.headers, response.read()
                )
                connection.close()
                return failed, iter(())
        except (OSError, http.client.HTTPException) as err:
            connection.close()
            raise TransportError(err) from None
        head = Response(response.status, response.reason, response.headers, b"")
        return head, self._lines(connection, response)

    @staticmethod
    def _lines(
        connection: http.client.HTTPConnection, response: http.client.HTTPResponse
    ) -> Iterator[bytes]:
        try:
            while line := response.readline():
                yield line
        except (OSError, http.client.HTTPException) as err:
            raise TransportError(err) from None
        finally:
            connection.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()

    # ------------------------------------------------------------------ the pool

    def _new(self, timeout: float | None) -> http.client.HTTPConnection:
        host, port = self._host, self._port
        socks = self._proxy if self._proxy and self._proxy.scheme in SOCKS_SCHEMES else None
        connect_proxy = self._proxy if self._proxy and socks is None else None
        if connect_proxy:
            host, port = str(connect_proxy.hostname), connect_proxy.port or 80
        connection: http.client.HTTPConnection
        if self._https:
            connection = _Connection(
                host,
                port,
                context=self._ssl,
                server_hostname=self._server_hostname,
                timeout=timeout,
                socks=socks,
            )
        else:
            connection = _Plain(host, port, timeout=timeout, socks=socks)
        if connect_proxy:
            connection.set_tunnel(self._host, self._port, headers=_proxy_auth(connect_proxy))
        return connection

    def _checkout(self, timeout: float | None) -> tuple[http.client.HTTPConnection, bool]:
        while True:
            with self._lock:
                connection = self._idle.pop() if self._idle else None
            if connection is None:
                return self._new(timeout), False
            if _alive(connection):
                assert connection.sock is not None
                connection.sock.settimeout(timeout)
                return connection, True
            connection.close()

    def _checkin(
        self, connection: http.client.HTTPConnection, response: http.client.HTTPResponse
    ) -> None:
        if response.will_close:
            connection.close()
            return
        with self._lock:
            if len(self._idle) < self.pool_size:
                self._idle.append(connection)
                return
        connection.close()


def _alive(connection: http.client.HTTPConnection) -> bool:
    """An idle keep-alive connection is usable while nothing is waiting to be read on it:
    a readable socket means the server closed it (or broke the protocol)."""
    sock = connection.sock
    if sock is None:
        return False
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return False
    return not readable


def ssl_context(
    ca_file: str | None = None,
    ca_data: bytes | None = None,
    cert_file: str | None = None,
    key_file: str | None = None,
    insecure: bool = False,
) -> ssl.SSLContext:
    """The TLS settings of a kubeconfig cluster and user."""
    context = ssl.create_default_context(
        cafile=ca_file, cadata=ca_data.decode() if ca_data else None
    )
    if insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if cert_file and key_file:
        context.load_cert_chain(cert_file, key_file)
    return context
