"""One path from what names a cluster to a client of it:

    kubeconfig context --context_spec--+
                                       +--> ConnectionSpec --connect--> Transport, ClusterClient
    member's Secret -----member_spec---+

A kubeconfig context is read as kubectl reads it (--kubeconfig, the $KUBECONFIG list,
~/.kube/config; first name wins): this module reads the files, core/kubeconfig.py merges
them and resolves the context. A member's Secret holds KubeAdmiral's credential layout
(core/membership.py). Either becomes a ConnectionSpec, and `connect` opens the one
transport for it. Only users whose identity comes from an exec or auth-provider plugin
are handed to the kubernetes package's loader, which runs the plugin and refreshes its
short-lived tokens; that import (~0.5 s) is paid only then.
"""

from __future__ import annotations

import atexit
import base64
import os
import shutil
import ssl
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from kubectl_fed.core.kubeconfig import (
    ContextNotFound,
    Credentials,
    Target,
    copyable_credentials,
    merge,
    resolve_context,
)
from kubectl_fed.core.membership import credentials_from_secret
from kubectl_fed.core.proxy import proxy_for
from kubectl_fed.errors import FedError
from kubectl_fed.kube.client import ClusterClient
from kubectl_fed.kube.transport import Transport, ssl_context


@dataclass(frozen=True)
class ConnectionSpec:
    """Everything it takes to open a client of one cluster, whatever named it. Never
    printed with its credentials (see Target.__repr__)."""

    target: Target  # server, credentials, TLS and proxy settings, identity plugin
    where: str  # how errors name it: the context, or the server
    kubeconfig: str | None = None  # where a plugin user is defined (contexts only)

    @property
    def name(self) -> str:
        """The client's name: the kubeconfig context, or the member."""
        return self.target.context


def context_spec(kubeconfig: str | None, context: str | None) -> ConnectionSpec:
    """A kubeconfig context (the current one when None), files read, or a one-line FedError."""
    return target_spec(kubeconfig, kubeconfig_target(kubeconfig, context))


def target_spec(kubeconfig: str | None, target: Target) -> ConnectionSpec:
    """An already resolved context (`kubeconfig` is where it came from)."""
    return ConnectionSpec(target, f"context {target.context!r}", kubeconfig)


def member_spec(name: str, server: str, insecure: bool, secret: dict[str, Any]) -> ConnectionSpec:
    """A member whose credentials are stored in the host, from its FederatedCluster's
    endpoint and TLS setting and its Secret."""
    credentials = credentials_from_secret(server, insecure, secret)
    return ConnectionSpec(Target(name, credentials), credentials.server)


def connect(spec: ConnectionSpec, timeout: float | None, pool_size: int = 8) -> ClusterClient:
    """A client for the cluster the spec describes."""
    return ClusterClient(_transport(spec, pool_size), spec.name, timeout)


def connect_context(
    kubeconfig: str | None, context: str | None, timeout: float | None, pool_size: int = 8
) -> ClusterClient:
    """A client for a kubeconfig context (token files and plugins included)."""
    return connect(context_spec(kubeconfig, context), timeout, pool_size)


def connect_target(
    kubeconfig: str | None, target: Target, timeout: float | None, pool_size: int = 8
) -> ClusterClient:
    """A client for an already resolved context (`kubeconfig` is where it came from)."""
    return connect(target_spec(kubeconfig, target), timeout, pool_size)


# --------------------------------------------------------------------------- kubeconfig files


def read_kubeconfigs(kubeconfig: str | None) -> list[tuple[Path, dict[str, Any]]]:
    """The kubeconfig documents kubectl would read: --kubeconfig, $KUBECONFIG list, ~/.kube."""
    raw = kubeconfig or os.environ.get("KUBECONFIG") or str(Path.home() / ".kube" / "config")
    documents = []
    for part in raw.split(os.pathsep):
        if not part:
            continue
        path = Path(part).expanduser()
        try:
            documents.append((path, yaml.safe_load(path.read_text()) or {}))
        except FileNotFoundError:
            if kubeconfig:
                raise FedError(f"kubeconfig {path} does not exist") from None
        except (OSError, yaml.YAMLError) as err:
            raise FedError(f"cannot read kubeconfig {path}: {str(err).splitlines()[0]}") from None
    return documents


def target_for(merged: dict[str, Any], context: str | None) -> Target:
    """What a context of merged kubeconfigs says about reaching its cluster, with the
    files it names (token, certificates) read."""
    return resolve_context(merged, context, Path.read_bytes)


def credentials_for(merged: dict[str, Any], context: str) -> Credentials:
    """Credentials a Secret can hold; NotCopyable for exec / auth-provider users."""
    return copyable_credentials(target_for(merged, context))


def kubeconfig_target(kubeconfig: str | None, context: str | None) -> Target:
    """What a context says about reaching its cluster, or a one-line FedError."""
    merged = merge(read_kubeconfigs(kubeconfig))
    try:
        return target_for(merged, context)
    except ContextNotFound as err:
        raise FedError(str(err)) from None
    except OSError as err:
        raise FedError(f"kubeconfig: context {context!r}: cannot read {err.filename}") from None
    except (ValueError, TypeError) as err:  # e.g. undecodable base64 data
        raise FedError(f"kubeconfig: context {context!r}: {err}") from None


def list_contexts(kubeconfig: str | None) -> tuple[list[str], str | None]:
    """Context names and the current context."""
    merged = merge(read_kubeconfigs(kubeconfig))
    return list(merged["contexts"]), merged["current"]


# --------------------------------------------------------------------------- transports


def _transport(spec: ConnectionSpec, pool_size: int) -> Transport:
    target = spec.target
    if target.plugin:
        return _plugin_transport(spec, pool_size)
    credentials = target.credentials
    headers: dict[str, str] = {}
    if credentials.token:
        headers["Authorization"] = f"Bearer {credentials.token}"
    elif target.basic_auth:
        pair = ":".join(target.basic_auth).encode()
        headers["Authorization"] = f"Basic {base64.b64encode(pair).decode()}"
    cert_file = key_file = None
    if credentials.cert_data and credentials.key_data:
        cert_file, key_file = _private(credentials.cert_data), _private(credentials.key_data)
    try:
        context = ssl_context(
            ca_data=credentials.ca_data,
            cert_file=cert_file,
            key_file=key_file,
            insecure=credentials.insecure,
        )
        return Transport(
            credentials.server,
            context,
            lambda: headers,
            server_hostname=target.tls_server_name,
            proxy=proxy_for(credentials.server, target.proxy_url, os.environ),
            pool_size=pool_size,
        )
    except (ssl.SSLError, ValueError) as err:
        raise FedError(f"{spec.where}: unusable TLS or server settings: {err}") from None


def _plugin_transport(spec: ConnectionSpec, pool_size: int) -> Transport:
    """Let the kubernetes package run the user's exec / auth-provider plugin; its
    refresh hook keeps the token current on every request."""
    import kubernetes.client as k8s
    import kubernetes.config as k8s_config

    target = spec.target
    configuration = k8s.Configuration()
    try:
        k8s_config.load_kube_config(
            config_file=spec.kubeconfig,
            context=target.context,
            client_configuration=configuration,
            persist_config=False,
        )
    except (k8s_config.ConfigException, OSError, ValueError) as err:
        message = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise FedError(f"kubeconfig: context {target.context!r}: {message}") from None

    def headers() -> dict[str, str]:
        token = configuration.auth_settings().get("BearerToken")
        return {"Authorization": str(token["value"])} if token else {}

    context = ssl_context(
        ca_file=configuration.ssl_ca_cert,
        cert_file=configuration.cert_file,
        key_file=configuration.key_file,
        insecure=not configuration.verify_ssl,
    )
    return Transport(
        str(configuration.host),
        context,
        headers,
        server_hostname=target.tls_server_name,
        proxy=proxy_for(str(configuration.host), target.proxy_url, os.environ),
        pool_size=pool_size,
    )


# --------------------------------------------------------------------------- key files


def _private(data: bytes) -> str:
    """ssl loads client certificates and keys only from files: write each one once into
    a per-process 0700 directory that is removed at exit (a long `sync` reconnects to
    its members every pass)."""
    with _PRIVATE_LOCK:
        path = _PRIVATE_FILES.get(data)
        if path is None:
            fd, path = tempfile.mkstemp(dir=_private_dir())
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            _PRIVATE_FILES[data] = path
        return path


def _private_dir() -> Path:
    global _PRIVATE_DIR
    if _PRIVATE_DIR is None:
        _PRIVATE_DIR = Path(tempfile.mkdtemp(prefix="kubectl-fed-"))
        atexit.register(shutil.rmtree, _PRIVATE_DIR, True)
    return _PRIVATE_DIR


_PRIVATE_DIR: Path | None = None
_PRIVATE_FILES: dict[bytes, str] = {}
_PRIVATE_LOCK = threading.Lock()
