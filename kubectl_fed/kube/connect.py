"""From kubeconfig contexts and stored member credentials to a connected Kube.

kubectl-fed reads kubeconfig files itself (as kubectl does: --kubeconfig, the
$KUBECONFIG list, ~/.kube/config; first name wins). Only users whose identity
comes from an exec or auth-provider plugin are handed to the kubernetes
package's loader, which runs the plugin and refreshes its short-lived tokens;
that import (~0.5 s) is paid only then.
"""

from __future__ import annotations

import atexit
import base64
import os
import shutil
import ssl
import tempfile
import threading
from pathlib import Path
from typing import Any

import yaml

from kubectl_fed.core.kubeconfig import ContextNotFound, Credentials, Target, merge, target_for
from kubectl_fed.core.proxy import proxy_for
from kubectl_fed.errors import FedError
from kubectl_fed.kube.client import Kube
from kubectl_fed.kube.transport import Transport, ssl_context


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


def connect_context(
    kubeconfig: str | None, context: str | None, timeout: float | None, pool_size: int = 8
) -> Kube:
    """A client for a kubeconfig context (token files and plugins included)."""
    return connect_target(kubeconfig, kubeconfig_target(kubeconfig, context), timeout, pool_size)


def connect_target(
    kubeconfig: str | None, target: Target, timeout: float | None, pool_size: int = 8
) -> Kube:
    """A client for an already resolved context (`kubeconfig` is where it came from)."""
    if target.plugin:
        transport = _plugin_transport(kubeconfig, target, pool_size)
    else:
        transport = _transport(target.credentials, pool_size, target)
    return Kube(transport, target.context, timeout)


def connect_credentials(
    name: str, credentials: Credentials, timeout: float | None, pool_size: int = 8
) -> Kube:
    """A client for a member whose credentials were stored in the host."""
    return Kube(_transport(credentials, pool_size), name, timeout)


def _transport(credentials: Credentials, pool_size: int, target: Target | None = None) -> Transport:
    headers: dict[str, str] = {}
    if credentials.token:
        headers["Authorization"] = f"Bearer {credentials.token}"
    elif target and target.basic_auth:
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
            server_hostname=target.tls_server_name if target else None,
            proxy=proxy_for(credentials.server, target.proxy_url if target else None, os.environ),
            pool_size=pool_size,
        )
    except (ssl.SSLError, ValueError) as err:
        where = f"context {target.context!r}" if target else credentials.server
        raise FedError(f"{where}: unusable TLS or server settings: {err}") from None


def _plugin_transport(kubeconfig: str | None, target: Target, pool_size: int) -> Transport:
    """Let the kubernetes package run the user's exec / auth-provider plugin; its
    refresh hook keeps the token current on every request."""
    import kubernetes.client as k8s
    import kubernetes.config as k8s_config

    configuration = k8s.Configuration()
    try:
        k8s_config.load_kube_config(
            config_file=kubeconfig,
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
