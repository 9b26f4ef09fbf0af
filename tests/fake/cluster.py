"""An in-memory Kubernetes API server, and a Transport that talks to it.

`FakeCluster` keeps objects, resource versions and a watch event log behind one lock and
answers REST requests as kube-apiserver does, closely enough for kubectl-fed: the same
paths, verbs, query parameters, content types, status codes and `Status` bodies.
`FakeTransport(cluster)` replaces `kubectl_fed.kube.transport.Transport` under a real
`kubectl_fed.kube.client.ClusterClient`, so everything above the socket is the product's own code.

Supported: core and group paths, namespaced and cluster-scoped, collections and objects,
the /status subresource; GET/list (label and metadata.name/namespace field selectors,
limit/continue); POST (generateName); PUT (resourceVersion conflicts); PATCH as JSON merge
patch and as server-side apply (field ownership per manager, approximated: leaf paths,
lists atomic); DELETE (finalizers, namespace termination, optional garbage collection);
dryRun=All; metadata.generation as the registry strategies keep it; legacy discovery and
/version; CRDs (served and Established at once, schema pruning, defaults and validation);
watches from an event log; a few per-kind rules (Deployment defaults and selector checks,
Service clusterIP and nodePort allocation). Not supported: strategic merge patch and JSON
patch (415), protobuf, aggregated discovery, admission, RBAC (see `fail_next`), CEL rules,
pods and controllers (but see `ready_workloads`).

Fault controls: `cluster.down = True` (every request fails below HTTP, so ClusterClient raises
Unreachable), `cluster.fail_next(method, path_prefix, status)`, and the request log
`cluster.requests` / `cluster.counts` / `cluster.mutations()`.
"""

from __future__ import annotations

import base64
import bisect
import copy
import itertools
import json
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.message import Message
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

from kubectl_fed.kube.client import ClusterClient
from kubectl_fed.kube.transport import Response, Transport, TransportError
from tests.fake.resources import BUILTIN, ResourceType, from_crd
from tests.fake.schema import apply_schema
from tests.fake.selectors import (
    Requirement,
    SelectorError,
    fields_match,
    labels_match,
    metadata_problems,
    parse_fields,
    parse_labels,
)

Object = dict[str, Any]
Path = tuple[str, ...]
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MERGE_PATCH = "application/merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
# Metadata the server owns: never part of anyone's field set, never taken from a client.
SERVER_METADATA = (
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "managedFields",
    "selfLink",
)
_IDENTITY: tuple[Path, ...] = (
    ("apiVersion",),
    ("kind",),
    ("metadata", "name"),
    ("metadata", "namespace"),
)
_MISSING = object()


class ApiFailure(Exception):
    """An error answer: becomes a `Status` body with this code, reason and message."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message
        self.details = details or {}
        self.headers = headers or {}

    def body(self) -> Object:
        body: Object = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details:
            body["details"] = self.details
        return body


def _not_found(rtype: ResourceType, name: str) -> ApiFailure:
    return ApiFailure(
        404,
        "NotFound",
        f'{rtype.qualified} "{name}" not found',
        {"name": name, "group": rtype.group, "kind": rtype.plural},
    )


def _no_route() -> ApiFailure:
    return ApiFailure(404, "NotFound", "the server could not find the requested resource")


def _bad_request(message: str) -> ApiFailure:
    return ApiFailure(400, "BadRequest", message)


def _invalid(rtype: ResourceType, name: str, problems: list[str]) -> ApiFailure:
    joined = problems[0] if len(problems) == 1 else "[" + ", ".join(problems) + "]"
    return ApiFailure(
        422,
        "Invalid",
        f'{rtype.kind}{"." + rtype.group if rtype.group else ""} "{name}" is invalid: {joined}',
        {"name": name, "group": rtype.group, "kind": rtype.kind},
    )


def _conflict(rtype: ResourceType, name: str, why: str) -> ApiFailure:
    return ApiFailure(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {rtype.qualified} "{name}": {why}',
        {"name": name, "group": rtype.group, "kind": rtype.plural},
    )


STALE = (
    "the object has been modified; please apply your changes to the latest version and try again"
)


@dataclass
class Stored:
    obj: Object
    # (manager, "Apply" | "Update") -> leaf paths it owns; lists count as leaves
    managers: dict[tuple[str, str], set[Path]] = field(default_factory=dict)


@dataclass
class Event:
    rv: int
    key: tuple[str, str]
    type: str  # ADDED | MODIFIED | DELETED
    obj: Object  # the new state (DELETED: the last one)
    old: Object | None = None


@dataclass(frozen=True)
class RequestRecord:
    method: str
    path: str
    query: str
    manager: str
    status: int = 0  # the answer's HTTP status
    changed: bool = False  # whether it changed any stored object (a new resourceVersion)
    user: str = "admin"  # who it was authenticated as (ServiceAccount tokens are told apart)

    @property
    def dry_run(self) -> bool:
        return "dryRun=All" in self.query


@dataclass
class Fault:
    method: str
    prefix: str
    status: int
    reason: str
    message: str
    times: int | None
    retry_after: float | None


@dataclass
class Route:
    rtype: ResourceType
    namespace: str | None
    name: str | None
    sub: str | None


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _manager_of(headers: dict[str, str]) -> str:
    """As the apiserver names non-apply managers: the user agent up to its first '/'."""
    agent = headers.get("User-Agent") or headers.get("user-agent") or "unknown"
    return agent.split("/")[0] or "unknown"


# --------------------------------------------------------------------------- object paths


def leaves(value: Any, prefix: Path = ()) -> Iterator[Path]:
    """Leaf paths of a JSON value: maps are walked, everything else (lists too) is a leaf."""
    if isinstance(value, dict) and value:
        for key, child in value.items():
            yield from leaves(child, (*prefix, str(key)))
    elif prefix:
        yield prefix


def value_at(obj: Any, path: Path) -> Any:
    for part in path:
        if not isinstance(obj, dict) or part not in obj:
            return _MISSING
        obj = obj[part]
    return obj


def _delete_path(obj: Object, path: Path) -> None:
    """Remove a leaf, and the maps its removal leaves empty (below the top level)."""
    parents: list[tuple[Object, str]] = []
    node: Any = obj
    for part in path[:-1]:
        if not isinstance(node, dict) or part not in node:
            return
        parents.append((node, part))
        node = node[part]
    if isinstance(node, dict):
        node.pop(path[-1], None)
    for parent, part in reversed(parents[1:]):
        if parent[part] == {}:
            del parent[part]


def _overlap(a: Path, b: Path) -> bool:
    shorter = min(len(a), len(b))
    return a[:shorter] == b[:shorter]


def _owned_fields(obj: Object, rtype: ResourceType, status_only: bool = False) -> set[Path]:
    found = set()
    for path in leaves(obj):
        if path in _IDENTITY or (
            path[0] == "metadata" and path[1:2] and path[1] in SERVER_METADATA
        ):
            continue
        if status_only != (path[0] == "status") and (rtype.status or status_only):
            continue
        found.add(path)
    return found


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _merge_apply(target: Any, applied: Any) -> Any:
    """Server-side apply's merge, approximated: maps merge recursively, the rest replaces."""
    if not (isinstance(target, dict) and isinstance(applied, dict)):
        return copy.deepcopy(applied)
    result = copy.deepcopy(target)
    for key, value in applied.items():
        result[key] = _merge_apply(result.get(key), value)
    return result


def _drop_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value]
    return value


def _without(obj: Object, *top: str) -> Object:
    return {k: v for k, v in obj.items() if k not in top}


# --------------------------------------------------------------------------- the cluster


class FakeCluster:
    """One apiserver's state. Thread safe: every request runs under one lock."""

    def __init__(
        self,
        name: str = "fake",
        server: str | None = None,
        *,
        version: str = "v1.34.4",
        token: str | None = None,
        gc: bool = False,
        ready_workloads: bool = False,
        event_limit: int = 50_000,
    ) -> None:
        self.name = name
        self.server = (server or f"https://{name}.fake:6443").rstrip("/")
        self.version = version
        self.token = token  # when set, requests must carry `Authorization: Bearer <token>`
        self.gc = gc  # a garbage collector follows ownerReferences (kube-controller-manager)
        # A stand-in for workload controllers: Deployments, ReplicaSets and StatefulSets
        # report every replica ready as soon as they are written.
        self.ready_workloads = ready_workloads
        self.event_limit = event_limit
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.counts: Counter[str] = Counter()
        self.requests: list[RequestRecord] = []
        self.denied: set[tuple[str, str, str]] = set()  # SSAR (verb, group, resource) denied
        # ServiceAccount tokens handed out by TokenRequest: token -> (user, expiry epoch).
        self.issued: dict[str, tuple[str, float]] = {}
        self.bound: dict[str, tuple[str, str, str]] = {}  # token -> bound Secret (ns, name, uid)
        self.token_requests = True  # False: the TokenRequest API is not served
        self.last_user = "admin"  # who the last request was authenticated as
        self._down = False
        self._rv = 0
        self._uids = itertools.count(1)
        self._names = itertools.count(1)
        self._ips = itertools.count(10)
        self._ports = itertools.count(30000)
        self._types: dict[tuple[str, str, str], ResourceType] = {}
        self._store: dict[tuple[str, str], dict[tuple[str, str], Stored]] = {}
        self._events: list[Event] = []
        self._event_rvs: list[int] = []
        self._oldest_rv = 0  # events after this RV are all still in the log
        self._faults: list[Fault] = []
        self.faults_fired = 0  # injected errors answered so far
        self._stream_epoch = 0
        for rtype in BUILTIN:
            self._register(rtype)
        for namespace in ("default", "kube-system", "kube-public", "kube-node-lease"):
            with self.lock:
                self._internal_create(
                    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
                )

    def __repr__(self) -> str:
        return f"FakeCluster({self.name!r}, {self.server!r})"

    # ------------------------------------------------------------------ fault controls

    @property
    def down(self) -> bool:
        return self._down

    @down.setter
    def down(self, value: bool) -> None:
        with self.changed:
            self._down = value
            self.changed.notify_all()

    def fail_next(
        self,
        method: str,
        path_prefix: str,
        status: int,
        *,
        reason: str | None = None,
        message: str | None = None,
        times: int | None = 1,
        retry_after: float | None = None,
    ) -> None:
        """Answer the next `times` requests (None: all) of `method` ("*": any) whose path
        starts with `path_prefix` with an error `status` instead of serving them."""
        default_reason = {
            400: "BadRequest",
            401: "Unauthorized",
            403: "Forbidden",
            404: "NotFound",
            409: "Conflict",
            410: "Gone",
            422: "Invalid",
            429: "TooManyRequests",
            500: "InternalError",
            503: "ServiceUnavailable",
        }.get(status, "Unknown")
        with self.lock:
            self._faults.append(
                Fault(
                    method.upper(),
                    path_prefix,
                    status,
                    reason or default_reason,
                    message or f"injected {status} for {method} {path_prefix}",
                    times,
                    retry_after,
                )
            )

    def clear_faults(self) -> None:
        with self.lock:
            self._faults.clear()

    def reset_counts(self) -> None:
        with self.lock:
            self.counts.clear()
            self.requests.clear()

    def mutations(self, ignore: tuple[str, ...] = ()) -> list[RequestRecord]:
        """Mutating requests served since the last reset (dry runs excluded), leaving out
        those whose path contains any of `ignore`."""
        with self.lock:
            return [
                r
                for r in self.requests
                if r.method in MUTATING
                and not r.dry_run
                and not any(part in r.path for part in ignore)
            ]

    def close(self) -> None:
        """End every open watch stream (they return as if the server closed them)."""
        with self.changed:
            self._stream_epoch += 1
            self.changed.notify_all()

    def clone(self, name: str | None = None, server: str | None = None) -> FakeCluster:
        """An independent copy of this cluster's objects and types (no events, no open
        streams, no request log, no faults): set up a cluster once, copy it per test."""
        with self.lock:
            other = FakeCluster.__new__(FakeCluster)
            other.__dict__.update(self.__dict__)
            other.name = name or self.name
            other.server = (server or self.server).rstrip("/")
            other.lock = threading.RLock()
            other.changed = threading.Condition(other.lock)
            other.counts, other.requests = Counter(), []
            other.denied = set(self.denied)
            other.issued = dict(self.issued)
            other.bound = dict(self.bound)
            other._types = dict(self._types)
            other._store = copy.deepcopy(self._store)
            other._events, other._event_rvs, other._oldest_rv = [], [], self._rv
            other._faults, other._stream_epoch, other.faults_fired = [], 0, 0
            for counter in ("_uids", "_names", "_ips", "_ports"):
                setattr(other, counter, copy.copy(getattr(self, counter)))
            return other

    # ------------------------------------------------------------------ direct access

    def kube(self, manager: str = "kubectl", timeout: float | None = 5.0) -> ClusterClient:
        """A client of this cluster writing as field manager `manager` (requests it sends
        are served and logged like any other)."""
        transport = FakeTransport(self, token=self.token, user_agent=f"{manager}/v1.34.4")
        return ClusterClient(transport, self.name, timeout)

    def resource(self, text: str, version: str | None = None) -> ResourceType:
        """`deployments.apps`, `configmaps`, `Deployment`... -> its served type."""
        plural, _, group = text.partition(".")
        with self.lock:
            for rtype in self._types.values():
                if version and rtype.version != version:
                    continue
                if rtype.group == group and plural in (rtype.plural, rtype.kind):
                    return rtype
        raise KeyError(f"{text}: not served by {self.name}")

    def path(self, text: str, namespace: str | None = None, name: str | None = None) -> str:
        rtype = self.resource(text)
        base = f"/apis/{rtype.group}/{rtype.version}" if rtype.group else f"/api/{rtype.version}"
        if rtype.namespaced and namespace:
            base += f"/namespaces/{namespace}"
        base += f"/{rtype.plural}"
        return f"{base}/{name}" if name else base

    def get(self, text: str, name: str, namespace: str | None = None) -> Object | None:
        """The stored object (a copy), or None; no request is logged."""
        rtype = self.resource(text)
        with self.lock:
            stored = self._bucket(rtype).get((namespace or "" if rtype.namespaced else "", name))
            return self._out(rtype, stored.obj) if stored else None

    def must(self, text: str, name: str, namespace: str | None = None) -> Object:
        """The stored object (a copy); KeyError when there is none."""
        found = self.get(text, name, namespace)
        if found is None:
            raise KeyError(
                f"{text} {namespace + '/' if namespace else ''}{name} not in {self.name}"
            )
        return found

    def objects(self, text: str, namespace: str | None = None, selector: str = "") -> list[Object]:
        rtype = self.resource(text)
        requirements = parse_labels(selector)
        with self.lock:
            return [
                self._out(rtype, s.obj)
                for (ns, _), s in sorted(self._bucket(rtype).items())
                if (namespace is None or ns == namespace) and labels_match(requirements, s.obj)
            ]

    def managers(self, text: str, name: str, namespace: str | None = None) -> dict[str, set[Path]]:
        """Field ownership of an object: `manager/Operation` -> owned leaf paths."""
        rtype = self.resource(text)
        with self.lock:
            stored = self._bucket(rtype).get((namespace or "" if rtype.namespaced else "", name))
            if stored is None:
                return {}
            return {f"{m}/{op}": set(paths) for (m, op), paths in stored.managers.items()}

    @property
    def resource_version(self) -> int:
        return self._rv

    # ------------------------------------------------------------------ HTTP entry

    def handle(
        self, method: str, target: str, headers: dict[str, str], body: bytes | None
    ) -> Response:
        """Serve one request as the apiserver would."""
        url = urlsplit(target)
        path = url.path.rstrip("/") or "/"
        query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        manager = _manager_of(headers)
        with self.lock:
            self.counts[method] += 1
            self.last_user = "admin"
            before = self._rv
            try:
                self._inject(method, path)
                self._authenticate(headers)
                code, answer = self._serve(method, path, query, headers, body, manager)
                response = _response(code, answer)
            except ApiFailure as failure:
                response = _response(failure.code, failure.body(), failure.headers)
            record = RequestRecord(
                method,
                path,
                url.query,
                manager,
                response.status,
                self._rv != before,
                self.last_user,
            )
            self.requests.append(record)
        return response

    def _inject(self, method: str, path: str) -> None:
        for fault in list(self._faults):
            if fault.method not in ("*", method) or not path.startswith(fault.prefix):
                continue
            if fault.times is not None:
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
            headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after else None
            self.faults_fired += 1
            raise ApiFailure(fault.status, fault.reason, fault.message, headers=headers)

    def _authenticate(self, headers: dict[str, str]) -> None:
        sent = headers.get("Authorization", "").removeprefix("Bearer ")
        if sent in self.issued and self._token_valid(sent):
            self.last_user = self.issued[sent][0]
            return
        self.last_user = "admin"
        if self.token and sent != self.token:
            raise ApiFailure(401, "Unauthorized", "Unauthorized")

    def _user_of(self, headers: dict[str, str]) -> str:
        sent = headers.get("Authorization", "").removeprefix("Bearer ")
        return self.issued[sent][0] if sent in self.issued else "admin"

    def _token_valid(self, token: str) -> bool:
        """A ServiceAccount token: its account must still exist, and it must not be expired."""
        user, expires = self.issued[token]
        _, _, namespace, name = user.split(":")
        sa_type = self._types[("", "v1", "serviceaccounts")]
        alive = (namespace, name) in self._bucket(sa_type)
        bound = self.bound.get(token)
        if bound is not None:  # bound to a Secret: valid while that very Secret exists
            stored = self._bucket(self._types[("", "v1", "secrets")]).get(bound[:2])
            alive = alive and stored is not None and stored.obj["metadata"]["uid"] == bound[2]
        return alive and time.time() < expires

    def _token_request(self, route: Route, body: Any) -> Object:
        """TokenRequest: a token of the ServiceAccount, accepted until it expires."""
        assert route.namespace and route.name
        self._existing(route)
        seconds = int(((body or {}).get("spec") or {}).get("expirationSeconds") or 3600)
        token = f"sa-{route.name}-{next(self._names)}"
        expires = time.time() + seconds
        self.issued[token] = (f"system:serviceaccount:{route.namespace}:{route.name}", expires)
        ref = ((body or {}).get("spec") or {}).get("boundObjectRef")
        if ref:
            if ref.get("kind") != "Secret":
                raise _bad_request(f"cannot bind a token to a {ref.get('kind')}")
            secrets = self._bucket(self._types[("", "v1", "secrets")])
            holder = secrets.get((route.namespace, ref["name"]))
            if holder is None or holder.obj["metadata"]["uid"] != ref.get("uid"):
                raise _bad_request(f"the bound Secret {ref['name']} does not exist")
            self.bound[token] = (route.namespace, ref["name"], ref["uid"])
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(expires))
        return {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "spec": {"expirationSeconds": seconds},
            "status": {"token": token, "expirationTimestamp": stamp},
        }

    def _serve(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        headers: dict[str, str],
        body: bytes | None,
        manager: str,
    ) -> tuple[int, Any]:
        if path == "/version":
            return 200, self._version()
        if path in ("/api", "/apis") or path.startswith(("/api/", "/apis/")):
            discovery = self._discovery(path)
            if discovery is not None:
                if method != "GET":
                    raise ApiFailure(
                        405, "MethodNotAllowed", "the server does not allow this method"
                    )
                return 200, discovery
        else:
            raise _no_route()
        route = self._route(path)
        dry = query.get("dryRun") == "All"
        if query.get("dryRun") not in (None, "", "All"):
            raise _bad_request(f"unsupported dryRun value {query['dryRun']!r}")
        if route.rtype.review:
            if method != "POST" or route.name:
                raise ApiFailure(405, "MethodNotAllowed", "the server does not allow this method")
            return 201, self._review(route.rtype, _decode(body))
        if route.sub == "token" and route.rtype.plural == "serviceaccounts":
            if method != "POST" or not self.token_requests:
                raise ApiFailure(405, "MethodNotAllowed", "the server does not allow this method")
            return 201, self._token_request(route, _decode(body))
        if route.sub not in (None, "status") or (route.sub and not route.rtype.status):
            raise _no_route()
        if method == "GET":
            if route.name is None:
                if query.get("watch") in ("true", "1"):
                    raise _bad_request("watch requests need a streaming client")
                return 200, self._list(route, query)
            return 200, self._get(route)
        if method == "POST":
            if route.name is not None:
                raise ApiFailure(405, "MethodNotAllowed", "the server does not allow this method")
            return 201, self._create(route, _decode(body), manager, dry)
        if route.name is None:
            if method == "DELETE":
                return 200, self._delete_collection(route, query, dry)
            raise ApiFailure(405, "MethodNotAllowed", "the server does not allow this method")
        if method == "PUT":
            return 200, self._replace(route, _decode(body), manager, dry)
        if method == "PATCH":
            content_type = (headers.get("Content-Type") or "").split(";")[0].strip()
            if content_type == MERGE_PATCH:
                return 200, self._merge_patch(route, _decode(body), manager, dry)
            if content_type == APPLY_PATCH:
                return 200, self._apply(route, _decode(body, yaml_ok=True), query, dry)
            raise ApiFailure(
                415,
                "UnsupportedMediaType",
                f"the body of the request was in an unknown format: {content_type}",
            )
        if method == "DELETE":
            options = _decode(body) if body else {}
            return self._delete(route, options or {}, query, dry)
        raise ApiFailure(405, "MethodNotAllowed", "the server does not allow this method")

    # ------------------------------------------------------------------ discovery

    def _version(self) -> Object:
        major, minor = self.version.lstrip("v").split(".")[:2]
        return {
            "major": major,
            "minor": minor,
            "gitVersion": self.version,
            "gitCommit": "0" * 40,
            "gitTreeState": "clean",
            "buildDate": "2025-01-01T00:00:00Z",
            "goVersion": "go1.24.0",
            "compiler": "gc",
            "platform": "linux/amd64",
        }

    def _discovery(self, path: str) -> Object | None:
        """Legacy discovery documents (plain JSON whatever the Accept header asks for), or
        None when `path` is a resource path."""
        parts = path.strip("/").split("/")
        if parts == ["api"]:
            return {
                "kind": "APIVersions",
                "versions": ["v1"],
                "serverAddressByClientCIDRs": [
                    {"clientCIDR": "0.0.0.0/0", "serverAddress": urlsplit(self.server).netloc}
                ],
            }
        if parts == ["apis"]:
            return {"kind": "APIGroupList", "apiVersion": "v1", "groups": self._groups()}
        if parts[0] == "apis" and len(parts) == 2:
            for found in self._groups():
                if found["name"] == parts[1]:
                    return {"kind": "APIGroup", "apiVersion": "v1", **found}
            raise _no_route()
        if (parts[0] == "api" and len(parts) == 2) or (parts[0] == "apis" and len(parts) == 3):
            group, version = ("", parts[1]) if parts[0] == "api" else (parts[1], parts[2])
            served = [t for t in self._types.values() if (t.group, t.version) == (group, version)]
            if not served:
                raise _no_route()
            return {
                "kind": "APIResourceList",
                "apiVersion": "v1",
                "groupVersion": f"{group}/{version}" if group else version,
                "resources": [entry for t in served for entry in t.discovery()],
            }
        return None

    def _groups(self) -> list[Object]:
        versions: dict[str, list[str]] = {}
        for rtype in self._types.values():
            if rtype.group and rtype.version not in versions.setdefault(rtype.group, []):
                versions[rtype.group].append(rtype.version)
        return [
            {
                "name": group,
                "versions": [{"groupVersion": f"{group}/{v}", "version": v} for v in found],
                "preferredVersion": {"groupVersion": f"{group}/{found[0]}", "version": found[0]},
            }
            for group, found in versions.items()
        ]

    def _register(self, rtype: ResourceType) -> None:
        self._types[(rtype.group, rtype.version, rtype.plural)] = rtype
        self._store.setdefault(rtype.key, {})

    # ------------------------------------------------------------------ routing

    def _route(self, path: str) -> Route:
        parts = [unquote(p) for p in path.strip("/").split("/")]
        if parts[0] == "api" and len(parts) >= 3:
            group, version, rest = "", parts[1], parts[2:]
        elif parts[0] == "apis" and len(parts) >= 4:
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise _no_route()
        namespace = None
        if len(rest) >= 3 and rest[0] == "namespaces" and rest[2] not in ("status", "finalize"):
            namespace, rest = rest[1], rest[2:]
        if len(rest) > 3:
            raise _no_route()
        rtype = self._types.get((group, version, rest[0]))
        if rtype is None or (namespace is not None and not rtype.namespaced):
            raise _no_route()
        name = rest[1] if len(rest) > 1 else None
        if rtype.namespaced and name is not None and namespace is None:
            raise _no_route()
        return Route(rtype, namespace, name, rest[2] if len(rest) > 2 else None)

    def _bucket(self, rtype: ResourceType) -> dict[tuple[str, str], Stored]:
        return self._store.setdefault(rtype.key, {})

    def _key(self, route: Route, name: str | None = None) -> tuple[str, str]:
        return (route.namespace or "" if route.rtype.namespaced else ""), str(name or route.name)

    def _out(self, rtype: ResourceType, obj: Object) -> Object:
        """An object as served under `rtype`'s version."""
        found = copy.deepcopy(obj)
        found["apiVersion"] = rtype.api_version
        found["kind"] = rtype.kind
        return found

    # ------------------------------------------------------------------ reads

    def _get(self, route: Route) -> Object:
        stored = self._bucket(route.rtype).get(self._key(route))
        if stored is None:
            raise _not_found(route.rtype, str(route.name))
        return self._out(route.rtype, stored.obj)

    def _list(self, route: Route, query: dict[str, str]) -> Object:
        rtype = route.rtype
        try:
            labels = parse_labels(query.get("labelSelector"))
            fields = parse_fields(query.get("fieldSelector"))
        except SelectorError as err:
            raise _bad_request(f"unable to parse requirement: {err}") from None
        items = [
            (key, stored.obj)
            for key, stored in sorted(self._bucket(rtype).items())
            if (route.namespace is None or key[0] == route.namespace)
            and labels_match(labels, stored.obj)
            and fields_match(fields, stored.obj)
        ]
        token = query.get("continue")
        if token:
            try:
                after = tuple(json.loads(base64.b64decode(token)))
            except ValueError:
                raise ApiFailure(
                    410, "Expired", "the provided continue parameter is invalid"
                ) from None
            items = [(k, o) for k, o in items if k > after]
        metadata: Object = {"resourceVersion": str(self._rv)}
        limit = int(query.get("limit") or 0)
        if limit and len(items) > limit:
            items = items[:limit]
            metadata["continue"] = base64.b64encode(
                json.dumps(list(items[-1][0])).encode()
            ).decode()
        out = []
        for _, obj in items:
            item = self._out(rtype, obj)
            if not rtype.custom:  # typed lists leave apiVersion/kind off their items
                del item["apiVersion"], item["kind"]
            out.append(item)
        return {
            "kind": f"{rtype.kind}List",
            "apiVersion": rtype.api_version,
            "metadata": metadata,
            "items": out,
        }

    # ------------------------------------------------------------------ writes

    def _create(self, route: Route, obj: Any, manager: str, dry: bool) -> Object:
        rtype = route.rtype
        if rtype.namespaced and route.namespace is None:
            raise ApiFailure(405, "MethodNotAllowed", "the server does not allow this method")
        obj = self._admit_new(rtype, route.namespace, obj)
        name = obj["metadata"]["name"]
        if (obj["metadata"].get("namespace", ""), name) in self._bucket(rtype):
            raise ApiFailure(
                409,
                "AlreadyExists",
                f'{rtype.qualified} "{name}" already exists',
                {"name": name, "group": rtype.group, "kind": rtype.plural},
            )
        managers = {(manager, "Update"): _owned_fields(obj, rtype)}
        return self._insert(rtype, obj, managers, dry)

    def _admit_new(self, rtype: ResourceType, namespace: str | None, obj: Any) -> Object:
        """A new object's body checked, and its server-set metadata filled in."""
        if not isinstance(obj, dict):
            raise _bad_request("the body of the request is not a JSON object")
        self._check_type_meta(rtype, obj)
        obj = copy.deepcopy(obj)
        assert isinstance(obj, dict)
        obj["apiVersion"], obj["kind"] = rtype.api_version, rtype.kind
        metadata = obj.setdefault("metadata", {})
        if not isinstance(metadata, dict):
            raise _bad_request("metadata: expected an object")
        if rtype.namespaced:
            if metadata.get("namespace") and metadata["namespace"] != namespace:
                raise _bad_request(
                    "the namespace of the provided object does not match the namespace sent on "
                    "the request"
                )
            metadata["namespace"] = namespace
        else:
            metadata.pop("namespace", None)
        if not metadata.get("name") and metadata.get("generateName"):
            metadata["name"] = f"{metadata['generateName']}{next(self._names):05x}"
        if not metadata.get("name"):
            raise _invalid(
                rtype, "", ["metadata.name: Required value: name or generateName is required"]
            )
        for key in SERVER_METADATA:
            metadata.pop(key, None)
        if rtype.namespaced:
            self._check_namespace(rtype, str(namespace))
        metadata["uid"] = f"{self.name}-uid-{next(self._uids):06d}"
        metadata["creationTimestamp"] = _now()
        if rtype.generation:
            metadata["generation"] = 1
        if rtype.status:
            obj.pop("status", None)
        admitted: Object = obj
        return admitted

    def _check_type_meta(self, rtype: ResourceType, obj: Object) -> None:
        api_version, kind = obj.get("apiVersion"), obj.get("kind")
        if api_version and api_version != rtype.api_version:
            # Another version of the same resource is fine; another resource is not.
            group = api_version.rpartition("/")[0] if "/" in api_version else ""
            if group != rtype.group:
                raise _bad_request(
                    f"the API version in the data ({api_version}) does not match the expected "
                    f"API version ({rtype.api_version})"
                )
        if kind and kind != rtype.kind:
            raise _bad_request(
                f"the kind in the data ({kind}) does not match the expected kind ({rtype.kind})"
            )

    def _check_namespace(self, rtype: ResourceType, namespace: str) -> None:
        stored = self._store[("", "namespaces")].get(("", namespace))
        if stored is None:
            raise ApiFailure(
                404,
                "NotFound",
                f'namespaces "{namespace}" not found',
                {"name": namespace, "kind": "namespaces"},
            )
        if stored.obj["metadata"].get("deletionTimestamp"):
            raise ApiFailure(
                403,
                "Forbidden",
                f"{rtype.plural} is forbidden: unable to create new content in namespace "
                f"{namespace} because it is being terminated",
                {"name": namespace, "kind": "namespaces"},
            )

    def _insert(
        self,
        rtype: ResourceType,
        obj: Object,
        managers: dict[tuple[str, str], set[Path]],
        dry: bool,
    ) -> Object:
        obj = self._prepare(rtype, obj, None)
        if dry:
            return self._out(rtype, obj)
        self._rv += 1
        obj["metadata"]["resourceVersion"] = str(self._rv)
        key = (obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
        self._bucket(rtype)[key] = Stored(obj, {k: v for k, v in managers.items() if v})
        self._emit(rtype, "ADDED", obj)
        self._after_write(rtype, key)
        return self._out(rtype, obj)

    def _replace(self, route: Route, body: Any, manager: str, dry: bool) -> Object:
        rtype = route.rtype
        stored = self._existing(route)
        if not isinstance(body, dict):
            raise _bad_request("the body of the request is not a JSON object")
        self._check_type_meta(rtype, body)
        metadata = body.get("metadata") or {}
        if metadata.get("name") and metadata["name"] != route.name:
            raise _bad_request(
                f"the name of the object ({metadata['name']}) does not match the name on "
                f"the URL ({route.name})"
            )
        self._precondition(route, stored, metadata.get("resourceVersion"))
        if route.sub == "status":
            candidate = copy.deepcopy(stored.obj)
            candidate["status"] = copy.deepcopy(body.get("status"))
            if candidate["status"] is None:
                del candidate["status"]
        else:
            candidate = self._as_update(rtype, stored.obj, body)
        return self._update(rtype, stored, candidate, (manager, "Update"), None, dry, route.sub)

    def _as_update(self, rtype: ResourceType, old: Object, body: Object) -> Object:
        """A full new object from a client's body: server-set metadata kept from `old`,
        status kept too when it has its own subresource."""
        candidate = copy.deepcopy(body)
        candidate["apiVersion"], candidate["kind"] = rtype.api_version, rtype.kind
        metadata = candidate.setdefault("metadata", {})
        for key in SERVER_METADATA:
            metadata.pop(key, None)
        for key in (
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
        ):
            if key in old["metadata"]:
                metadata[key] = old["metadata"][key]
        metadata["name"] = old["metadata"]["name"]
        if rtype.namespaced:
            metadata["namespace"] = old["metadata"]["namespace"]
        else:
            metadata.pop("namespace", None)
        if rtype.status:
            candidate.pop("status", None)
            if "status" in old:
                candidate["status"] = copy.deepcopy(old["status"])
        return candidate

    def _merge_patch(self, route: Route, patch: Any, manager: str, dry: bool) -> Object:
        rtype = route.rtype
        stored = self._existing(route)
        if not isinstance(patch, dict):
            raise _bad_request("a merge patch must be a JSON object")
        self._precondition(route, stored, (patch.get("metadata") or {}).get("resourceVersion"))
        patched = merge_patch(stored.obj, patch)
        if route.sub == "status":
            candidate = copy.deepcopy(stored.obj)
            if "status" in patched:
                candidate["status"] = patched["status"]
            else:
                candidate.pop("status", None)
        else:
            candidate = self._as_update(rtype, stored.obj, patched)
        return self._update(rtype, stored, candidate, (manager, "Update"), None, dry, route.sub)

    def _apply(self, route: Route, body: Any, query: dict[str, str], dry: bool) -> Object:
        """Server-side apply: create when absent; fields this manager applied before and
        no longer sends are removed unless another manager owns them."""
        rtype = route.rtype
        manager = query.get("fieldManager")
        if not manager:
            raise _invalid(
                rtype,
                str(route.name),
                ["fieldManager: Required value: is required for apply patch"],
            )
        force = query.get("force") == "true"
        if not isinstance(body, dict):
            raise _bad_request("the body of an apply patch must be an object")
        if not body.get("apiVersion") or not body.get("kind"):
            raise _bad_request("apiVersion and kind must be set in an apply patch")
        self._check_type_meta(rtype, body)
        metadata = body.get("metadata") or {}
        if metadata.get("name") and metadata["name"] != route.name:
            raise _bad_request(
                f"the name of the object ({metadata['name']}) does not match the name on "
                f"the URL ({route.name})"
            )
        if rtype.namespaced and metadata.get("namespace") not in (None, route.namespace):
            raise _bad_request(
                "the namespace of the object does not match the namespace on the URL"
            )
        body = _drop_nulls(copy.deepcopy(body))
        body.setdefault("metadata", {})["name"] = route.name
        status_only = route.sub == "status"
        applied = _owned_fields(body, rtype, status_only)
        stored = self._bucket(rtype).get(self._key(route))
        if stored is None:
            if route.sub:
                raise _not_found(rtype, str(route.name))
            obj = self._admit_new(rtype, route.namespace, body)
            return self._insert(rtype, obj, {(manager, "Apply"): applied}, dry)
        self._precondition(route, stored, metadata.get("resourceVersion"))
        me = (manager, "Apply")
        if not force:
            self._apply_conflicts(rtype, stored, me, applied, body)
        candidate = copy.deepcopy(stored.obj)
        for path in stored.managers.get(me, set()) - applied:
            others = (paths for key, paths in stored.managers.items() if key != me)
            if not any(_overlap(path, other) for owned in others for other in owned):
                _delete_path(candidate, path)
        if status_only:
            candidate["status"] = _merge_apply(candidate.get("status"), body.get("status") or {})
        else:
            sent = _without(body, "status") if rtype.status else body
            sent = {
                **sent,
                "metadata": {k: v for k, v in sent["metadata"].items() if k not in SERVER_METADATA},
            }
            candidate = _merge_apply(candidate, sent)
        return self._update(rtype, stored, candidate, me, applied, dry, route.sub)

    def _apply_conflicts(
        self,
        rtype: ResourceType,
        stored: Stored,
        me: tuple[str, str],
        applied: set[Path],
        body: Object,
    ) -> None:
        conflicts = []
        for key, owned in stored.managers.items():
            if key == me:
                continue
            for path in applied:
                if any(_overlap(path, other) for other in owned) and value_at(
                    stored.obj, path
                ) != value_at(body, path):
                    conflicts.append(f'conflict with "{key[0]}": .{".".join(path)}')
        if conflicts:
            count = len(conflicts)
            raise ApiFailure(
                409,
                "Conflict",
                f"Apply failed with {count} conflict{'s' if count > 1 else ''}: "
                + "; ".join(sorted(conflicts)),
                {
                    "name": stored.obj["metadata"]["name"],
                    "group": rtype.group,
                    "kind": rtype.plural,
                },
            )

    def _existing(self, route: Route) -> Stored:
        stored = self._bucket(route.rtype).get(self._key(route))
        if stored is None:
            raise _not_found(route.rtype, str(route.name))
        return stored

    def _precondition(self, route: Route, stored: Stored, wanted: Any) -> None:
        if wanted and str(wanted) != stored.obj["metadata"]["resourceVersion"]:
            raise _conflict(route.rtype, str(route.name), STALE)

    def _update(
        self,
        rtype: ResourceType,
        stored: Stored,
        candidate: Object,
        writer: tuple[str, str],
        applied: set[Path] | None,
        dry: bool,
        sub: str | None = None,
    ) -> Object:
        old = stored.obj
        new = self._prepare(rtype, candidate, old)
        if rtype.generation and sub != "status":
            generation = int(old["metadata"].get("generation") or 1)
            if self._spec_changed(rtype, old, new):
                generation += 1
            new["metadata"]["generation"] = generation
        new["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
        if dry:
            return self._out(rtype, new)
        self._own(rtype, stored, old, new, writer, applied)
        if new == old:
            return self._out(rtype, old)  # nothing changed: no write, no new resourceVersion
        self._commit(rtype, stored, new)
        return self._out(rtype, new)

    def _spec_changed(self, rtype: ResourceType, old: Object, new: Object) -> bool:
        ignored = ("metadata", "status") if rtype.status else ("metadata",)
        if _without(old, *ignored) != _without(new, *ignored):
            return True
        # The Deployment strategy also counts annotation changes.
        if rtype.key == ("apps", "deployments"):
            return (old["metadata"].get("annotations") or {}) != (
                new["metadata"].get("annotations") or {}
            )
        return False

    def _own(
        self,
        rtype: ResourceType,
        stored: Stored,
        old: Object,
        new: Object,
        writer: tuple[str, str],
        applied: set[Path] | None,
    ) -> None:
        """Field ownership after a write: the writer takes what it changed (an applier:
        exactly what it applied); others lose what changed under them."""
        before = {p: value_at(old, p) for p in _owned_fields(old, rtype)}
        before.update({p: value_at(old, p) for p in _owned_fields(old, rtype, True)})
        after = {p: value_at(new, p) for p in _owned_fields(new, rtype)}
        after.update({p: value_at(new, p) for p in _owned_fields(new, rtype, True)})
        changed = {
            p
            for p in before.keys() | after.keys()
            if before.get(p, _MISSING) != after.get(p, _MISSING)
        }
        for key in list(stored.managers):
            if key == writer:
                continue
            kept = {
                p
                for p in stored.managers[key]
                if p in after and not any(_overlap(p, c) for c in changed)
            }
            if kept:
                stored.managers[key] = kept
            else:
                del stored.managers[key]
        if applied is not None:
            mine = applied
        else:
            mine = (stored.managers.get(writer, set()) | (changed & after.keys())) & after.keys()
        if mine:
            stored.managers[writer] = set(mine)
        else:
            stored.managers.pop(writer, None)

    def _commit(self, rtype: ResourceType, stored: Stored, new: Object) -> None:
        """Store a changed object (removing it when it is deleted and has no finalizer)."""
        old = stored.obj
        self._rv += 1
        new["metadata"]["resourceVersion"] = str(self._rv)
        key = (new["metadata"].get("namespace", ""), new["metadata"]["name"])
        if new["metadata"].get("deletionTimestamp") and not self._finalizers(rtype, new):
            self._remove(rtype, key, new)
            return
        stored.obj = new
        self._emit(rtype, "MODIFIED", new, old)
        self._after_write(rtype, key)

    @staticmethod
    def _finalizers(rtype: ResourceType, obj: Object) -> list[str]:
        found = list(obj["metadata"].get("finalizers") or [])
        if rtype.key == ("", "namespaces"):
            found += (obj.get("spec") or {}).get("finalizers") or []
        return found

    # ------------------------------------------------------------------ deletes

    def _delete(
        self, route: Route, options: Object, query: dict[str, str], dry: bool
    ) -> tuple[int, Object]:
        rtype = route.rtype
        stored = self._existing(route)
        preconditions = options.get("preconditions") or {}
        if preconditions.get("resourceVersion") not in (
            None,
            stored.obj["metadata"]["resourceVersion"],
        ):
            raise _conflict(rtype, str(route.name), STALE)
        if preconditions.get("uid") not in (None, stored.obj["metadata"]["uid"]):
            raise _conflict(rtype, str(route.name), "Precondition failed: UID in precondition")
        if dry:
            return 200, self._out(rtype, stored.obj)
        policy = options.get("propagationPolicy") or query.get("propagationPolicy") or "Background"
        if policy not in ("Background", "Foreground", "Orphan"):
            raise _bad_request(f"unsupported propagationPolicy {policy!r}")
        last = copy.deepcopy(stored.obj)
        gone = self._delete_object(rtype, self._key(route), policy)
        current = self._bucket(rtype).get(self._key(route))
        if current is None:
            return 200, self._out(rtype, gone or last)
        return 202, self._out(rtype, current.obj)

    def _delete_collection(self, route: Route, query: dict[str, str], dry: bool) -> Object:
        listing = self._list(
            route, {k: v for k, v in query.items() if k in ("labelSelector", "fieldSelector")}
        )
        if not dry:
            for item in listing["items"]:
                key = (item["metadata"].get("namespace", ""), item["metadata"]["name"])
                if key in self._bucket(route.rtype):
                    self._delete_object(route.rtype, key, "Background")
        return listing

    def _delete_object(
        self, rtype: ResourceType, key: tuple[str, str], policy: str
    ) -> Object | None:
        """Delete now (returning the last state), or mark for deletion while finalizers
        remain (returning None)."""
        stored = self._bucket(rtype)[key]
        obj = stored.obj
        if rtype.key == ("", "namespaces"):
            return self._delete_namespace(stored)
        if not self._finalizers(rtype, obj):
            gone = copy.deepcopy(obj)
            self._rv += 1
            gone["metadata"]["resourceVersion"] = str(self._rv)
            self._remove(rtype, key, gone, policy)
            return gone
        if not obj["metadata"].get("deletionTimestamp"):
            new = copy.deepcopy(obj)
            new["metadata"]["deletionTimestamp"] = _now()
            new["metadata"]["deletionGracePeriodSeconds"] = 0
            self._commit(rtype, stored, new)
        return None

    def _remove(
        self, rtype: ResourceType, key: tuple[str, str], last: Object, policy: str = "Background"
    ) -> None:
        self._bucket(rtype).pop(key, None)
        self._emit(rtype, "DELETED", last)
        if rtype.key == ("apiextensions.k8s.io", "customresourcedefinitions"):
            self._unregister_crd(last)
        if self.gc:
            self._collect(last["metadata"]["uid"], policy)
        namespace = key[0]
        if namespace:
            self._finish_namespace(namespace)

    def _delete_namespace(self, stored: Stored) -> Object | None:
        namespace = stored.obj["metadata"]["name"]
        if not stored.obj["metadata"].get("deletionTimestamp"):
            new = copy.deepcopy(stored.obj)
            new["metadata"]["deletionTimestamp"] = _now()
            new["metadata"]["deletionGracePeriodSeconds"] = 0
            new["status"] = {"phase": "Terminating"}
            self._commit(self._types[("", "v1", "namespaces")], stored, new)
        for rtype in self._storage_types():
            if not rtype.namespaced:
                continue
            for key in [k for k in self._bucket(rtype) if k[0] == namespace]:
                if key in self._bucket(rtype):
                    self._delete_object(rtype, key, "Background")
        return self._finish_namespace(namespace)

    def _finish_namespace(self, namespace: str) -> Object | None:
        """The namespace controller: a terminating namespace goes once it is empty."""
        namespaces = self._store[("", "namespaces")]
        stored = namespaces.get(("", namespace))
        if stored is None or not stored.obj["metadata"].get("deletionTimestamp"):
            return None
        for rtype in self._storage_types():
            if rtype.namespaced and any(k[0] == namespace for k in self._bucket(rtype)):
                return None
        gone = copy.deepcopy(stored.obj)
        gone["spec"] = {}
        self._rv += 1
        gone["metadata"]["resourceVersion"] = str(self._rv)
        self._remove(self._types[("", "v1", "namespaces")], ("", namespace), gone)
        return gone

    def _collect(self, owner_uid: str, policy: str) -> None:
        """Garbage collection of the dependents of a deleted owner."""
        for rtype in self._storage_types():
            for key, stored in list(self._bucket(rtype).items()):
                refs = stored.obj["metadata"].get("ownerReferences") or []
                if not any(r.get("uid") == owner_uid for r in refs):
                    continue
                if policy == "Orphan":
                    new = copy.deepcopy(stored.obj)
                    kept = [r for r in refs if r.get("uid") != owner_uid]
                    if kept:
                        new["metadata"]["ownerReferences"] = kept
                    else:
                        del new["metadata"]["ownerReferences"]
                    self._commit(rtype, stored, new)
                elif key in self._bucket(rtype):
                    self._delete_object(rtype, key, "Background")

    def _storage_types(self) -> list[ResourceType]:
        """One served type per stored resource."""
        seen: dict[tuple[str, str], ResourceType] = {}
        for rtype in self._types.values():
            seen.setdefault(rtype.key, rtype)
        return list(seen.values())

    # ------------------------------------------------------------------ per-kind rules

    def _prepare(self, rtype: ResourceType, obj: Object, old: Object | None) -> Object:
        """Defaults, allocations and validation, as the registry strategies do them."""
        name = obj["metadata"]["name"]
        for field_ in ("labels", "annotations", "finalizers", "ownerReferences"):
            if field_ in obj["metadata"] and not obj["metadata"][field_]:
                del obj["metadata"][field_]  # ObjectMeta omits empty fields
        problems = metadata_problems(
            obj["metadata"], dns_label_name=rtype.plural in ("namespaces", "services")
        )
        if old is not None and old["metadata"].get("deletionTimestamp"):
            added = set(obj["metadata"].get("finalizers") or []) - set(
                old["metadata"].get("finalizers") or []
            )
            if added:
                problems.append(
                    "metadata.finalizers: Forbidden: no new finalizers can be added if the "
                    f"object is being deleted, found new finalizers {sorted(added)}"
                )
        if rtype.custom:
            problems += apply_schema(obj, rtype.schema)
        elif rtype.key == ("apps", "deployments"):
            problems += _deployment(obj, old)
        elif rtype.key == ("", "services"):
            problems += self._service(obj, old)
        elif rtype.key == ("", "namespaces"):
            obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
            if not obj["metadata"].get("deletionTimestamp"):
                obj["status"] = {"phase": "Active"}
        elif rtype.key == ("", "configmaps"):
            for key, value in (obj.get("data") or {}).items():
                if not isinstance(value, str):
                    problems.append(f"data[{key}]: Invalid value: must be a string")
        if problems:
            raise _invalid(rtype, name, problems)
        return obj

    def _service(self, obj: Object, old: Object | None) -> list[str]:
        spec = obj.setdefault("spec", {})
        old_spec = (old or {}).get("spec") or {}
        spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        if spec["type"] != "ExternalName":
            if not spec.get("clusterIP"):
                spec["clusterIP"] = (
                    old_spec.get("clusterIP") or f"10.96.0.{next(self._ips) % 250 + 2}"
                )
            elif old_spec.get("clusterIP") and spec["clusterIP"] != old_spec["clusterIP"]:
                return ["spec.clusterIP: Invalid value: field is immutable"]
            spec["clusterIPs"] = [spec["clusterIP"]]
        old_ports = {
            (p.get("port"), p.get("protocol", "TCP")): p for p in old_spec.get("ports") or []
        }
        for port in spec.get("ports") or []:
            port.setdefault("protocol", "TCP")
            port.setdefault("targetPort", port.get("port"))
            if spec["type"] in ("NodePort", "LoadBalancer") and not port.get("nodePort"):
                previous = old_ports.get((port.get("port"), port["protocol"])) or {}
                port["nodePort"] = previous.get("nodePort") or next(self._ports)
        return []

    def _after_write(self, rtype: ResourceType, key: tuple[str, str]) -> None:
        """What controllers would do at once: establish CRDs, report workloads ready."""
        stored = self._bucket(rtype).get(key)
        if stored is None:
            return
        if rtype.key == ("apiextensions.k8s.io", "customresourcedefinitions"):
            self._register_crd(rtype, stored)
        elif self.ready_workloads and rtype.key in (
            ("apps", "deployments"),
            ("apps", "replicasets"),
            ("apps", "statefulsets"),
        ):
            replicas = (stored.obj.get("spec") or {}).get("replicas", 1)
            status = {
                "observedGeneration": stored.obj["metadata"].get("generation", 1),
                "replicas": replicas,
                "updatedReplicas": replicas,
                "readyReplicas": replicas,
                "availableReplicas": replicas,
            }
            if stored.obj.get("status") != status:
                self._commit(rtype, stored, {**copy.deepcopy(stored.obj), "status": status})

    def _register_crd(self, rtype: ResourceType, stored: Stored) -> None:
        crd = stored.obj
        name = crd["metadata"]["name"]
        for key in [k for k, t in self._types.items() if t.crd == name]:
            del self._types[key]
        served = from_crd(crd)
        for served_type in served:
            self._register(served_type)
        spec = crd.get("spec") or {}
        status = {
            "conditions": [
                {
                    "type": "NamesAccepted",
                    "status": "True",
                    "reason": "NoConflicts",
                    "message": "no conflicts found",
                    "lastTransitionTime": _now(),
                },
                {
                    "type": "Established",
                    "status": "True",
                    "reason": "InitialNamesAccepted",
                    "message": "the initial names have been accepted",
                    "lastTransitionTime": _now(),
                },
            ],
            "acceptedNames": spec.get("names") or {},
            "storedVersions": [v["name"] for v in spec.get("versions") or [] if v.get("storage")],
        }
        old_status = crd.get("status") or {}
        same = [(c["type"], c["status"]) for c in old_status.get("conditions") or []] == [
            (c["type"], c["status"]) for c in status["conditions"]
        ] and {k: v for k, v in old_status.items() if k != "conditions"} == {
            k: v for k, v in status.items() if k != "conditions"
        }
        if not same:
            self._commit(rtype, stored, {**copy.deepcopy(crd), "status": status})

    def _unregister_crd(self, crd: Object) -> None:
        name = crd["metadata"]["name"]
        removed = [t for t in self._types.values() if t.crd == name]
        for rtype in removed:
            self._types.pop((rtype.group, rtype.version, rtype.plural), None)
        if removed:
            for stored in self._store.pop(removed[0].key, {}).values():
                self._rv += 1
                gone = copy.deepcopy(stored.obj)
                gone["metadata"]["resourceVersion"] = str(self._rv)
                self._emit(removed[0], "DELETED", gone)

    def _review(self, rtype: ResourceType, body: Any) -> Object:
        review = copy.deepcopy(body) if isinstance(body, dict) else {}
        review["apiVersion"], review["kind"] = rtype.api_version, rtype.kind
        if rtype.kind == "SelfSubjectAccessReview":
            attributes = (review.get("spec") or {}).get("resourceAttributes") or {}
            wanted = (
                attributes.get("verb", ""),
                attributes.get("group", ""),
                attributes.get("resource", ""),
            )
            allowed = wanted not in self.denied
            review["status"] = {
                "allowed": allowed,
                **({} if allowed else {"reason": "denied by the fake"}),
            }
        else:
            review["status"] = {
                "userInfo": {
                    "username": "fake-admin",
                    "groups": ["system:masters", "system:authenticated"],
                }
            }
        return review

    def _internal_create(self, obj: Object) -> Object:
        group = obj["apiVersion"].rpartition("/")[0]
        rtype = self.resource(f"{obj['kind']}.{group}" if group else obj["kind"])
        admitted = self._admit_new(rtype, obj["metadata"].get("namespace"), obj)
        owner = {("kube-apiserver", "Update"): _owned_fields(admitted, rtype)}
        return self._insert(rtype, admitted, owner, False)

    # ------------------------------------------------------------------ watches

    def _emit(self, rtype: ResourceType, kind: str, obj: Object, old: Object | None = None) -> None:
        self._events.append(
            Event(
                self._rv, rtype.key, kind, copy.deepcopy(obj), copy.deepcopy(old) if old else None
            )
        )
        self._event_rvs.append(self._rv)
        if len(self._events) > self.event_limit:
            drop = len(self._events) - self.event_limit
            self._oldest_rv = self._event_rvs[drop - 1]
            del self._events[:drop], self._event_rvs[:drop]
        self.changed.notify_all()

    def watch(
        self, target: str, headers: dict[str, str], read_timeout: float, transport: FakeTransport
    ) -> tuple[Response, Iterator[bytes]]:
        """A watch: the response head, then event lines as they happen."""
        url = urlsplit(target)
        path = url.path.rstrip("/")
        query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        with self.lock:
            self.counts["WATCH"] += 1
            user = self._user_of(headers)
            self.requests.append(
                RequestRecord("WATCH", path, url.query, _manager_of(headers), user=user)
            )
            try:
                self._inject("GET", path)
                self._authenticate(headers)
                route = self._route(path)
                if route.name is not None or route.sub is not None or route.rtype.review:
                    raise ApiFailure(
                        405, "MethodNotAllowed", "the server does not allow this method"
                    )
                if query.get("watch") not in ("true", "1"):
                    raise _bad_request("a stream needs watch=true")
                labels = parse_labels(query.get("labelSelector"))
                fields = parse_fields(query.get("fieldSelector"))
                version = query.get("resourceVersion") or ""
                if version and not version.isdigit():
                    raise _bad_request(f"invalid resourceVersion {version!r}")
            except SelectorError as err:
                failure = _bad_request(f"unable to parse requirement: {err}")
                return _response(failure.code, failure.body()), iter(())
            except ApiFailure as failure:
                return _response(failure.code, failure.body(), failure.headers), iter(())
            initial: list[bytes] = []
            if version in ("", "0"):
                start = self._rv
                for (namespace, _), stored in sorted(self._bucket(route.rtype).items()):
                    if (
                        (route.namespace is None or namespace == route.namespace)
                        and labels_match(labels, stored.obj)
                        and fields_match(fields, stored.obj)
                    ):
                        initial.append(_line("ADDED", self._out(route.rtype, stored.obj)))
            else:
                start = int(version)
            epoch = (self._stream_epoch, transport.epoch)
        seconds = float(query["timeoutSeconds"]) if query.get("timeoutSeconds") else None
        lines = self._stream(
            route, labels, fields, start, initial, seconds, read_timeout, epoch, transport, query
        )
        return _response(200, None), lines

    def _stream(
        self,
        route: Route,
        labels: list[Requirement],
        fields: list[tuple[str, bool, str]],
        position: int,
        pending: list[bytes],
        seconds: float | None,
        read_timeout: float,
        epoch: tuple[int, int],
        transport: FakeTransport,
        query: dict[str, str],
    ) -> Iterator[bytes]:
        last_data = time.monotonic()
        deadline = last_data + seconds if seconds is not None else float("inf")
        final = False
        while True:
            yield from pending
            if pending:
                last_data = time.monotonic()
            if final:
                return
            pending = []
            with self.changed:
                while not pending:
                    if self._down:
                        raise TransportError(ConnectionResetError(104, "Connection reset by peer"))
                    if (self._stream_epoch, transport.epoch) != epoch:
                        return
                    if position < self._oldest_rv:
                        expired = ApiFailure(
                            410,
                            "Expired",
                            f"too old resource version: {position} ({self._oldest_rv})",
                        )
                        pending, final = [_line("ERROR", expired.body())], True
                        break
                    first = bisect.bisect_right(self._event_rvs, position)
                    batch = self._events[first:]
                    if batch:
                        position = batch[-1].rv
                        pending = [
                            line
                            for e in batch
                            if (line := self._translate(e, route, labels, fields))
                        ]
                        continue
                    now = time.monotonic()
                    if now >= deadline:
                        if query.get("allowWatchBookmarks") != "true":
                            return
                        bookmark = {
                            "kind": route.rtype.kind,
                            "apiVersion": route.rtype.api_version,
                            "metadata": {"resourceVersion": str(self._rv)},
                        }
                        pending, final = [_line("BOOKMARK", bookmark)], True
                        break
                    if now - last_data >= read_timeout:
                        raise TransportError(TimeoutError("timed out"))
                    self.changed.wait(min(deadline - now, read_timeout - (now - last_data), 0.5))

    def _translate(
        self,
        event: Event,
        route: Route,
        labels: list[Requirement],
        fields: list[tuple[str, bool, str]],
    ) -> bytes | None:
        if event.key != route.rtype.key:
            return None

        def selected(obj: Object | None) -> bool:
            if obj is None:
                return False
            if route.namespace is not None and obj["metadata"].get("namespace") != route.namespace:
                return False
            return labels_match(labels, obj) and fields_match(fields, obj)

        now, before = selected(event.obj), selected(event.old)
        kind = event.type
        if kind == "MODIFIED":
            if now and not before:
                kind = "ADDED"
            elif before and not now:
                kind = "DELETED"
            elif not now:
                return None
        elif not now:
            return None
        return _line(kind, self._out(route.rtype, event.obj))


def _line(kind: str, obj: Object) -> bytes:
    return json.dumps({"type": kind, "object": obj}, separators=(",", ":")).encode() + b"\n"


def _decode(body: bytes | None, yaml_ok: bool = False) -> Any:
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        if yaml_ok:
            try:
                return yaml.safe_load(body)
            except yaml.YAMLError:
                pass
        raise _bad_request("the body of the request could not be decoded") from None


def _response(code: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    message = Message()
    message["Content-Type"] = "application/json"
    for key, value in (headers or {}).items():
        message[key] = value
    data = b"" if body is None else json.dumps(body, separators=(",", ":")).encode()
    reasons = {200: "OK", 201: "Created", 202: "Accepted"}
    return Response(code, reasons.get(code, "Error"), message, data)


def _deployment(obj: Object, old: Object | None) -> list[str]:
    """apps/v1 Deployment defaults and the validation that trips clients most."""
    spec = obj.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    strategy = spec.setdefault("strategy", {"type": "RollingUpdate"})
    if strategy.get("type", "RollingUpdate") == "RollingUpdate":
        strategy.setdefault("type", "RollingUpdate")
        strategy.setdefault("rollingUpdate", {"maxUnavailable": "25%", "maxSurge": "25%"})
    template = spec.get("template") or {}
    pod = template.setdefault("spec", {}) if isinstance(template, dict) else {}
    pod.setdefault("restartPolicy", "Always")
    pod.setdefault("terminationGracePeriodSeconds", 30)
    pod.setdefault("dnsPolicy", "ClusterFirst")
    pod.setdefault("securityContext", {})
    pod.setdefault("schedulerName", "default-scheduler")
    for container in pod.get("containers") or []:
        image = str(container.get("image", ""))
        latest = ":" not in image.rpartition("/")[2] or image.endswith(":latest")
        container.setdefault("imagePullPolicy", "Always" if latest else "IfNotPresent")
        container.setdefault("terminationMessagePath", "/dev/termination-log")
        container.setdefault("terminationMessagePolicy", "File")
        container.setdefault("resources", {})
    problems = []
    if not isinstance(spec.get("replicas"), int) or spec["replicas"] < 0:
        problems.append(
            f"spec.replicas: Invalid value: {spec.get('replicas')!r}: "
            "must be greater than or equal to 0"
        )
    selector = (spec.get("selector") or {}).get("matchLabels")
    labels = (
        ((template.get("metadata") or {}).get("labels") or {}) if isinstance(template, dict) else {}
    )
    if not spec.get("selector"):
        problems.append("spec.selector: Required value")
    elif selector and any(labels.get(k) != v for k, v in selector.items()):
        problems.append(
            "spec.template.metadata.labels: Invalid value: "
            "`selector` does not match template `labels`"
        )
    if not pod.get("containers"):
        problems.append("spec.template.spec.containers: Required value")
    if old is not None and (old.get("spec") or {}).get("selector") != spec.get("selector"):
        problems.append("spec.selector: Invalid value: field is immutable")
    return problems


# --------------------------------------------------------------------------- the transport


class FakeTransport(Transport):
    """`kubectl_fed.kube.transport.Transport` served by a FakeCluster: no sockets.

    `cluster` None is a server nobody answers for (the name does not resolve)."""

    def __init__(
        self,
        cluster: FakeCluster | None,
        server: str | None = None,
        *,
        token: str | None = None,
        user_agent: str | None = None,
        pool_size: int = 8,
    ) -> None:  # no super().__init__(): nothing to connect
        self.cluster = cluster
        self.server = server or (cluster.server if cluster else "https://nowhere.fake:6443")
        self.token = token
        self.user_agent = user_agent
        self.pool_size = pool_size
        self.epoch = 0  # close() ends the streams opened through this transport
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.auth_headers = lambda: dict(headers)

    def clone(self, pool_size: int) -> FakeTransport:
        return FakeTransport(
            self.cluster,
            self.server,
            token=self.token,
            user_agent=self.user_agent,
            pool_size=pool_size,
        )

    def _headers(self, headers: dict[str, str]) -> dict[str, str]:
        merged = {**headers, **dict(self.auth_headers())}
        if self.user_agent:
            merged["User-Agent"] = self.user_agent
        return merged

    def _reach(self) -> FakeCluster:
        if self.cluster is None:
            raise TransportError(socket.gaierror(-2, "Name or service not known"))
        if self.cluster.down:
            raise TransportError(ConnectionRefusedError(111, "Connection refused"))
        return self.cluster

    def request(
        self,
        method: str,
        target: str,
        headers: dict[str, str],
        body: bytes | None,
        timeout: float | None,
    ) -> Response:
        return self._reach().handle(method, target, self._headers(headers), body)

    def stream(
        self,
        target: str,
        headers: dict[str, str],
        connect_timeout: float | None,
        read_timeout: float,
    ) -> tuple[Response, Iterator[bytes]]:
        return self._reach().watch(target, self._headers(headers), read_timeout, self)

    def close(self) -> None:
        self.epoch += 1
        if self.cluster is not None:
            with self.cluster.changed:
                self.cluster.changed.notify_all()
