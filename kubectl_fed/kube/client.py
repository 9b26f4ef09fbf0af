"""One Kubernetes API connection per cluster, speaking raw JSON dicts.

Typed models are skipped on purpose: raw dicts are what the core works with, and
deserialising large lists into models is slow. Requests go through transport.py;
connect.py turns kubeconfig contexts and stored credentials into a ClusterClient.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote, urlencode

from kubectl_fed import __version__
from kubectl_fed.core.marks import FIELD_MANAGER
from kubectl_fed.kube import log
from kubectl_fed.kube.errors import ApiError, NotFound, Unreachable, from_response
from kubectl_fed.kube.transport import Response, Transport, TransportError

# Also names the field manager of writes that do not pass one (create, merge patch).
USER_AGENT = f"kubectl-fed/{__version__}"
TRACE = bool(os.environ.get("KUBECTL_FED_TRACE"))
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
RETRIES = 4


class ClusterClient:
    """A client of one cluster (the host or a member): requests with accounting, retries
    and the sync lease's fence, discovery, lists and watches."""

    def __init__(self, transport: Transport, name: str, timeout: float | None) -> None:
        self.transport = transport
        self.name = name
        self.timeout = timeout
        self.server = transport.server
        self.counts: Counter[str] = Counter()
        # Called before every mutating request; raises to stop it (sync's lease fence).
        self.fence: Callable[[], None] | None = None
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
        if self.fence is not None and method in MUTATING:
            self.fence()
        with self._lock:
            self.counts[method] += 1
        if TRACE:  # method and path only: bodies may hold credentials
            print(f"trace: {self.name} {method} {path}", file=sys.stderr)
        headers = {"Accept": accept, "User-Agent": USER_AGENT}
        payload = None
        if body is not None:
            headers["Content-Type"] = content_type
            payload = json.dumps(body, separators=(",", ":")).encode()
        target = _target(path, query)
        started = time.monotonic()
        try:
            response = self.transport.request(
                method, target, headers, payload, timeout or self.timeout
            )
        except TransportError as err:
            self._log(method, target, None, started)
            raise Unreachable(self.name, self.server, err.cause) from None
        self._log(method, target, response, started)
        _raise_for_status(response, method, path, self.name)
        return json.loads(response.data) if response.data else None

    def _log(self, method: str, target: str, response: Response | None, started: float) -> None:
        """kubectl's -v=6 line for one request (URL, status, duration; nothing else)."""
        if log.enabled(6):
            status = f"{response.status} {response.reason}" if response else ""
            log.request(method, self.transport.url(target), status, time.monotonic() - started)

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
        params = {
            "watch": "true",
            "resourceVersion": resource_version,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(timeout_s),
            **query,
        }
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        target = _target(path, params)
        started = time.monotonic()
        try:
            try:
                head, lines = self.transport.stream(target, headers, self.timeout, timeout_s + 30)
            except TransportError:
                self._log("GET", target, None, started)
                raise
            self._log("GET", target, head, started)
            _raise_for_status(head, "WATCH", path, self.name)
            for line in lines:
                if line.strip():
                    yield json.loads(line)
        except TransportError as err:
            raise Unreachable(self.name, self.server, err.cause) from None

    # ------------------------------------------------------------------ discovery

    def api_resources(self, refresh: bool = False) -> list[dict[str, Any]]:
        """Every served resource: {group, version, kind, plural, singular, namespaced,
        shortNames, verbs}, preferred versions first."""
        if self._discovery is None or refresh:
            self._discovery = _discover(self)
        return self._discovery

    def clone(self, pool_size: int) -> ClusterClient:
        """Another connection to the same cluster with its own pool (for long watches,
        which would otherwise hold the connections the work needs)."""
        twin = ClusterClient(self.transport.clone(pool_size), self.name, self.timeout)
        twin.fence = self.fence
        return twin

    def close(self) -> None:
        self.transport.close()


def namespace_contents(
    kube: ClusterClient, namespace: str, counted: Callable[[str, str], bool]
) -> tuple[dict[str, list[dict[str, Any]]], list[str]]:
    """Everything in a namespace, of every listable namespaced resource the cluster serves
    that `counted(group, plural)` asks for, as the namespace controller would find it:
    `plural.group` -> objects. Second: the resources that could not be listed (a caller
    deciding to delete the namespace cannot tell what they hold), by name. Unreachable
    propagates."""
    found: dict[str, list[dict[str, Any]]] = {}
    unreadable = []
    seen = set()
    for res in kube.api_resources():
        group, plural = res["group"], res["plural"]
        if (
            (group, plural) in seen
            or not res["namespaced"]
            or "list" not in res["verbs"]
            or not counted(group, plural)
        ):
            continue
        seen.add((group, plural))
        resource = f"{plural}.{group}" if group else plural
        spec = {"group": group, "version": res["version"], "plural": plural, "namespaced": True}
        try:
            found[resource] = list(kube.list_all(path_for(spec, namespace)))
        except NotFound:
            continue  # not served after all
        except Unreachable:
            raise
        except ApiError:
            unreadable.append(resource)  # refused (RBAC), or failing: what it holds is unknown
    return found, unreadable


def _target(path: str, query: dict[str, Any] | None) -> str:
    params = [(k, v) for k, v in (query or {}).items() if v is not None]
    return f"{path}?{urlencode(params)}" if params else path


def _raise_for_status(response: Response, method: str, path: str, cluster: str) -> None:
    if not 200 <= response.status < 300:
        raise from_response(response, method, path, cluster)


def _dry(dry_run: bool) -> dict[str, Any]:
    return {"dryRun": "All"} if dry_run else {}


def _discover(kube: ClusterClient) -> list[dict[str, Any]]:
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


def _from_legacy(kube: ClusterClient, body: dict[str, Any], legacy: bool) -> list[dict[str, Any]]:
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
