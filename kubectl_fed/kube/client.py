"""One Kubernetes API connection per cluster, speaking raw JSON dicts.

This module (with the rest of ``kube/``) is the only place that imports the
``kubernetes`` package. Typed models are skipped on purpose: raw dicts are
what the core works with, and deserialising large lists into models is slow.
"""

from __future__ import annotations

import atexit
import copy
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import kubernetes.client as k8s
import kubernetes.config as k8s_config
import urllib3

from kubectl_fed.core.kubeconfig import Credentials
from kubectl_fed.kube.errors import (
    ApiError,
    Unreachable,
    from_api_exception,
)

FIELD_MANAGER = "kubectl-fed"
TRACE = bool(os.environ.get("KUBECTL_FED_TRACE"))
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
RETRIES = 4


class Kube:
    """A connection to one cluster with request accounting and retries."""

    def __init__(self, api: k8s.ApiClient, name: str, timeout: float | None) -> None:
        self.api = api
        self.name = name
        self.timeout = timeout
        self.server = str(api.configuration.host)
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._discovery: list[dict[str, Any]] | None = None

    # ------------------------------------------------------------------ basics

    @property
    def writes(self) -> int:
        return sum(n for method, n in self.counts.items() if method in MUTATING)

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        query: dict[str, Any] | None = None,
        content_type: str = "application/json",
        accept: str = "application/json",
        timeout: float | None = None,
    ) -> Any:
        """Send one request; retry 429/5xx with backoff (honouring Retry-After)."""
        attempt = 0
        while True:
            try:
                return self._send(method, path, body, query, content_type, accept, timeout)
            except ApiError as err:
                attempt += 1
                if not err.retryable or attempt >= RETRIES:
                    raise
                time.sleep(err.retry_after or min(0.2 * 2**attempt, 2.0))

    def _send(
        self,
        method: str,
        path: str,
        body: Any,
        query: dict[str, Any] | None,
        content_type: str,
        accept: str,
        timeout: float | None,
    ) -> Any:
        with self._lock:
            self.counts[method] += 1
        if TRACE:  # method and path only: bodies may hold credentials
            print(f"trace: {self.name} {method} {path}", file=sys.stderr)
        params = [(k, v) for k, v in (query or {}).items() if v is not None]
        headers = {"Accept": accept, "Content-Type": content_type}
        try:
            response = self.api.call_api(
                path,
                method,
                query_params=params,
                header_params=headers,
                body=body,
                auth_settings=["BearerToken"],
                _preload_content=False,
                _return_http_data_only=True,
                _request_timeout=timeout or self.timeout,
            )
        except k8s.ApiException as err:
            raise from_api_exception(err, method, path, self.name) from None
        except (urllib3.exceptions.HTTPError, OSError) as err:
            raise Unreachable(self.name, self.server, err) from None
        data = response.data
        return json.loads(data) if data else None

    def get(self, path: str, **query: Any) -> Any:
        return self.request("GET", path, query=query)

    def create(self, path: str, body: dict[str, Any], dry_run: bool = False) -> Any:
        return self.request("POST", path, body=body, query=_dry(dry_run))

    def replace(self, path: str, body: dict[str, Any], dry_run: bool = False) -> Any:
        return self.request("PUT", path, body=body, query=_dry(dry_run))

    def merge_patch(self, path: str, patch: dict[str, Any], dry_run: bool = False) -> Any:
        return self.request(
            "PATCH",
            path,
            body=patch,
            content_type="application/merge-patch+json",
            query=_dry(dry_run),
        )

    def apply(
        self,
        path: str,
        body: dict[str, Any],
        *,
        force: bool = True,
        dry_run: bool = False,
        field_manager: str = FIELD_MANAGER,
    ) -> Any:
        """Server-side apply (the object's own path, not its collection)."""
        query: dict[str, Any] = {"fieldManager": field_manager, "force": str(force).lower()}
        query.update(_dry(dry_run))
        return self.request(
            "PATCH", path, body=body, content_type="application/apply-patch+yaml", query=query
        )

    def delete(self, path: str, *, propagation: str | None = "Background") -> Any:
        body = {"propagationPolicy": propagation} if propagation else None
        return self.request("DELETE", path, body=body)

    def server_version(self) -> str:
        return str(self.get("/version").get("gitVersion", "unknown"))

    def list_all(self, path: str, **query: Any) -> Iterator[dict[str, Any]]:
        """Items of a list, following `continue` tokens in pages of 500."""
        token: str | None = None
        while True:
            page = self.get(path, limit=500, **{"continue": token}, **query)
            # List items carry no apiVersion/kind; the list says what they are.
            kind = str(page.get("kind", "")).removesuffix("List")
            for item in page.get("items") or []:
                item.setdefault("apiVersion", page.get("apiVersion"))
                item.setdefault("kind", kind)
                yield item
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                return

    def watch(
        self, path: str, resource_version: str, timeout_s: int = 300, **query: Any
    ) -> Iterator[dict[str, Any]]:
        """Watch events from a resourceVersion; BOOKMARKs are yielded for resume points."""
        params = [
            ("watch", "true"),
            ("resourceVersion", resource_version),
            ("allowWatchBookmarks", "true"),
            ("timeoutSeconds", str(timeout_s)),
            *((k, v) for k, v in query.items() if v is not None),
        ]
        try:
            response = self.api.call_api(
                path,
                "GET",
                query_params=params,
                header_params={"Accept": "application/json"},
                auth_settings=["BearerToken"],
                _preload_content=False,
                _return_http_data_only=True,
                _request_timeout=(self.timeout, timeout_s + 30),
            )
        except k8s.ApiException as err:
            raise from_api_exception(err, "WATCH", path, self.name) from None
        except (urllib3.exceptions.HTTPError, OSError) as err:
            raise Unreachable(self.name, self.server, err) from None
        try:
            for line in response.stream(decode_content=True):
                yield from _watch_lines(line)
        except (urllib3.exceptions.HTTPError, OSError) as err:
            raise Unreachable(self.name, self.server, err) from None
        finally:
            response.release_conn()

    # ------------------------------------------------------------------ discovery

    def api_resources(self, refresh: bool = False) -> list[dict[str, Any]]:
        """Every served resource: {group, version, kind, plural, singular, namespaced,
        shortNames, verbs}, preferred versions first."""
        if self._discovery is None or refresh:
            self._discovery = _discover(self)
        return self._discovery

    def clone(self, pool_size: int) -> Kube:
        """Another connection to the same cluster with its own pool (for long watches,
        which would otherwise hold the connections the work needs)."""
        configuration = copy.copy(self.api.configuration)
        configuration.connection_pool_maxsize = pool_size
        return Kube(k8s.ApiClient(configuration), self.name, self.timeout)

    def close(self) -> None:
        self.api.close()


def _dry(dry_run: bool) -> dict[str, Any]:
    return {"dryRun": "All"} if dry_run else {}


def _watch_lines(chunk: bytes | str) -> Iterator[dict[str, Any]]:
    text = chunk.decode() if isinstance(chunk, bytes) else chunk
    for line in text.splitlines():
        if line.strip():
            yield json.loads(line)


def _discover(kube: Kube) -> list[dict[str, Any]]:
    """Aggregated discovery (one request per root) when served, else the legacy walk."""
    aggregated = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    found: list[dict[str, Any]] = []
    for root, legacy in (("/api", True), ("/apis", False)):
        body = kube.request("GET", root, accept=f"{aggregated},application/json")
        if body.get("kind") == "APIGroupDiscoveryList":
            found.extend(_from_aggregated(body, legacy))
        else:
            found.extend(_from_legacy(kube, body, legacy))
    return found


def _from_aggregated(body: dict[str, Any], legacy: bool) -> list[dict[str, Any]]:
    out = []
    for group in body.get("items") or []:
        group_name = "" if legacy else group["metadata"]["name"]
        for version in group.get("versions") or []:
            for res in version.get("resources") or []:
                out.append(
                    {
                        "group": group_name,
                        "version": version["version"],
                        "kind": (res.get("responseKind") or {}).get("kind", ""),
                        "plural": res["resource"],
                        "singular": res.get("singularResource", ""),
                        "namespaced": res.get("scope") == "Namespaced",
                        "shortNames": res.get("shortNames") or [],
                        "verbs": res.get("verbs") or [],
                        "subresources": [s["subresource"] for s in res.get("subresources") or []],
                    }
                )
    return out


def _from_legacy(kube: Kube, body: dict[str, Any], legacy: bool) -> list[dict[str, Any]]:
    if legacy:
        paths = [("", v, f"/api/{v}") for v in body.get("versions", [])]
    else:
        paths = [
            (g["name"], v["version"], f"/apis/{v['groupVersion']}")
            for g in body.get("groups", [])
            for v in g.get("versions", [])
        ]
    out = []
    for group, version, path in paths:
        resources = kube.get(path).get("resources") or []
        subresources: dict[str, list[str]] = {}
        for res in resources:
            base, _, sub = res["name"].partition("/")
            if sub:
                subresources.setdefault(base, []).append(sub)
        for res in resources:
            if "/" in res["name"]:
                continue
            out.append(
                {
                    "group": group,
                    "version": version,
                    "kind": res["kind"],
                    "plural": res["name"],
                    "singular": res.get("singularName", ""),
                    "namespaced": res["namespaced"],
                    "shortNames": res.get("shortNames") or [],
                    "verbs": res.get("verbs") or [],
                    "subresources": subresources.get(res["name"], []),
                }
            )
    return out


# --------------------------------------------------------------------------- connecting


def _private_dir() -> Path:
    """Per-process 0700 directory for certificate files the client insists on."""
    global _PRIVATE_DIR
    if _PRIVATE_DIR is None:
        _PRIVATE_DIR = Path(tempfile.mkdtemp(prefix="kubectl-fed-"))
        atexit.register(shutil.rmtree, _PRIVATE_DIR, True)
    return _PRIVATE_DIR


_PRIVATE_DIR: Path | None = None


def _write_private(data: bytes) -> str:
    fd, path = tempfile.mkstemp(dir=_private_dir())
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    return path


def _tune(configuration: k8s.Configuration, pool_size: int) -> None:
    # Quiet urllib3's retry chatter; retries are ours, with backoff.
    configuration.retries = False
    configuration.connection_pool_maxsize = pool_size


def connect_context(
    kubeconfig: str | None, context: str | None, timeout: float | None, pool_size: int = 8
) -> Kube:
    """A client for a kubeconfig context (exec plugins and token files included)."""
    configuration = k8s.Configuration()
    _tune(configuration, pool_size)
    try:
        api = k8s_config.new_client_from_config(
            config_file=kubeconfig,
            context=context,
            persist_config=False,
            client_configuration=configuration,
        )
    except k8s_config.ConfigException as err:
        raise_config_error(err, kubeconfig, context)
    return Kube(api, context or "current-context", timeout)


def connect_credentials(
    name: str, credentials: Credentials, timeout: float | None, pool_size: int = 8
) -> Kube:
    """A client for a member whose credentials were stored in the host."""
    configuration = k8s.Configuration()
    _tune(configuration, pool_size)
    configuration.host = credentials.server
    configuration.verify_ssl = not credentials.insecure
    if credentials.ca_data:
        configuration.ssl_ca_cert = _write_private(credentials.ca_data)
    if credentials.cert_data and credentials.key_data:
        configuration.cert_file = _write_private(credentials.cert_data)
        configuration.key_file = _write_private(credentials.key_data)
    if credentials.token:
        configuration.api_key = {"authorization": f"Bearer {credentials.token}"}
    return Kube(k8s.ApiClient(configuration), name, timeout)


def raise_config_error(err: Exception, kubeconfig: str | None, context: str | None) -> Any:
    from kubectl_fed.errors import FedError

    message = str(err).split("\n")[0]
    if context and "context" in message.lower() and "not found" in message.lower():
        message = f"context {context!r} not found in {kubeconfig or 'the kubeconfig'}"
    raise FedError(f"kubeconfig: {message}")


def list_contexts(kubeconfig: str | None) -> tuple[list[dict[str, Any]], str | None]:
    try:
        contexts, current = k8s_config.list_kube_config_contexts(config_file=kubeconfig)
    except k8s_config.ConfigException as err:
        raise_config_error(err, kubeconfig, None)
    return list(contexts), (current or {}).get("name")


def path_for(
    resource: dict[str, Any], namespace: str | None = None, name: str | None = None
) -> str:
    """REST path of a collection or object of a discovered resource."""
    group, version = resource["group"], resource["version"]
    base = f"/apis/{group}/{version}" if group else f"/api/{version}"
    if resource["namespaced"] and namespace:
        base += f"/namespaces/{quote(namespace)}"
    base += f"/{resource['plural']}"
    return f"{base}/{quote(name)}" if name else base
