"""Keep-alive HTTP/1.1 connections to one apiserver, on the standard library.

Why not urllib3 or the generated kubernetes client: a sync pass sends thousands
of small requests, and those layers cost about as much client CPU per request as
http.client itself does (BENCHMARKS.md, "Client CPU"); importing the generated
client also costs ~0.5 s per command. The kubernetes package is still what reads
kubeconfig users that need an exec or auth-provider plugin (see connect.py).
"""

from __future__ import annotations

import http.client
import select
import ssl
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from email.message import Message
from urllib.parse import urlsplit

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


class _Connection(http.client.HTTPSConnection):
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
    ) -> None:
        super().__init__(host, port, timeout=timeout, context=context)
        self._ssl = context
        self._server_hostname = server_hostname

    def connect(self) -> None:
        http.client.HTTPConnection.connect(self)  # TCP, and the proxy tunnel if any
        hostname = self._server_hostname or getattr(self, "_tunnel_host", None) or self.host
        self.sock = self._ssl.wrap_socket(self.sock, server_hostname=hostname)


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
        self._proxy = urlsplit(proxy) if proxy else None
        if self._proxy and (self._proxy.scheme != "http" or not self._proxy.hostname):
            raise ValueError(f"proxy {proxy!r}: only http:// proxies (CONNECT) are supported")
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
        if self._proxy:
            host, port = str(self._proxy.hostname), self._proxy.port or 80
        connection: http.client.HTTPConnection
        if self._https:
            connection = _Connection(
                host,
                port,
                context=self._ssl,
                server_hostname=self._server_hostname,
                timeout=timeout,
            )
        else:
            connection = http.client.HTTPConnection(host, port, timeout=timeout)
        if self._proxy:
            connection.set_tunnel(self._host, self._port)
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
