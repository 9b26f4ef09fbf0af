from __future__ import annotations

import base64
from pathlib import Path

import pytest

from kubectl_fed.core.kubeconfig import ContextNotFound, NotCopyable, merge
from kubectl_fed.kube.connect import credentials_for, target_for

CA = base64.b64encode(b"CA").decode()


def config(user: dict[str, object], cluster: dict[str, object] | None = None) -> dict[str, object]:
    return {
        "clusters": [
            {
                "name": "c",
                "cluster": cluster
                or {"server": "https://x:6443", "certificate-authority-data": CA},
            }
        ],
        "users": [{"name": "u", "user": user}],
        "contexts": [{"name": "ctx", "context": {"cluster": "c", "user": "u"}}],
    }


def test_token_and_inline_data() -> None:
    creds = credentials_for(merge([(Path("/k"), config({"token": "t0k"}))]), "ctx")
    assert creds.server == "https://x:6443" and creds.ca_data == b"CA" and creds.token == "t0k"
    assert "t0k" not in repr(creds)


def test_files_resolve_relative_to_their_kubeconfig(tmp_path: Path) -> None:
    (tmp_path / "cert.pem").write_text("CERT")
    (tmp_path / "key.pem").write_text("KEY")
    (tmp_path / "ca.pem").write_text("CAFILE")
    doc = config(
        {"client-certificate": "cert.pem", "client-key": "key.pem"},
        {
            "server": "https://y",
            "certificate-authority": "ca.pem",
            "insecure-skip-tls-verify": True,
        },
    )
    creds = credentials_for(merge([(tmp_path / "config", doc)]), "ctx")
    assert (creds.cert_data, creds.key_data, creds.ca_data) == (b"CERT", b"KEY", b"CAFILE")
    assert creds.insecure


@pytest.mark.parametrize(
    "user", [{"exec": {"command": "aws"}}, {"auth-provider": {"name": "x"}}, {}]
)
def test_dynamic_credentials_must_be_local(user: dict[str, object]) -> None:
    with pytest.raises(NotCopyable, match="--credentials local"):
        credentials_for(merge([(Path("/k"), config(user))]), "ctx")


def test_first_file_wins_and_missing_context() -> None:
    first = config({"token": "first"})
    second = config({"token": "second"})
    merged = merge([(Path("/a"), first), (Path("/b"), second)])
    assert credentials_for(merged, "ctx").token == "first"
    with pytest.raises(ContextNotFound):
        credentials_for(merged, "other")


def test_target_carries_connection_settings_and_plugin(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("from-file\n")
    doc = config(
        {"tokenFile": "token", "exec": {"command": "aws"}},
        {"server": "https://z", "tls-server-name": "api.z", "proxy-url": "http://proxy:3128"},
    )
    target = target_for(merge([(tmp_path / "config", doc)]), "ctx")
    assert target.context == "ctx" and target.plugin == "exec"
    assert target.credentials.token == "from-file"
    assert (target.tls_server_name, target.proxy_url) == ("api.z", "http://proxy:3128")
    assert "from-file" not in repr(target)


def test_target_defaults_to_current_context_and_basic_auth() -> None:
    doc = {**config({"username": "ann", "password": "pw"}), "current-context": "ctx"}
    target = target_for(merge([(Path("/k"), doc)]), None)
    assert target.context == "ctx" and target.basic_auth == ("ann", "pw")
    assert target.plugin is None and "pw" not in repr(target)
    with pytest.raises(ContextNotFound, match="no current-context"):
        target_for(merge([(Path("/k"), config({}))]), None)
