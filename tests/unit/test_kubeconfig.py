from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from kubectl_fed.core.kubeconfig import (
    ContextNotFound,
    Impersonation,
    NotCopyable,
    Overrides,
    Target,
    merge,
    resolve_context,
)
from kubectl_fed.core.kubeconfig_checks import KubeconfigError, check_document
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
        {"server": "https://y", "certificate-authority": "ca.pem"},
    )
    creds = credentials_for(merge([(tmp_path / "config", doc)]), "ctx")
    assert (creds.cert_data, creds.key_data, creds.ca_data) == (b"CERT", b"KEY", b"CAFILE")
    assert not creds.insecure


EXEC = {"command": "aws", "apiVersion": "client.authentication.k8s.io/v1beta1"}


@pytest.mark.parametrize("user", [{"exec": EXEC}, {"auth-provider": {"name": "x"}}, {}])
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
        {"tokenFile": "token", "exec": EXEC},
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


# --------------------------------------------------------------------------- as kubectl does
# Each case below was run through kubectl v1.32 too; the messages are its reasons.


def resolve(doc: dict[str, Any], **overrides: Any) -> Target:
    return target_for(merge([(Path("/k/config"), doc)]), "ctx", Overrides(**overrides))


def refusal(doc: dict[str, Any], **overrides: Any) -> str:
    with pytest.raises(KubeconfigError) as caught:
        resolve(doc, **overrides)
    return str(caught.value)


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ([{"clusters": []}], "the document is a list, not a kubeconfig (a mapping)"),
        ("hello", "the document is a string, not a kubeconfig (a mapping)"),
        ({"clusters": 3}, "clusters: expected a list of named clusters, not a number"),
        (
            {"users": [{"name": "u", "user": 5}]},
            'users: user "u": expected a mapping, not a number',
        ),
        ({"users": [{"name": "u", "user": {"token": 123}}]}, "token: expected a string"),
        ({"contexts": [{"name": "a"}, {"name": "a"}]}, 'duplicate name "a" in contexts'),
        ({"users": [{"name": "a", "user": {}}, {"name": "a"}]}, 'duplicate name "a" in users'),
        ({"clusters": [{"name": "a"}, {"name": "a"}]}, 'duplicate name "a" in clusters'),
        (
            {"clusters": [{"name": "a", "cluster": {"certificate-authority-data": "x"}}]},
            "certificate-authority-data: illegal base64 data",
        ),
        (
            {"users": [{"name": "u", "user": {"exec": {"command": "x", "env": 5}}}]},
            "exec: env: expected a list of name and value strings",
        ),
        (
            {"users": [{"name": "u", "user": {"as-user-extra": {"k": "v"}}}]},
            "as-user-extra: expected lists of strings",
        ),
    ],
)
def test_a_file_kubectl_cannot_load_is_one_line_naming_it(document: object, reason: str) -> None:
    with pytest.raises(KubeconfigError) as caught:
        check_document("dup.yaml", document)
    message = str(caught.value)
    assert message.startswith('error loading config file "dup.yaml": ') and reason in message
    assert "\n" not in message


def test_the_same_name_in_two_files_is_no_error_first_wins() -> None:
    first, second = check_document("a", config({"token": "1"})), check_document("b", config({}))
    assert credentials_for(merge([(Path("/a"), first), (Path("/b"), second)]), "ctx").token == "1"


@pytest.mark.parametrize(
    ("user", "cluster", "reason"),
    [
        (
            {"token": "t", "username": "u", "password": "p"},
            None,
            "more than one authentication method found for u; found [token basicAuth], only "
            "one is allowed",
        ),
        (
            {"token": "t"},
            {
                "server": "https://x",
                "certificate-authority": "/dev/null",
                "certificate-authority-data": CA,
            },
            "certificate-authority-data and certificate-authority are both specified for c. "
            "certificate-authority-data will override.",
        ),
        (
            {"token": "t"},
            {
                "server": "https://x",
                "certificate-authority-data": CA,
                "insecure-skip-tls-verify": True,
            },
            "specifying a root certificates file with the insecure flag is not allowed",
        ),
        (
            {"token": "t", "as-groups": ["g"]},
            None,
            "requesting uid, groups or user-extra for u without impersonating a user",
        ),
        (
            {"exec": {"command": "x", "apiVersion": "client.authentication.k8s.io/v1"}},
            None,
            "interactiveMode must be specified for u to use exec authentication plugin",
        ),
        (
            {
                "exec": {
                    "command": "x",
                    "apiVersion": "client.authentication.k8s.io/v1",
                    "interactiveMode": "Always",
                }
            },
            None,
            "getting credentials: exec plugin cannot support interactive mode: standard input "
            "is not a terminal",
        ),
        (
            {"tokenFile": "/nowhere/token"},
            None,
            "open /nowhere/token: no such file or directory",
        ),
        (
            {"client-certificate-data": CA},
            None,
            "client-key-data or client-key must be specified for u to use the clientCert "
            "authentication method.",
        ),
    ],
)
def test_refusals_are_kubectls(
    user: dict[str, object], cluster: dict[str, object] | None, reason: str
) -> None:
    assert refusal(config(user, cluster)) == reason


def test_several_problems_are_one_line() -> None:
    doc = config(
        {"token": "t", "username": "u"},
        {"server": "https://x", "certificate-authority": "/ca", "certificate-authority-data": CA},
    )
    message = refusal(doc)
    assert message.startswith("error in configuration: more than one authentication")
    assert "certificate-authority-data and certificate-authority" in message


def test_exec_plugins_kubectl_runs() -> None:
    legacy = {"command": "x", "apiVersion": "client.authentication.k8s.io/v1beta1"}
    assert resolve(config({"exec": legacy})).runs_plugin
    always = {
        **legacy,
        "apiVersion": "client.authentication.k8s.io/v1",
        "interactiveMode": "Always",
    }
    merged = merge([(Path("/k"), config({"exec": always}))])
    terminal = resolve_context(merged, "ctx", Path.read_bytes, stdin_is_terminal=True)
    assert terminal.runs_plugin
    # A token sets Authorization: the plugin is never asked, terminal or not.
    with_token = resolve(config({"exec": always, "token": "t"}))
    assert not with_token.runs_plugin
    assert "invalid interactiveMode for u" in refusal(
        config({"exec": {**always, "interactiveMode": "Sometimes"}})
    )


def test_tilde_is_not_expanded_relative_paths_are_the_files(tmp_path: Path) -> None:
    doc = config({"token": "t"}, {"server": "https://x", "certificate-authority": "~/ca.crt"})
    with pytest.raises(KubeconfigError) as caught:
        target_for(merge([(tmp_path / "config", doc)]), "ctx")
    where = tmp_path / "~" / "ca.crt"
    assert str(caught.value) == (
        f"unable to read certificate-authority {where} for c due to open {where}: "
        "no such file or directory"
    )


def test_token_file_wins_over_token_and_is_kept_for_rereading(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("from-file\n")
    target = target_for(
        merge([(tmp_path / "config", config({"token": "inline", "tokenFile": "token"}))]), "ctx"
    )
    # The inline token is the fallback; the file is read for every request (kube/connect).
    assert target.credentials.token == "inline"
    assert target.token_file == str(tmp_path / "token")


def test_overrides_apply_as_kubectls_flags(tmp_path: Path) -> None:
    doc = {
        "clusters": [
            {"name": "c", "cluster": {"server": "https://x", "tls-server-name": "api.x"}},
            {
                "name": "other",
                "cluster": {"server": "https://other", "certificate-authority-data": CA},
            },
        ],
        "users": [{"name": "u", "user": {"token": "t"}}, {"name": "v", "user": {"token": "v"}}],
        "contexts": [
            {"name": "ctx", "context": {"cluster": "c", "user": "u", "namespace": "shop"}}
        ],
    }
    plain = resolve(doc)
    assert (plain.credentials.server, plain.tls_server_name, plain.namespace) == (
        "https://x",
        "api.x",
        "shop",
    )
    # --server replaces the server and clears tls-server-name unless given too.
    moved = resolve(doc, server="https://y:6443")
    assert (moved.credentials.server, moved.tls_server_name) == ("https://y:6443", None)
    named = resolve(doc, server="https://y", tls_server_name="kubernetes")
    assert named.tls_server_name == "kubernetes"
    # --cluster and --user pick other entries; -n the namespace.
    other = resolve(doc, cluster="other", user="v", namespace="web")
    assert other.credentials.server == "https://other" and other.credentials.token == "v"
    assert other.namespace == "web"
    assert refusal(doc, user="nobody") == 'auth info "nobody" does not exist'
    assert refusal(doc, cluster="nowhere") == 'no server found for cluster "nowhere"'
    # --insecure-skip-tls-verify clears the kubeconfig's CA instead of clashing with it.
    insecure = resolve(doc, cluster="other", insecure=True)
    assert insecure.credentials.insecure and insecure.credentials.ca_data is None
    # --token over a basic-auth user: two methods, refused as kubectl does.
    basic = config({"username": "ann", "password": "pw"})
    assert "more than one authentication method" in refusal(basic, token="t")
    # --as-group alone: refused.
    assert "without impersonating a user" in refusal(doc, impersonate_groups=("g",))


def test_impersonation_from_kubeconfig_and_flags() -> None:
    user: dict[str, object] = {
        "token": "t",
        "as": "jane",
        "as-uid": "42",
        "as-groups": ["dev", "ops"],
        "as-user-extra": {"example.com/scopes": ["a", "b"]},
    }
    found = resolve(config(user)).impersonation
    assert found is not None
    assert found.headers() == [
        ("Impersonate-User", "jane"),
        ("Impersonate-Uid", "42"),
        ("Impersonate-Group", "dev"),
        ("Impersonate-Group", "ops"),
        ("Impersonate-Extra-example.com%2Fscopes", "a"),
        ("Impersonate-Extra-example.com%2Fscopes", "b"),
    ]
    flags = resolve(
        config(user), impersonate="bob", impersonate_groups=("g",), impersonate_uid="7"
    ).impersonation
    assert flags is not None
    assert (flags.user, flags.uid, flags.groups) == ("bob", "7", ("g",))
    assert Impersonation("x").headers() == [("Impersonate-User", "x")]
    with pytest.raises(NotCopyable, match="impersonates 'jane'"):
        credentials_for(merge([(Path("/k"), config(user))]), "ctx")


def test_no_credentials_over_plain_http() -> None:
    doc = config({"token": "t", "as": "jane"}, {"server": "http://x:8080"})
    target = resolve(doc)
    assert target.credentials.token is None and target.dropped_credentials
    assert target.impersonation and target.impersonation.user == "jane"  # still sent
    plain = config({"token": "t"}, {"server": "http://x:8080"})
    with pytest.raises(NotCopyable, match="plain http"):
        credentials_for(merge([(Path("/k"), plain)]), "ctx")
    # A server without a scheme is http, as client-go reads it.
    bare = resolve(config({"token": "t"}, {"server": "127.0.0.1:6443"}))
    assert bare.credentials.server == "http://127.0.0.1:6443" and bare.dropped_credentials


def test_context_namespace_defaults_to_default() -> None:
    assert resolve(config({"token": "t"})).namespace == "default"
    assert resolve(config({"token": "t"}), namespace="x").namespace == "x"
