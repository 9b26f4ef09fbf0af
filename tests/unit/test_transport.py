"""The HTTP transport's connection handling, against a local stdlib HTTP server
(TLS and the apiserver itself are covered by every e2e test)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from kubectl_fed.kube.transport import Transport, TransportError
from tests.connect_proxy import connect_proxy, socks_proxy


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    connections: ClassVar[set[int]] = set()

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        Handler.connections.add(id(self.connection))
        if self.path == "/stream":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for n in range(3):
                line = json.dumps({"n": n}).encode() + b"\n"
                self.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
            self.wfile.write(b"0\r\n\r\n")
            return
        status = 404 if self.path == "/missing" else 200
        body = json.dumps({"path": self.path, "auth": self.headers.get("Authorization")}).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        # /hangup answers, then closes without saying so (an idle timeout, in effect).
        self.close_connection = self.path == "/hangup"

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        body = self.rfile.read(length)
        self.send_response(201)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    Handler.connections = set()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def transport(server: str) -> Transport:
    return Transport(server, None, lambda: {"Authorization": "Bearer t"}, pool_size=2)


def test_keeps_connections_alive_and_sends_auth(server: str) -> None:
    t = transport(server)
    for _ in range(3):
        response = t.request("GET", "/a", {}, None, 5)
        assert response.status == 200
        assert json.loads(response.data) == {"path": "/a", "auth": "Bearer t"}
    assert len(Handler.connections) == 1


def test_a_connection_the_server_closed_is_replaced(server: str) -> None:
    t = transport(server)
    assert t.request("GET", "/hangup", {}, None, 5).status == 200
    time.sleep(0.2)  # the close reaches us, as after an idle timeout
    # Pooled but closed by the server: seen before use, so even a POST goes through.
    assert t.request("POST", "/x", {}, b'{"a":1}', 5).data == b'{"a":1}'


def test_an_idempotent_request_is_resent_once_on_a_stale_connection(server: str) -> None:
    t = transport(server)
    assert t.request("GET", "/hangup", {}, None, 5).status == 200
    # No pause: the close may race the next request; a GET is simply sent again.
    assert json.loads(t.request("GET", "/b", {}, None, 5).data)["path"] == "/b"


def test_errors_and_prefix(server: str) -> None:
    t = Transport(server + "/missing/", None, dict)
    assert t.request("GET", "", {}, None, 5).status == 404  # prefix kept, slash trimmed
    with pytest.raises(TransportError):
        Transport("http://127.0.0.1:1", None, dict).request("GET", "/", {}, None, 5)
    with pytest.raises(ValueError, match="not an http"):
        Transport("ftp://x", None, dict)
    with pytest.raises(ValueError, match="socks5:// proxies are supported"):
        Transport(server, None, dict, proxy="https://p:3128")


def test_stream_yields_lines(server: str) -> None:
    head, lines = transport(server).stream("/stream", {}, 5, 5)
    assert head.status == 200
    assert [json.loads(line) for line in lines] == [{"n": 0}, {"n": 1}, {"n": 2}]
    failed, nothing = transport(server).stream("/missing", {}, 5, 5)
    assert failed.status == 404 and b"missing" in failed.data and list(nothing) == []


def test_requests_go_through_a_connect_proxy(server: str) -> None:
    with connect_proxy() as proxy:
        t = Transport(server, None, dict, proxy=f"http://127.0.0.1:{proxy.server_address[1]}")
        assert json.loads(t.request("GET", "/via", {}, None, 5).data)["path"] == "/via"
        assert proxy.tunnels == [server.removeprefix("http://")]


def test_a_connect_proxy_gets_the_credentials_of_its_url(server: str) -> None:
    """kubectl (Go's transport) sends a proxy URL's user and password as Basic
    Proxy-Authorization with CONNECT; a proxy that wants them refuses without."""
    with connect_proxy() as proxy:
        url = f"http://me:s%40cret@127.0.0.1:{proxy.server_address[1]}"
        t = Transport(server, None, dict, proxy=url)
        assert t.request("GET", "/via", {}, None, 5).status == 200
        assert ("proxy-authorization", "Basic bWU6c0BjcmV0") in proxy.headers  # me:s@cret
    with connect_proxy() as proxy:
        t = Transport(server, None, dict, proxy=f"http://127.0.0.1:{proxy.server_address[1]}")
        assert t.request("GET", "/via", {}, None, 5).status == 200
        assert not [h for h in proxy.headers if h[0] == "proxy-authorization"]


@pytest.mark.parametrize(
    "url",
    [
        "https://me:hunter2@proxy.example:3128",  # a scheme kubectl-fed does not speak
        "http://me:hunter2@proxy.example:notaport",
        "socks5://me:hunter2@proxy.example:99999",
    ],
)
def test_an_unusable_proxy_is_refused_at_once_without_its_password(server: str, url: str) -> None:
    """The message ends up in FederatedCluster status and doctor's output: a proxy
    password in it would be readable by whoever reads FederatedClusters. A bad port is
    refused here, not as a ValueError out of the first request (that ended sync)."""
    with pytest.raises(ValueError, match="proxy") as raised:
        Transport(server, None, dict, proxy=url)
    assert "hunter2" not in str(raised.value)
    assert "me:xxxxx@proxy.example" in str(raised.value)


@pytest.mark.parametrize("credentials", [None, ("me", "s3cret")])
def test_requests_go_through_a_socks5_proxy(
    server: str, credentials: tuple[str, str] | None
) -> None:
    # The proxy resolves the name, as kubectl's SOCKS5 dialer leaves it to: an SSH -D
    # tunnel reaches private names.
    port = server.rsplit(":", 1)[1]
    with socks_proxy({"api.private.invalid": "127.0.0.1"}, credentials) as proxy:
        auth = "me:s3cret@" if credentials else ""
        url = f"socks5://{auth}127.0.0.1:{proxy.server_address[1]}"
        t = Transport(f"http://api.private.invalid:{port}", None, dict, proxy=url)
        assert json.loads(t.request("GET", "/via", {}, None, 5).data)["path"] == "/via"
        assert proxy.tunnels == [f"api.private.invalid:{port}"]
    with socks_proxy(credentials=("me", "right")) as proxy:
        wrong = f"socks5://me:wrong@127.0.0.1:{proxy.server_address[1]}"
        with pytest.raises(TransportError):
            Transport(server, None, dict, proxy=wrong).request("GET", "/", {}, None, 5)


def test_client_key_files_are_private_and_written_once() -> None:
    from kubectl_fed.kube.connect import _private

    first, again, other = _private(b"KEY"), _private(b"KEY"), _private(b"CERT")
    assert first == again != other
    assert Path(first).read_bytes() == b"KEY"
    assert Path(first).parent.stat().st_mode & 0o077 == 0
