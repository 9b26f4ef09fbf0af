"""Checks of the bundled CRDs that need no API server.

- every schema is structural (the API server's rules, approximated);
- names, scopes, short names, categories, labels and annotations are as kubectl-fed expects;
- a small validator, approximating `kubectl apply --validate=strict` (unknown fields, types,
  enums, required fields), accepts every fixture manifest of our kinds and rejects typos.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubectl_fed.crds import CRD_GROUP, CRD_REVISION, REVISION_ANNOTATION, load_crds

FIXTURES = Path(__file__).resolve().parents[1] / "e2e" / "fixtures"
CRD_DIR = Path(__file__).resolve().parents[2] / "kubectl_fed" / "crds"
API_VERSION = f"{CRD_GROUP}/v1alpha1"

# kind: (plural, scope, short name)
EXPECTED: dict[str, tuple[str, str, str]] = {
    "FederatedCluster": ("federatedclusters", "Cluster", "fcluster"),
    "PropagationPolicy": ("propagationpolicies", "Namespaced", "pp"),
    "ClusterPropagationPolicy": ("clusterpropagationpolicies", "Cluster", "cpp"),
    "OverridePolicy": ("overridepolicies", "Namespaced", "op"),
    "ClusterOverridePolicy": ("clusteroverridepolicies", "Cluster", "cop"),
    "FederatedObject": ("federatedobjects", "Namespaced", "fo"),
    "ClusterFederatedObject": ("clusterfederatedobjects", "Cluster", "cfo"),
    "FederatedTypeConfig": ("federatedtypeconfigs", "Cluster", "ftc"),
}
PAIRS = [
    ("PropagationPolicy", "ClusterPropagationPolicy"),
    ("OverridePolicy", "ClusterOverridePolicy"),
    ("FederatedObject", "ClusterFederatedObject"),
]

CRDS = load_crds()
BY_KIND = {crd["spec"]["names"]["kind"]: crd for crd in CRDS}


def schema_of(kind: str) -> dict[str, Any]:
    schema: dict[str, Any] = BY_KIND[kind]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


# --------------------------------------------------------------------------------------------
# Structural schema checker
# --------------------------------------------------------------------------------------------

TYPES = {"object", "array", "string", "integer", "number", "boolean"}
SCHEMA_KEYS = {
    "type",
    "description",
    "properties",
    "additionalProperties",
    "items",
    "required",
    "enum",
    "default",
    "format",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "pattern",
    "minItems",
    "maxItems",
    "uniqueItems",
    "minProperties",
    "maxProperties",
    "nullable",
    "title",
    "example",
    "multipleOf",
    "anyOf",
    "allOf",
    "oneOf",
    "not",
    "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-int-or-string",
    "x-kubernetes-embedded-resource",
    "x-kubernetes-list-type",
    "x-kubernetes-list-map-keys",
    "x-kubernetes-map-type",
    "x-kubernetes-validations",
}
JUNCTORS = ("allOf", "anyOf", "oneOf", "not")
METADATA_SCHEMA_FIELDS = {"name", "generateName"}


def structural_errors(node: Any, path: str = "", at_root: bool = True) -> list[str]:
    """Errors that would make the API server refuse the schema as non-structural."""
    here = path or "<root>"
    if not isinstance(node, dict):
        return [f"{here}: schema node is not a mapping"]
    errors: list[str] = []
    for key in node:
        if key not in SCHEMA_KEYS:
            errors.append(f"{here}: unknown schema keyword {key!r}")
    typ = node.get("type")
    int_or_string = node.get("x-kubernetes-int-or-string") is True
    preserve = node.get("x-kubernetes-preserve-unknown-fields")
    if preserve is not None and preserve is not True:
        errors.append(f"{here}: x-kubernetes-preserve-unknown-fields must be true or absent")
    if typ is None and not int_or_string and preserve is not True:
        errors.append(f"{here}: no type (and not int-or-string / preserve-unknown-fields)")
    if typ is not None and typ not in TYPES:
        errors.append(f"{here}: bad type {typ!r}")
    if int_or_string and typ is not None:
        errors.append(f"{here}: int-or-string must not set a type")
    if preserve is True and typ not in (None, "object"):
        errors.append(f"{here}: preserve-unknown-fields on a {typ}")
    if "properties" in node and "additionalProperties" in node:
        errors.append(f"{here}: properties and additionalProperties together")
    if ("properties" in node or "additionalProperties" in node) and typ != "object":
        errors.append(f"{here}: properties/additionalProperties on a non-object")
    if "items" in node and typ != "array":
        errors.append(f"{here}: items on a non-array")
    if typ == "array" and not isinstance(node.get("items"), dict):
        errors.append(f"{here}: array without a single items schema")
    if (
        typ == "object"
        and "properties" not in node
        and "additionalProperties" not in node
        and preserve is not True
        and not (at_root and path == ".metadata")
    ):
        errors.append(f"{here}: object with no fields would be pruned to {{}}")
    for junctor in JUNCTORS:
        if junctor not in node:
            continue
        branches = node[junctor] if isinstance(node[junctor], list) else [node[junctor]]
        for branch in branches:
            allowed_int_or_string = (
                int_or_string
                and junctor == "anyOf"
                and set(branch) == {"type"}
                and branch["type"] in ("integer", "string")
            )
            forbidden = {"type", "description", "default", "additionalProperties", "nullable"}
            if set(branch) & forbidden and not allowed_int_or_string:
                errors.append(f"{here}: {junctor} sets {sorted(set(branch) & forbidden)}")
    required = node.get("required", [])
    for name in required:
        if name not in node.get("properties", {}):
            errors.append(f"{here}: required field {name!r} is not a property")
    if "enum" in node:
        for value in node["enum"]:
            errors += [
                f"{here}: enum value {value!r}: {p}" for p in value_problems(value, {"type": typ})
            ]
    if "default" in node:
        problems = value_problems(node["default"], node, path)
        errors += [f"{here}: default does not validate: {p}" for p in problems]
    if node.get("x-kubernetes-list-type") == "map":
        item = node.get("items", {})
        for key in node.get("x-kubernetes-list-map-keys", []):
            defaulted = "default" in item.get("properties", {}).get(key, {})
            if key not in item.get("required", []) and not defaulted:
                errors.append(f"{here}: list-map key {key!r} must be required or defaulted")
    if at_root and path == ".metadata":
        for name, sub in node.get("properties", {}).items():
            if name not in METADATA_SCHEMA_FIELDS or sub.get("type") != "string":
                errors.append(f"{here}: only name/generateName strings may be restricted")
    for name, sub in node.get("properties", {}).items():
        errors += structural_errors(sub, f"{path}.{name}", at_root and path == "")
    if isinstance(node.get("additionalProperties"), dict):
        errors += structural_errors(node["additionalProperties"], f"{path}.*", False)
    elif "additionalProperties" in node:
        errors.append(f"{here}: additionalProperties must be a schema")
    if isinstance(node.get("items"), dict):
        errors += structural_errors(node["items"], f"{path}[]", False)
    return errors


# --------------------------------------------------------------------------------------------
# Approximate strict validation of a value against a schema
# --------------------------------------------------------------------------------------------

OBJECT_META_FIELDS = {
    "name",
    "generateName",
    "namespace",
    "selfLink",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
    "managedFields",
}
DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def _type_ok(value: Any, typ: str) -> bool:
    if typ == "object":
        return isinstance(value, dict)
    if typ == "array":
        return isinstance(value, list)
    if typ == "string":
        return isinstance(value, str)
    if typ == "boolean":
        return isinstance(value, bool)
    if typ == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if typ == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    raise AssertionError(typ)


def value_problems(value: Any, schema: dict[str, Any], path: str = "") -> list[str]:
    """What strict field validation (plus schema validation) would object to."""
    here = path or "<root>"
    if value is None:
        # The API server prunes nulls of non-nullable fields instead of refusing them.
        return []
    if schema.get("x-kubernetes-int-or-string"):
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            return [f"{here}: expected int or string, got {type(value).__name__}"]
        return []
    typ = schema.get("type")
    if typ is None:
        return []  # untyped preserve-unknown-fields: anything goes
    if not _type_ok(value, typ):
        return [f"{here}: expected {typ}, got {type(value).__name__}"]
    problems: list[str] = []
    if "enum" in schema and value not in schema["enum"]:
        problems.append(f"{here}: {value!r} not in {schema['enum']}")
    if "minimum" in schema and value < schema["minimum"]:
        problems.append(f"{here}: {value} < {schema['minimum']}")
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        problems.append(f"{here}: longer than {schema['maxLength']}")
    if schema.get("format") == "date-time" and not DATE_TIME.match(value):
        problems.append(f"{here}: {value!r} is not a date-time")
    if typ == "array":
        for index, item in enumerate(value):
            problems += value_problems(item, schema["items"], f"{path}[{index}]")
    if typ == "object":
        for name in schema.get("required", []):
            if name not in value and "default" not in schema["properties"][name]:
                problems.append(f"{here}: missing required field {name!r}")
        properties = schema.get("properties")
        additional = schema.get("additionalProperties")
        for name, item in value.items():
            if properties is not None and name in properties:
                problems += value_problems(item, properties[name], f"{path}.{name}")
            elif isinstance(additional, dict):
                problems += value_problems(item, additional, f"{path}.{name}")
            elif not schema.get("x-kubernetes-preserve-unknown-fields"):
                problems.append(f'{here}: unknown field "{name}"')
    return problems


def manifest_problems(obj: dict[str, Any]) -> list[str]:
    kind = str(obj.get("kind"))
    if obj.get("apiVersion") != API_VERSION or kind not in BY_KIND:
        return [f"not one of our kinds: {obj.get('apiVersion')} {kind}"]
    schema = schema_of(kind)
    problems = value_problems({k: v for k, v in obj.items() if k != "metadata"}, schema)
    metadata = obj.get("metadata") or {}
    for name in metadata:
        if name not in OBJECT_META_FIELDS:
            problems.append(f'.metadata: unknown field "{name}"')
    meta_schema = schema["properties"]["metadata"]
    for name, sub in meta_schema.get("properties", {}).items():
        if name in metadata:
            problems += value_problems(metadata[name], sub, f".metadata.{name}")
    return problems


# --------------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------------


def fixture_objects() -> Iterator[tuple[str, dict[str, Any]]]:
    for path in sorted(FIXTURES.rglob("*.yaml")):
        rel = path.relative_to(FIXTURES).as_posix()
        for index, doc in enumerate(yaml.safe_load_all(path.read_text(encoding="utf-8"))):
            if doc is None:
                continue
            items = doc["items"] if doc.get("kind") == "List" else [doc]
            for item_index, item in enumerate(items):
                yield f"{rel}#{index}.{item_index}", item


OUR_OBJECTS = [
    (label, obj)
    for label, obj in fixture_objects()
    if str(obj.get("apiVersion", "")).startswith(f"{CRD_GROUP}/")
]
OUR_FIXTURES = [pytest.param(obj, id=label) for label, obj in OUR_OBJECTS]


# --------------------------------------------------------------------------------------------
# Tests: the CRD manifests
# --------------------------------------------------------------------------------------------


def test_one_crd_per_expected_kind() -> None:
    assert sorted(BY_KIND) == sorted(EXPECTED)
    assert len(CRDS) == len(EXPECTED)


def test_load_crds_is_sorted_deterministic_and_fresh() -> None:
    names = sorted(p.name for p in CRD_DIR.glob("*.yaml"))
    first = load_crds()
    stems = [n.split("_", 1)[1].removesuffix(".yaml") for n in names]
    assert [c["metadata"]["name"] for c in first] == [f"{stem}.{CRD_GROUP}" for stem in stems]
    first[0]["spec"]["group"] = "mutated"
    assert load_crds() == CRDS


@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_names_scope_and_short_names(kind: str) -> None:
    crd = BY_KIND[kind]
    plural, scope, short = EXPECTED[kind]
    assert crd["apiVersion"] == "apiextensions.k8s.io/v1"
    assert crd["metadata"]["name"] == f"{plural}.{CRD_GROUP}"
    spec = crd["spec"]
    assert spec["group"] == CRD_GROUP
    assert spec["scope"] == scope
    names = spec["names"]
    assert names["plural"] == plural
    assert names["singular"] == kind.lower()
    assert names["listKind"] == f"{kind}List"
    assert names["shortNames"] == [short]
    assert names["categories"] == ["kubeadmiral", "kubectl-fed"]


@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_file_name_matches_crd_name(kind: str) -> None:
    name = BY_KIND[kind]["metadata"]["name"]
    assert (CRD_DIR / f"{CRD_GROUP}_{name.split('.', 1)[0]}.yaml").is_file()


@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_labels_and_revision_annotation(kind: str) -> None:
    metadata = BY_KIND[kind]["metadata"]
    assert metadata["labels"]["app.kubernetes.io/managed-by"] == "kubectl-fed"
    assert metadata["annotations"][REVISION_ANNOTATION] == CRD_REVISION == "1"
    assert metadata["annotations"]["kubeadmiral.io/no-federated-resource"] == "true"


@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_single_served_storage_version_with_status(kind: str) -> None:
    versions = BY_KIND[kind]["spec"]["versions"]
    assert len(versions) == 1
    version = versions[0]
    assert version["name"] == "v1alpha1"
    assert version["served"] is True and version["storage"] is True
    assert "status" in schema_of(kind)["properties"]
    assert version["subresources"] == {"status": {}}


@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_schema_is_structural(kind: str) -> None:
    schema = schema_of(kind)
    assert schema["type"] == "object"
    assert {"apiVersion", "kind", "metadata", "spec", "status"} <= set(schema["properties"])
    assert structural_errors(schema) == []


def test_structural_checker_is_not_vacuous() -> None:
    broken = {
        "type": "object",
        "properties": {
            "a": {"description": "no type"},
            "b": {
                "type": "object",
                "properties": {"x": {"type": "string"}},
                "additionalProperties": {"type": "string"},
            },
            "c": {"type": "array"},
            "d": {"type": "object"},
            "e": {"type": "string", "desciption": "typo"},
            "f": {"type": "string", "enum": ["A"], "default": "B"},
            "g": {
                "type": "object",
                "x-kubernetes-preserve-unknown-fields": False,
                "properties": {},
            },
        },
    }
    errors = structural_errors(broken)
    for field in "abcdefg":
        assert any(e.startswith(f".{field}:") for e in errors), (field, errors)


def _resolve(schema: dict[str, Any], json_path: str) -> dict[str, Any] | None:
    """Walk a printer column's simple JSONPath through a schema (None: not in the schema)."""
    node: dict[str, Any] | None = schema
    for part in re.sub(r"\[[^\]]*\]", "[]", json_path).strip(".").split("."):
        array = part.endswith("[]")
        name = part.removesuffix("[]")
        if node is None or node.get("x-kubernetes-preserve-unknown-fields"):
            return node
        node = node.get("properties", {}).get(name)
        if array and node is not None:
            node = node.get("items")
    return node


@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_printer_columns(kind: str) -> None:
    version = BY_KIND[kind]["spec"]["versions"][0]
    columns = version["additionalPrinterColumns"]
    names = [c["name"] for c in columns]
    assert len(set(names)) == len(names)
    assert names[-1] == "Age"
    schema = schema_of(kind)
    for column in columns:
        assert column["type"] in {"integer", "number", "string", "boolean", "date"}
        assert column["jsonPath"].startswith(".")
        if column["jsonPath"] == ".metadata.creationTimestamp":
            continue
        assert _resolve(schema, column["jsonPath"]) is not None, column


def test_expected_printer_columns() -> None:
    def cols(kind: str) -> dict[str, dict[str, Any]]:
        return {
            c["name"]: c for c in BY_KIND[kind]["spec"]["versions"][0]["additionalPrinterColumns"]
        }

    fcluster = cols("FederatedCluster")
    assert fcluster["Ready"]["jsonPath"] == '.status.conditions[?(@.type=="Ready")].status'
    assert fcluster["Joined"]["jsonPath"] == '.status.conditions[?(@.type=="Joined")].status'
    assert fcluster["Endpoint"]["priority"] == 1
    assert cols("PropagationPolicy")["Mode"]["jsonPath"] == ".spec.schedulingMode"
    assert cols("ClusterPropagationPolicy")["Mode"]["jsonPath"] == ".spec.schedulingMode"
    for kind in ("FederatedObject", "ClusterFederatedObject"):
        fo = cols(kind)
        assert fo["Propagated"]["jsonPath"] == '.status.conditions[?(@.type=="Propagated")].status'
        assert fo["Synced Gen"]["jsonPath"] == ".status.syncedGeneration"


@pytest.mark.parametrize(("namespaced", "clustered"), PAIRS)
def test_pairs_share_one_schema(namespaced: str, clustered: str) -> None:
    def body(kind: str) -> dict[str, Any]:
        schema = copy.deepcopy(schema_of(kind))
        schema.pop("description")
        return schema

    assert body(namespaced) == body(clustered)
    ns_version = BY_KIND[namespaced]["spec"]["versions"][0]
    cl_version = BY_KIND[clustered]["spec"]["versions"][0]
    assert ns_version["additionalPrinterColumns"] == cl_version["additionalPrinterColumns"]


def test_kubectl_fed_additions_are_present_and_documented() -> None:
    fc_status = schema_of("FederatedCluster")["properties"]["status"]["properties"]
    assert fc_status["kubernetesVersion"]["type"] == "string"
    fc_text = (CRD_DIR / f"{CRD_GROUP}_federatedclusters.yaml").read_text(encoding="utf-8")
    assert re.search(r"# kubectl-fed addition.*\n(\s*#.*\n)*\s*kubernetesVersion:", fc_text)
    for kind in ("FederatedObject", "ClusterFederatedObject"):
        scheduling = schema_of(kind)["properties"]["status"]["properties"]["scheduling"]
        assert scheduling == {
            "description": scheduling["description"],
            "type": "object",
            "x-kubernetes-preserve-unknown-fields": True,
        }
    fo_text = (CRD_DIR / f"{CRD_GROUP}_federatedobjects.yaml").read_text(encoding="utf-8")
    assert re.search(r"# kubectl-fed addition.*\n(\s*#.*\n)*\s*scheduling:", fo_text)


def test_preserve_unknown_fields_only_where_content_is_arbitrary() -> None:
    allowed = {
        ("FederatedObject", ".spec.template"),
        ("FederatedObject", ".spec.overrides[].clusters[].patches[].value"),
        ("FederatedObject", ".status.scheduling"),
        ("OverridePolicy", ".spec.overrideRules[].overriders.jsonpatch[].value"),
        ("FederatedTypeConfig", ".spec.statusAggregation"),
        ("FederatedTypeConfig", ".spec.revisionHistory"),
        ("FederatedTypeConfig", ".spec.rolloutPlan"),
    }
    allowed |= {
        ("Cluster" + k, p) for k, p in allowed if k in ("FederatedObject", "OverridePolicy")
    }

    def walk(node: dict[str, Any], path: str) -> Iterator[str]:
        if node.get("x-kubernetes-preserve-unknown-fields"):
            yield path
        for name, sub in node.get("properties", {}).items():
            yield from walk(sub, f"{path}.{name}")
        if isinstance(node.get("items"), dict):
            yield from walk(node["items"], f"{path}[]")
        if isinstance(node.get("additionalProperties"), dict):
            yield from walk(node["additionalProperties"], f"{path}.*")

    found = {(kind, path) for kind in BY_KIND for path in walk(schema_of(kind), "")}
    assert found == allowed


# --------------------------------------------------------------------------------------------
# Tests: fixtures against the schemas
# --------------------------------------------------------------------------------------------


def test_fixtures_cover_every_kind() -> None:
    kinds = {obj["kind"] for _, obj in OUR_OBJECTS}
    assert kinds == set(EXPECTED)


@pytest.mark.parametrize("obj", OUR_FIXTURES)
def test_fixture_applies_strictly(obj: dict[str, Any]) -> None:
    assert manifest_problems(obj) == []


def test_walkthrough_policy_carries_the_older_fields() -> None:
    policy = yaml.safe_load((FIXTURES / "federalization-03-propagation-policy.yaml").read_text())
    spec = policy["spec"]
    older = {"replicaRescheduling", "stickyCluster", "schedulingProfile"}
    assert older | {"reschedulePolicy"} <= set(spec)
    assert manifest_problems(policy) == []


def _pp() -> dict[str, Any]:
    text = (FIXTURES / "federalization-03-propagation-policy.yaml").read_text()
    policy: dict[str, Any] = yaml.safe_load(text)
    return policy


def _fo() -> dict[str, Any]:
    text = (FIXTURES / "federalization-07-federatedobjects-get.yaml").read_text()
    fo: dict[str, Any] = yaml.safe_load(text)["items"][0]
    return fo


def _op() -> dict[str, Any]:
    text = (FIXTURES / "kubeadmiral-samples" / "op-every-overrider.yaml").read_text()
    op: dict[str, Any] = yaml.safe_load(text)
    return op


def _fc() -> dict[str, Any]:
    text = (FIXTURES / "kubeadmiral-samples" / "fcluster-taints-labels.yaml").read_text()
    fc: dict[str, Any] = yaml.safe_load(text)
    return fc


def _ftc() -> dict[str, Any]:
    text = (FIXTURES / "kubeadmiral-samples" / "ftc-current.yaml").read_text()
    ftc: dict[str, Any] = list(yaml.safe_load_all(text))[1]
    return ftc


def _typo_pp_mode(o: dict[str, Any]) -> None:
    o["spec"]["schedulingMod"] = o["spec"].pop("schedulingMode")


def _typo_pp_preference(o: dict[str, Any]) -> None:
    o["spec"]["placement"][0]["preference"] = o["spec"]["placement"][0].pop("preferences")


def _typo_pp_reschedule_when(o: dict[str, Any]) -> None:
    o["spec"]["reschedulePolicy"]["rescheduleWhen"]["clusterJoin"] = True


def _typo_op_jsonpatch(o: dict[str, Any]) -> None:
    overriders = o["spec"]["overrideRules"][0]["overriders"]
    overriders["jsonPatch"] = overriders.pop("jsonpatch")


def _typo_op_env_value_from(o: dict[str, Any]) -> None:
    env = o["spec"]["overrideRules"][0]["overriders"]["envs"][0]["value"][1]
    env["valueFrom"]["fieldRef"]["field"] = "x"


def _typo_fo_placement(o: dict[str, Any]) -> None:
    o["spec"]["placement"] = o["spec"].pop("placements")


def _typo_fo_status_cluster(o: dict[str, Any]) -> None:
    o["status"]["clusters"][0]["observedGeneration"] = 1


def _typo_fc_secret_ref(o: dict[str, Any]) -> None:
    o["spec"]["secretRef"]["namespace"] = "kube-admiral-system"


def _typo_ftc_path(o: dict[str, Any]) -> None:
    o["spec"]["pathDefinition"]["replicas"] = "spec.replicas"


def _bad_mode(o: dict[str, Any]) -> None:
    o["spec"]["schedulingMode"] = "Split"


def _bad_effect(o: dict[str, Any]) -> None:
    o["spec"]["taints"][0]["effect"] = "NoScheduleAtAll"


def _bad_weight(o: dict[str, Any]) -> None:
    o["spec"]["placement"][0]["preferences"]["weight"] = "1"


def _bad_metadata(o: dict[str, Any]) -> None:
    o["metadata"]["label"] = {"a": "b"}


@pytest.mark.parametrize(
    ("make", "mutate", "expected"),
    [
        (_pp, _typo_pp_mode, '.spec: unknown field "schedulingMod"'),
        (_pp, _typo_pp_preference, '.spec.placement[0]: unknown field "preference"'),
        (_pp, _typo_pp_reschedule_when, 'rescheduleWhen: unknown field "clusterJoin"'),
        (_op, _typo_op_jsonpatch, 'overriders: unknown field "jsonPatch"'),
        (_op, _typo_op_env_value_from, 'fieldRef: unknown field "field"'),
        (_fo, _typo_fo_placement, '.spec: unknown field "placement"'),
        (_fo, _typo_fo_status_cluster, 'unknown field "observedGeneration"'),
        (_fc, _typo_fc_secret_ref, '.spec.secretRef: unknown field "namespace"'),
        (_ftc, _typo_ftc_path, '.spec.pathDefinition: unknown field "replicas"'),
        (_pp, _bad_mode, "'Split' not in"),
        (_fc, _bad_effect, "'NoScheduleAtAll' not in"),
        (_pp, _bad_weight, "expected integer"),
        (_pp, _bad_metadata, '.metadata: unknown field "label"'),
    ],
)
def test_typos_and_bad_values_are_rejected(make: Any, mutate: Any, expected: str) -> None:
    obj = make()
    assert manifest_problems(obj) == []
    mutate(obj)
    problems = manifest_problems(obj)
    assert any(expected in p for p in problems), problems


def test_arbitrary_content_is_accepted_where_it_belongs() -> None:
    fo = _fo()
    fo["spec"]["template"]["spec"]["anything"] = {"goes": ["here", 1, None]}
    fo["status"]["scheduling"] = {"fingerprint": "abc", "clusters": {"m1": {"reason": "Selected"}}}
    fo["spec"]["overrides"] = [
        {
            "controller": "c",
            "clusters": [
                {
                    "cluster": "m1",
                    "patches": [
                        {"op": "add", "path": "/spec/replicas", "value": 3},
                        {"op": "add", "path": "/metadata/labels", "value": {"a": "b"}},
                    ],
                }
            ],
        },
    ]
    assert manifest_problems(fo) == []
    ftc = _ftc()
    for value in ("Enabled", {"enabled": True}):
        ftc["spec"]["statusAggregation"] = value
        assert manifest_problems(ftc) == []


def test_policy_names_are_label_values() -> None:
    pp = _pp()
    pp["metadata"]["name"] = "x" * 64
    assert any("longer than 63" in p for p in manifest_problems(pp))
