"""kube/connect.py and the request log, against a local stdlib HTTP server: the files
kubectl reads, the headers sent (impersonation, a token file read for every request, none
over plain http), and kubectl's -v=6 line."""

from __future__ import annotations

import base64
import os
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
import yaml

from kubectl_fed.core.kubeconfig import Credentials, Impersonation, Target
from kubectl_fed.errors import FedError
from kubectl_fed.kube import connect, log
from kubectl_fed.kube.transport import Transport


class Recorder(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: ClassVar[list[list[tuple[str, str]]]] = []

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        Recorder.seen.append(list(self.headers.items()))
        body = b'{"kind":"Status"}'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    Recorder.seen = []
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def sent(name: str, request: int = -1) -> list[str]:
    return [v for k, v in Recorder.seen[request] if k.lower() == name.lower()]


def test_a_header_name_may_repeat(server: str) -> None:
    pairs = Impersonation("jane", "42", ("dev", "ops")).headers()
    Transport(server, None, lambda: pairs).request("GET", "/", {"Accept": "x"}, None, 5)
    assert sent("Impersonate-User") == ["jane"] and sent("Impersonate-Uid") == ["42"]
    assert sent("Impersonate-Group") == ["dev", "ops"] and sent("Accept") == ["x"]


def test_a_token_file_is_read_for_every_request(server: str, tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("first\n")
    target = Target(
        "ctx",
        Credentials("https://unused", token="inline"),
        token_file=str(token),
        impersonation=Impersonation("jane"),
    )
    transport = Transport(server, None, connect._auth_headers(target))
    transport.request("GET", "/", {}, None, 5)
    token.write_text("rotated")  # a projected token is replaced under a long sync
    transport.request("GET", "/", {}, None, 5)
    token.unlink()  # unreadable: the last token read is sent
    transport.request("GET", "/", {}, None, 5)
    assert [sent("Authorization", n) for n in range(3)] == [
        ["Bearer first"],
        ["Bearer rotated"],
        ["Bearer rotated"],
    ]
    assert sent("Impersonate-User") == ["jane"]


def test_no_credentials_over_plain_http_members_included(server: str) -> None:
    secret = {"data": {"token": base64.b64encode(b"secret-token").decode()}}
    client = connect.connect(connect.member_spec("m", server, False, secret), 5)
    client.get("/api")
    assert sent("Authorization") == []


def test_kubeconfig_files_are_read_as_kubectl_reads_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config"
    config.write_text(yaml.safe_dump({"contexts": [{"name": "a", "context": {}}]}))
    listed = os.pathsep.join(["~/nope", str(config), str(config)])
    monkeypatch.setenv("KUBECONFIG", listed)
    # `~` is not expanded (that file is missing, so skipped); a file listed twice is read once.
    assert connect.kubeconfig_paths(None) == ["~/nope", str(config)]
    assert [p for p, _ in connect.read_kubeconfigs(None)] == [config]
    with pytest.raises(FedError, match="kubeconfig ~/nope does not exist"):
        connect.read_kubeconfigs("~/nope")
    broken = tmp_path / "broken"
    broken.write_text("clusters: [\n")
    with pytest.raises(FedError) as caught:
        connect.read_kubeconfigs(str(broken))
    assert caught.value.message.startswith(f'error loading config file "{broken}": yaml: line')
    listing = tmp_path / "list"
    listing.write_text("- a\n- b\n")
    with pytest.raises(FedError, match="the document is a list"):
        connect.read_kubeconfigs(str(listing))


def test_verbosity_6_prints_each_request_as_kubectl(
    server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    client = connect.connect(connect.member_spec("m", server, False, {}), 5)
    log.set_verbosity(6)
    try:
        client.get("/api/v1/namespaces", limit=1)
    finally:
        log.set_verbosity(0)
    line = capsys.readouterr().err.strip()
    klog = r"I\d{4} \d\d:\d\d:\d\d\.\d{6} +\d+ client\.py:\d+\] "
    request = rf"GET {re.escape(server)}/api/v1/namespaces\?limit=1 200 OK in \d+ milliseconds"
    assert re.fullmatch(klog + request, line), line
