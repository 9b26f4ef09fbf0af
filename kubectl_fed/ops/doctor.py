"""`kubectl fed doctor`: check the federation, one verdict per check.

Host, the identity it takes the requests for (a SelfSubjectReview), CRDs, fed namespace,
the permissions sync needs (asked as SelfSubjectAccessReviews: questions, not writes),
every member, the sync lease, unsynced objects and templates whose policy is missing. The
`*_verdict` functions only turn dicts into Checks, so they are tested without a server.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kubectl_fed.core import kubeadmiral
from kubectl_fed.core.clock import utc_now
from kubectl_fed.core.federate import override_policies_of, policy_of
from kubectl_fed.core.federated_types import default_types
from kubectl_fed.core.lease import DURATION_S, LEASE_NAME, describe
from kubectl_fed.core.member_identity import (
    CredentialDescription,
    describe_credential,
    member_permissions,
)
from kubectl_fed.core.membership import condition, credentials_mode
from kubectl_fed.core.objects import key_of
from kubectl_fed.core.permissions import Permission, sync_permissions
from kubectl_fed.core.status import PROPAGATED
from kubectl_fed.crds import CRD_REVISION, REVISION_ANNOTATION
from kubectl_fed.errors import FedError
from kubectl_fed.kube.errors import ApiError, Forbidden, NotFound, Unauthorized
from kubectl_fed.kube.host import Host
from kubectl_fed.ops.init import CRD_PATH, HASH_ANNOTATION, desired_objects
from kubectl_fed.ops.objects import Object, find_condition, object_name, parallel
from kubectl_fed.planning.snapshot import HostSnapshot, federated_types, load

OK, WARN, FAIL = "OK", "WARN", "FAIL"
SSAR_PATH = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
SSR_PATH = "/apis/authentication.k8s.io/v1/selfsubjectreviews"
SHOWN_NAMES = 5  # how many offenders a doctor line names before "+N more"


@dataclass
class Check:
    name: str
    status: str  # OK | WARN | FAIL
    detail: str

    def as_dict(self) -> Object:
        return {"check": self.name, "status": self.status, "detail": self.detail}


def denied_text(denied: list[Permission]) -> str:
    """`verbs what` per resource: `get,list federatedobjects.core.kubeadmiral.io; ...`."""
    verbs: dict[str, list[str]] = {}
    for permission in denied:
        what = permission.describe().partition(" ")[2]
        verbs.setdefault(what, []).append(permission.verb)
    return _named([f"{','.join(v)} {what}" for what, v in verbs.items()], "; ")


def doctor(host: Host, timeout: float | None) -> list[Check]:
    """Every check, in order; a host that does not answer ends the list early."""
    try:
        version = host.kube.server_version()
    except ApiError as err:
        return [Check("host", FAIL, err.message)]
    checks = [
        Check("host", OK, f"{host.kube.server} answers: Kubernetes {version}"),
        _guarded("identity", lambda: _identity_check(host)),
    ]
    crds = _guarded("crds", lambda: crd_check(host))
    checks += [
        crds,
        _guarded("fed namespace", lambda: _namespace_check(host)),
        _guarded("permissions", lambda: _permission_check(host, api_ready=crds.status != FAIL)),
    ]
    if crds.status != FAIL:
        checks += _guarded_list("members", lambda: _member_checks(host, version, timeout))
    checks.append(_guarded("sync lease", lambda: _lease_check(host)))
    if crds.status != FAIL:
        checks += _guarded_list("federated objects", lambda: _object_checks(host))
    return checks


def _guarded(name: str, check: Callable[[], Check]) -> Check:
    try:
        return check()
    except FedError as err:
        return Check(name, FAIL, err.message)


def _guarded_list(name: str, checks: Callable[[], list[Check]]) -> list[Check]:
    try:
        return checks()
    except FedError as err:
        return [Check(name, FAIL, err.message)]


def _identity_check(host: Host) -> Check:
    """Who the host takes the requests for (a SelfSubjectReview: the apiserver's answer,
    impersonation included), as `kubectl auth whoami` shows it."""
    review = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
    try:
        answer = host.kube.create(SSR_PATH, review)
    except NotFound:
        return Check("identity", WARN, "cannot tell: the host serves no SelfSubjectReview API")
    except ApiError as err:
        return Check("identity", WARN, f"cannot tell: {err.message}")
    return Check("identity", OK, identity_text((answer.get("status") or {}).get("userInfo") or {}))


def identity_text(user_info: Mapping[str, Any]) -> str:
    """`viewer (uid u-1; groups g1, system:authenticated; extra scopes=a,b)`."""
    details = []
    if user_info.get("uid"):
        details.append(f"uid {user_info['uid']}")
    if user_info.get("groups"):
        details.append("groups " + ", ".join(user_info["groups"]))
    for key, values in sorted((user_info.get("extra") or {}).items()):
        details.append(f"extra {key}={','.join(values)}")
    name = user_info.get("username") or "<anonymous>"
    return f"{name} ({'; '.join(details)})" if details else str(name)


def crd_check(host: Host) -> Check:
    wanted = [
        o for o in desired_objects(host.fed_namespace) if o["kind"] == "CustomResourceDefinition"
    ]
    live: dict[str, Object | None] = {}
    for crd in wanted:
        name = crd["metadata"]["name"]
        try:
            live[name] = host.kube.get(f"{CRD_PATH}/{name}")
        except NotFound:
            live[name] = None
        except Forbidden:
            return _served_check(host)
    return crd_verdict(wanted, live)


def _served_check(host: Host) -> Check:
    """Without the right to read CRDs, discovery (open to every user) still tells whether
    the federation API is served, though not whether it is current."""
    host.require_api()
    return Check("crds", WARN, "the federation API is served; cannot read CRDs to check them")


def crd_verdict(wanted: list[Object], live: Mapping[str, Object | None]) -> Check:
    """Compare the bundled CRDs (hash-stamped as init installs them) with the host's."""
    missing: list[str] = []
    unready: list[str] = []
    outdated: list[str] = []
    newer: list[str] = []
    for crd in wanted:
        name = crd["metadata"]["name"]
        short = name.split(".")[0]
        found = live.get(name)
        if found is None:
            missing.append(short)
            continue
        annotations = found["metadata"].get("annotations") or {}
        if not _established(found):
            unready.append(short)
        if annotations.get(HASH_ANNOTATION) != crd["metadata"]["annotations"][HASH_ANNOTATION]:
            installed = _revision(annotations.get(REVISION_ANNOTATION))
            (newer if installed > _revision(CRD_REVISION) else outdated).append(short)
    if missing:
        return Check("crds", FAIL, f"missing: {_named(missing)}: run `kubectl fed init`")
    if unready:
        return Check("crds", FAIL, f"not Established: {_named(unready)}")
    if outdated:
        return Check("crds", WARN, f"outdated: {_named(outdated)}: run `kubectl fed init`")
    if newer:
        return Check("crds", WARN, f"installed by a newer kubectl-fed: {_named(newer)}")
    return Check("crds", OK, f"{len(wanted)} installed and current (revision {CRD_REVISION})")


def _established(crd: Object) -> bool:
    conditions = (crd.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions)


def _revision(value: Any) -> int:
    try:
        return int(value or 0)
    except ValueError:
        return 0


def _namespace_check(host: Host) -> Check:
    try:
        host.kube.get(f"/api/v1/namespaces/{host.fed_namespace}")
    except NotFound:
        return Check(
            "fed namespace", FAIL, f"{host.fed_namespace} is missing: run `kubectl fed init`"
        )
    return Check("fed namespace", OK, f"{host.fed_namespace} exists")


def _permission_check(host: Host, api_ready: bool) -> Check:
    types = default_types()
    # Not allowed to list FederatedTypeConfigs: the defaults, and the denial is reported.
    with contextlib.suppress(FedError):
        types = federated_types(host) if api_ready else types
    wanted = sync_permissions(host.fed_namespace, types)

    def allowed(permission: Permission) -> bool:
        answer = host.kube.create(SSAR_PATH, permission.review())
        return bool((answer.get("status") or {}).get("allowed"))

    answers = parallel(allowed, wanted)
    denied = [p for p, ok in zip(wanted, answers, strict=True) if not ok]
    if denied:
        return Check("permissions", FAIL, f"sync would be refused: {denied_text(denied)}")
    return Check("permissions", OK, f"all {len(wanted)} permissions sync needs are granted")


def _member_checks(host: Host, host_version: str, timeout: float | None) -> list[Check]:
    clusters = host.clusters()
    if not clusters:
        return [Check("members", WARN, "no members joined: use `kubectl fed join`")]
    checks = parallel(lambda c: _member_and_credentials(host, c, host_version, timeout), clusters)
    return [check for pair in checks for check in pair]


def _member_and_credentials(
    host: Host, cluster: Object, host_version: str, timeout: float | None
) -> list[Check]:
    name = cluster["metadata"]["name"]
    return [
        _member_check(host, cluster, host_version, timeout),
        _guarded(f"credentials {name}", lambda: _credentials_check(host, cluster, timeout)),
    ]


def _credentials_check(host: Host, cluster: Object, timeout: float | None) -> Check:
    """What the stored credential is, how long it lives, and whether it holds too much
    (cluster-admin) or too little (kinds the member identity's role lacks)."""
    name = cluster["metadata"]["name"]
    label = f"credentials {name}"
    mode = credentials_mode(cluster)
    if mode == "local":
        return Check(label, OK, "local: the kubeconfig context on this machine, nothing stored")
    secret = host.member_secret(cluster)
    if secret is None:
        return Check(label, FAIL, "the credential Secret is missing: join it again")
    described = describe_credential(name, mode, secret, host.fed_namespace, utc_now())
    if described.status == FAIL:
        return Check(label, FAIL, described.text)
    try:
        kube = host.connect_member(cluster, timeout)
    except FedError as err:
        return Check(label, FAIL, f"{described.text}; {err.message}")
    try:
        admin = _allowed(kube, Permission("*", "*", "*"))
        missing = (
            []
            if mode != "serviceaccount"
            else [p for p in member_permissions(federated_types(host)) if not _allowed(kube, p)]
        )
    except Unauthorized as err:  # a credential the member refuses can do nothing
        return Check(label, FAIL, f"{described.text}; {err.message}")
    except ApiError as err:
        return Check(label, WARN, f"{described.text}; cannot ask what it may do: {err.message}")
    finally:
        kube.close()
    return credentials_verdict(name, described, admin, [p.describe() for p in missing])


def _allowed(kube: Any, permission: Permission) -> bool:
    answer = kube.create(SSAR_PATH, permission.review())
    return bool((answer.get("status") or {}).get("allowed"))


def credentials_verdict(
    name: str, described: CredentialDescription, admin: bool, missing: list[str]
) -> Check:
    label = f"credentials {name}"
    if missing:
        return Check(
            label,
            FAIL,
            f"{described.text}; its role lacks {_named(missing)}: run "
            f"`kubectl fed join {name} --update-role`",
        )
    if admin:
        return Check(
            label,
            WARN,
            f"{described.text}; it is cluster-admin in {name}: whoever reads the Secret owns "
            f"the member (join it again without --credentials copy for a least-privilege "
            "identity)",
        )
    return Check(label, described.status, described.text)


def _member_check(host: Host, cluster: Object, host_version: str, timeout: float | None) -> Check:
    name = cluster["metadata"]["name"]
    try:
        kube = host.connect_member(cluster, timeout)
    except FedError as err:
        return Check(f"member {name}", FAIL, err.message)
    try:
        version = kube.server_version()
        # /version answers anyone: an authenticated request proves the credentials.
        kube.get("/api/v1/namespaces", limit=1)
    except Unauthorized:
        return Check(
            f"member {name}",
            FAIL,
            "answers, but refuses the stored credentials: join it again with --overwrite",
        )
    except ApiError as err:
        return Check(f"member {name}", FAIL, err.message)
    finally:
        kube.close()
    return member_verdict(name, version, host_version, condition(cluster, kubeadmiral.READY))


def minor_of(version: str) -> tuple[int, int] | None:
    found = re.match(r"v?(\d+)\.(\d+)", version)
    return (int(found.group(1)), int(found.group(2))) if found else None


def member_verdict(name: str, version: str, host_version: str, recorded_ready: str) -> Check:
    label = f"member {name}"
    mine, hosts = minor_of(version), minor_of(host_version)
    if mine and hosts and (mine[0] != hosts[0] or abs(mine[1] - hosts[1]) > 1):
        return Check(
            label, WARN, f"{version}: more than one minor version from the host's {host_version}"
        )
    if recorded_ready != "True":
        return Check(
            label,
            WARN,
            f"{version}, answers, but recorded Ready={recorded_ready}: the next sync "
            "(or `kubectl fed clusters --refresh`) corrects it",
        )
    return Check(label, OK, f"{version}, reachable, credentials accepted")


def _lease_check(host: Host) -> Check:
    path = f"/apis/coordination.k8s.io/v1/namespaces/{host.fed_namespace}/leases/{LEASE_NAME}"
    try:
        lease = host.kube.get(path)
    except NotFound:
        return Check("sync lease", OK, "free: no sync is running")
    holder, age = describe(lease)
    duration = (lease.get("spec") or {}).get("leaseDurationSeconds") or DURATION_S
    return lease_verdict(holder, age, duration)


def lease_verdict(holder: str, age: float | None, duration: float) -> Check:
    if age is not None and age < duration:
        return Check("sync lease", OK, f"held by {holder}, renewed {age:.0f}s ago")
    since = "never renewed" if age is None else f"not renewed for {age:.0f}s"
    return Check(
        "sync lease",
        WARN,
        f"held by {holder} but {since}: that sync stopped without releasing it "
        "(the next sync takes it over)",
    )


def _object_checks(host: Host) -> list[Check]:
    snap = load(host)
    checks = [objects_verdict(snap.federated_objects), templates_verdict(snap)]
    if snap.unserved:
        checks.append(
            Check("federated types", WARN, f"not served by the host: {_named(snap.unserved)}")
        )
    return checks


def objects_verdict(fos: list[Object]) -> Check:
    """FederatedObjects whose last sync is behind their spec, or that did not propagate."""
    unsynced, failing = [], []
    for fo in fos:
        namespace, name = key_of(fo)
        title = f"{namespace}/{name}" if namespace else name
        status_ = fo.get("status") or {}
        if fo["metadata"].get("generation") != status_.get("syncedGeneration"):
            unsynced.append(title)
        elif (find_condition(status_, PROPAGATED) or {}).get("status") != "True":
            failing.append(title)
    if not unsynced and not failing:
        return Check("federated objects", OK, f"{len(fos)} synced and propagated")
    problems = []
    if unsynced:
        problems.append(f"{len(unsynced)} not synced ({_named(unsynced)})")
    if failing:
        problems.append(f"{len(failing)} not propagated ({_named(failing)})")
    return Check(
        "federated objects",
        WARN,
        "; ".join(problems) + ": see `kubectl fed status -A`",
    )


def templates_verdict(snap: HostSnapshot) -> Check:
    """Templates that name a propagation or override policy which does not exist."""
    missing = []
    for template in snap.templates:
        namespace, name = template.key
        title = f"{object_name(template.obj.get('apiVersion', ''), template.type.kind, name)}"
        title += f" in {namespace}" if namespace else ""
        named = [policy_of(template.obj), *override_policies_of(template.obj)]
        for found in named:
            if found is not None and snap.policy(found[0], namespace, found[1]) is None:
                missing.append(f"{title} ({found[0]} {found[1]})")
    if missing:
        return Check("templates", WARN, f"policy missing: {_named(missing)}")
    return Check("templates", OK, f"{len(snap.templates)} federated, every policy found")


def _named(names: list[str], separator: str = ", ") -> str:
    shown = separator.join(names[:SHOWN_NAMES])
    more = len(names) - SHOWN_NAMES
    return shown + (f" (+{more} more)" if more > 0 else "")
