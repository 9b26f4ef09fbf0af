from __future__ import annotations

import copy
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubectl_fed.core.images import ImageError, ImageReference
from kubectl_fed.core.overrides import (
    OverrideError,
    apply_overrides,
    patches_for_cluster,
    rule_matches,
)

DIGEST = "sha256:" + "a" * 64


def deployment(containers: Any = None, init_containers: Any = None) -> Any:
    spec = {"containers": containers or [{"name": "web", "image": "nginx:1.25"}]}
    if init_containers:
        spec["initContainers"] = init_containers
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "ns", "labels": {"app": "web"}},
        "spec": {"replicas": 2, "template": {"metadata": {}, "spec": spec}},
    }


def policy(
    *overriders: Any, kind: Any = "OverridePolicy", name: Any = "op", target: Any = None
) -> Any:
    rules = [{"targetClusters": target, "overriders": o} for o in overriders]
    return {"kind": kind, "metadata": {"name": name}, "spec": {"overrideRules": rules}}


def patches(obj: Any, *overriders: Any, cluster: Any = "c1", labels: Any = None) -> Any:
    return patches_for_cluster(obj, [policy(*overriders)], cluster, labels or {})


def overridden(obj: Any, *overriders: Any) -> Any:
    return apply_overrides(obj, patches(obj, *overriders))


# --- targetClusters -------------------------------------------------------------------


def expr(key: Any, operator: Any, *values: Any) -> Any:
    return {"key": key, "operator": operator, "values": list(values)}


def affinity(*expressions: Any) -> Any:
    return {"clusterAffinity": [{"matchExpressions": list(expressions)}]}


LABELS = {"region": "eu", "size": "10"}


@pytest.mark.parametrize("target", [None, {}, {"clusters": [], "clusterSelector": {}}])
def test_empty_target_matches_every_cluster(target: Any) -> None:
    assert rule_matches(target, "c1", {})


@pytest.mark.parametrize(
    ("target", "matches"),
    [
        ({"clusters": ["c1", "c2"]}, True),
        ({"clusters": ["c2"]}, False),
        ({"clusterSelector": {"region": "eu"}}, True),
        ({"clusterSelector": {"region": "eu", "size": "9"}}, False),
        ({"clusterSelector": {"absent": ""}}, False),
        ({"clusters": ["c1"], "clusterSelector": {"region": "us"}}, False),
        ({"clusters": ["c1"], **affinity(expr("region", "In", "us"))}, False),
        (affinity(expr("region", "In", "eu", "us")), True),
        (affinity(expr("region", "In", "us")), False),
        (affinity(expr("region", "NotIn", "us")), True),
        (affinity(expr("absent", "NotIn", "us")), True),
        (affinity(expr("region", "NotIn", "eu")), False),
        (affinity(expr("region", "Exists")), True),
        (affinity(expr("absent", "Exists")), False),
        (affinity(expr("absent", "DoesNotExist")), True),
        (affinity(expr("region", "DoesNotExist")), False),
        (affinity(expr("size", "Gt", "9")), True),
        (affinity(expr("size", "Gt", "10")), False),
        (affinity(expr("size", "Lt", "11")), True),
        (affinity(expr("size", "Lt", "10")), False),
        (affinity(expr("region", "Gt", "1")), False),  # not a number: no match
        (affinity(expr("absent", "Lt", "1")), False),
        (affinity(expr("region", "In", "eu"), expr("size", "Gt", "20")), False),  # ANDed
        ({"clusterAffinity": [{}]}, False),  # an empty term selects nothing
        (
            {
                "clusterAffinity": [
                    {"matchExpressions": [expr("region", "In", "us")]},
                    {"matchExpressions": [expr("size", "In", "10")]},
                ]
            },
            True,
        ),  # terms ORed
        ({"clusterAffinity": [{"matchFields": [expr("metadata.name", "In", "c1")]}]}, True),
        ({"clusterAffinity": [{"matchFields": [expr("metadata.name", "NotIn", "c1")]}]}, False),
    ],
)
def test_rule_matches(target: Any, matches: Any) -> None:
    assert rule_matches(target, "c1", LABELS) is matches


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        (expr("region", "In"), r"In needs values \(on 'region'\)"),
        (expr("region", "NotIn"), "needs values"),
        (expr("region", "Exists", "eu"), "takes no values"),
        (expr("region", "DoesNotExist", "eu"), "takes no values"),
        (expr("size", "Gt", "ten"), "exactly one integer"),
        (expr("size", "Lt", "1", "2"), "exactly one integer"),
        (expr("region", "Like", "eu"), "unknown operator 'Like'"),
        (expr("", "Exists"), "needs a key"),
    ],
)
def test_malformed_affinity_is_an_error(expression: Any, message: Any) -> None:
    with pytest.raises(OverrideError, match=message):
        rule_matches(affinity(expression), "c1", LABELS)


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ({"clusterSelector": {"region": "not a value"}}, "clusterSelector: label value 'not a"),
        ({"clusterSelector": {"bad key!": "eu"}}, "clusterSelector: key 'bad key!'"),
        ({"clusterSelector": {"-x.io/region": "eu"}}, "the prefix must be a DNS subdomain"),
        ({"clusterSelector": {"size": 10}}, "clusterSelector must map strings to strings"),
        (affinity(expr("region", "In", "eu", "bad value")), "clusterAffinity: label value"),
        (affinity(expr("bad key!", "Exists")), "clusterAffinity: key 'bad key!'"),
        (affinity(expr("size", "Gt", "-1")), "clusterAffinity: label value '-1'"),
    ],
)
def test_malformed_labels_in_target_clusters_are_an_error(target: Any, message: Any) -> None:
    """KubeAdmiral's override controller fails on them (a label selector refuses them):
    the cluster gets ApplyOverridesFailed, never a copy without its overrides."""
    with pytest.raises(OverrideError, match=re.escape(message)):
        rule_matches(target, "c1", LABELS)
    rule = policy({"labels": [{"value": {"app": "x"}}]}, target=target)
    with pytest.raises(OverrideError, match=r"^OverridePolicy op rule 0: "):
        patches_for_cluster(deployment(), [rule], "c1", LABELS)


def test_a_malformed_selector_is_not_reached_for_a_cluster_the_rule_does_not_name() -> None:
    """As KubeAdmiral: names are matched first, and a cluster not named is simply no match."""
    target = {"clusters": ["c2"], "clusterSelector": {"region": "not a value"}}
    assert rule_matches(target, "c1", LABELS) is False


def test_malformed_field_selector_is_an_error() -> None:
    with pytest.raises(OverrideError, match=r"only metadata\.name"):
        rule_matches({"clusterAffinity": [{"matchFields": [expr("x", "In", "a")]}]}, "c1", {})


def test_only_matching_rules_produce_patches() -> None:
    labels = {"overriders": {"labels": [{"value": {"app": "other"}}]}}
    targeted = policy(labels["overriders"], target={"clusters": ["c2"]})
    assert patches_for_cluster(deployment(), [targeted], "c1", {}) == []
    assert patches_for_cluster(deployment(), [targeted], "c2", {}) != []


# --- image --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("image", "parts"),
    [
        ("nginx", ("", "nginx", "", "")),
        ("ealen/echo-server", ("", "ealen/echo-server", "", "")),
        ("localhost/app", ("localhost", "app", "", "")),
        ("localhost:5000/app:1", ("localhost:5000", "app", "1", "")),
        ("reg.io:443/a/b:v1.2@" + DIGEST, ("reg.io:443", "a/b", "v1.2", DIGEST)),
        ("nginx@" + DIGEST, ("", "nginx", "", DIGEST)),
    ],
)
def test_image_reference_parts(image: Any, parts: Any) -> None:
    reference = ImageReference.parse(image)
    assert (reference.registry, reference.repository, reference.tag, reference.digest) == parts
    assert str(reference) == image


@pytest.mark.parametrize(
    "image", ["", "Nginx", "nginx:", "nginx:bad tag", "nginx@sha256:short", "a//b"]
)
def test_bad_image_reference(image: Any) -> None:
    with pytest.raises(ImageError, match="bad image reference"):
        ImageReference.parse(image)


def image_op(component: Any, operator: Any, value: Any = "") -> Any:
    return {"imageComponent": component, "operator": operator, "value": value}


@pytest.mark.parametrize(
    ("image", "operation", "expected"),
    [
        ("nginx:1.25", image_op("Registry", "addIfAbsent", "reg.io"), "reg.io/nginx:1.25"),
        ("old.io/nginx:1.25", image_op("Registry", "overwrite", "reg.io"), "reg.io/nginx:1.25"),
        ("old.io/nginx:1.25", image_op("Registry", "delete"), "nginx:1.25"),
        (
            "reg.io/nginx:1.25",
            image_op("Repository", "overwrite", "team/web"),
            "reg.io/team/web:1.25",
        ),
        ("nginx", image_op("Tag", "addIfAbsent", "1.26"), "nginx:1.26"),
        ("nginx:1.25", image_op("Tag", "overwrite", "1.26"), "nginx:1.26"),
        ("nginx:1.25", image_op("Tag", "delete"), "nginx"),
        ("nginx:1.25", image_op("Digest", "addIfAbsent", DIGEST), f"nginx:1.25@{DIGEST}"),
        (
            f"nginx@{DIGEST}",
            image_op("Digest", "overwrite", "sha256:" + "b" * 64),
            "nginx@sha256:" + "b" * 64,
        ),
        (f"nginx:1@{DIGEST}", image_op("Digest", "delete"), "nginx:1"),
        ("nginx:1.25", {"imageComponent": "Tag", "value": "2"}, "nginx:2"),  # default overwrite
    ],
)
def test_image_operations(image: Any, operation: Any, expected: Any) -> None:
    obj = deployment([{"name": "web", "image": image}])
    result = overridden(obj, {"image": [{"operations": [operation]}]})
    assert result["spec"]["template"]["spec"]["containers"][0]["image"] == expected


@pytest.mark.parametrize(
    ("operation", "message"),
    [
        (image_op("Tag", "addIfAbsent", "2"), "addIfAbsent Tag: the image already has '1.25'"),
        (image_op("Registry", "addIfAbsent"), "addIfAbsent Registry needs a value"),
        (image_op("Tag", "overwrite", "bad tag!"), "bad image reference 'nginx:bad tag!'"),
        (image_op("Digest", "overwrite", "md5:1"), "bad image reference"),
        (image_op("Repository", "delete"), "bad image reference ':1.25'"),
        (image_op("Version", "overwrite", "1"), "unknown imageComponent 'Version'"),
        (image_op("Tag", "append", "1"), "unknown operator 'append'"),
    ],
)
def test_image_operation_errors(operation: Any, message: Any) -> None:
    with pytest.raises(OverrideError, match=message):
        patches(deployment(), {"image": [{"operations": [operation]}]})


def test_an_image_with_every_part_deleted_is_an_empty_image() -> None:
    """As KubeAdmiral prints it; deleting only some parts must still leave a reference."""
    operations = [
        image_op(component, "delete") for component in ("Registry", "Repository", "Tag", "Digest")
    ]
    obj = deployment([{"name": "web", "image": f"reg.io/team/web:1.25@{DIGEST}"}])
    result = overridden(obj, {"image": [{"operations": operations}]})
    assert result["spec"]["template"]["spec"]["containers"][0]["image"] == ""
    found = patches(obj, {"image": [{"operations": operations}]})
    assert found == [
        {"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": ""}
    ]
    # an empty image is no reference to start from
    again = {"image": [{"operations": operations}, {"operations": [image_op("Tag", "delete")]}]}
    with pytest.raises(OverrideError, match="bad image reference ''"):
        patches(obj, again)


def test_image_targets_all_containers_and_init_containers_by_default() -> None:
    obj = deployment(
        [{"name": "web", "image": "nginx"}, {"name": "sidecar", "image": "envoy"}],
        init_containers=[{"name": "init", "image": "busybox"}],
    )
    add_registry = {"operations": [image_op("Registry", "addIfAbsent", "reg.io")]}
    assert [p["path"] for p in patches(obj, {"image": [add_registry]})] == [
        "/spec/template/spec/initContainers/0/image",
        "/spec/template/spec/containers/0/image",
        "/spec/template/spec/containers/1/image",
    ]
    named = {**add_registry, "containerNames": ["sidecar", "init"]}
    assert [p["value"] for p in patches(obj, {"image": [named]})] == [
        "reg.io/busybox",
        "reg.io/envoy",
    ]
    misspelt = {**add_registry, "containerNames": ["sidecar", "absent"]}
    with pytest.raises(OverrideError, match="no container named absent"):
        patches(obj, {"image": [misspelt]})


def test_image_paths_of_pod_and_cronjob() -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "image": "a"}]},
    }
    cronjob = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "cj"},
        "spec": {
            "jobTemplate": {
                "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "a"}]}}}
            }
        },
    }
    tag = {"image": [{"operations": [image_op("Tag", "overwrite", "2")]}]}
    assert patches(pod, tag) == [
        {"op": "replace", "path": "/spec/containers/0/image", "value": "a:2"}
    ]
    assert (
        patches(cronjob, tag)[0]["path"]
        == "/spec/jobTemplate/spec/template/spec/containers/0/image"
    )


def test_image_path_for_other_kinds() -> None:
    custom = {
        "apiVersion": "example.com/v1",
        "kind": "App",
        "metadata": {"name": "a"},
        "spec": {"image": "app:1"},
    }
    overrider = {
        "image": [{"imagePath": "/spec/image", "operations": [image_op("Tag", "overwrite", "2")]}]
    }
    assert overridden(custom, overrider)["spec"]["image"] == "app:2"


@pytest.mark.parametrize(
    ("obj", "overrider", "message"),
    [
        (
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}},
            {"operations": [image_op("Tag", "overwrite", "2")]},
            "kind 'ConfigMap' has no pod template",
        ),
        (
            {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}, "spec": {}},
            {"operations": [image_op("Tag", "overwrite", "2")]},
            "no such path: /spec has no 'template'",
        ),
        (
            deployment(),
            {"imagePath": "/spec/replicas", "operations": []},
            "/spec/replicas is not an image string",
        ),
        (deployment(), {"imagePath": "/spec/nothing", "operations": []}, "no such path"),
    ],
)
def test_image_target_errors(obj: Any, overrider: Any, message: Any) -> None:
    with pytest.raises(OverrideError, match=message):
        patches(obj, {"image": [overrider]})


def test_unchanged_image_makes_no_patch() -> None:
    assert (
        patches(deployment(), {"image": [{"operations": [image_op("Tag", "overwrite", "1.25")]}]})
        == []
    )


# --- command and args -------------------------------------------------------------------------


def with_command(command: Any = None, args: Any = None) -> Any:
    container = {"name": "web", "image": "nginx"}
    if command is not None:
        container["command"] = command
    if args is not None:
        container["args"] = args
    return deployment([container], init_containers=[{"name": "init", "image": "busybox"}])


def web(obj: Any) -> Any:
    return obj["spec"]["template"]["spec"]["containers"][0]


@pytest.mark.parametrize("field", ["command", "args"])
@pytest.mark.parametrize(
    ("old", "operator", "value", "expected"),
    [
        (["a"], "append", ["b", "c"], ["a", "b", "c"]),
        (None, "append", ["b"], ["b"]),
        (["a"], "overwrite", ["x"], ["x"]),
        (["a"], None, ["x"], ["x"]),  # overwrite by default
        (["a", "b", "a"], "delete", ["a"], ["b"]),
    ],
)
def test_entrypoint_operators(
    field: Any, old: Any, operator: Any, value: Any, expected: Any
) -> None:
    obj = with_command(**{field: old})
    overrider = {"containerName": "web", "operator": operator, "value": value}
    assert web(overridden(obj, {field: [overrider]}))[field] == expected


def test_entrypoint_patch_adds_a_missing_field() -> None:
    assert patches(with_command(), {"args": [{"containerName": "web", "value": ["-v"]}]}) == [
        {"op": "add", "path": "/spec/template/spec/containers/0/args", "value": ["-v"]}
    ]


def test_entrypoint_targets_init_containers_too() -> None:
    result = overridden(with_command(), {"command": [{"containerName": "init", "value": ["sh"]}]})
    assert result["spec"]["template"]["spec"]["initContainers"][0]["command"] == ["sh"]


@pytest.mark.parametrize("field", ["command", "args", "envs"])
def test_an_overrider_naming_a_missing_container_is_an_error(field: str) -> None:
    # KubeAdmiral skips it in silence; a typo must not leave members without the override.
    value: Any = [{"name": "A", "value": "1"}] if field == "envs" else ["x"]
    with pytest.raises(OverrideError, match="no container named absent"):
        patches(with_command(["a"]), {field: [{"containerName": "absent", "value": value}]})


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("labels", {"bad key!": "x"}, "key 'bad key!'"),
        ("labels", {"ok": "a value with spaces"}, "label value"),
        ("labels", {"Bad_Prefix/x": "y"}, "DNS subdomain"),
        ("annotations", {"/x": "anything goes in a value"}, "prefix"),
    ],
)
def test_invalid_label_and_annotation_keys_are_errors(field: str, value: Any, message: str) -> None:
    with pytest.raises(OverrideError, match=message):
        patches(deployment(), {field: [{"operator": "overwrite", "value": value}]})


@pytest.mark.parametrize(
    ("overrider", "message"),
    [
        (
            {"containerName": "web", "operator": "append", "value": []},
            "append needs a non-empty value",
        ),
        (
            {"containerName": "web", "operator": "prepend", "value": ["x"]},
            "unknown operator 'prepend'",
        ),
        ({"value": ["x"]}, "containerName is required"),
    ],
)
def test_entrypoint_errors(overrider: Any, message: Any) -> None:
    with pytest.raises(OverrideError, match=message):
        patches(with_command(["a"]), {"command": [overrider]})


def test_entrypoint_on_a_kind_without_containers_is_an_error() -> None:
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}
    with pytest.raises(OverrideError, match="no pod template"):
        patches(config, {"args": [{"containerName": "web", "value": ["x"]}]})


# --- envs -------------------------------------------------------------------------------------


def with_env(*env: Any) -> Any:
    return deployment([{"name": "web", "image": "nginx", "env": list(env)}])


A, B, A2 = {"name": "A", "value": "1"}, {"name": "B", "value": "2"}, {"name": "A", "value": "9"}


@pytest.mark.parametrize(
    ("old", "operator", "value", "expected"),
    [
        ([A], "addIfAbsent", [B], [A, B]),
        ([A, B], "overwrite", [A2, {"name": "C", "value": "3"}], [A2, B]),  # only existing ones
        ([A, B], None, [A2], [A2, B]),
        ([A, B, A], "delete", [{"name": "A"}], [B]),
    ],
)
def test_env_operators(old: Any, operator: Any, value: Any, expected: Any) -> None:
    overrider = {"containerName": "web", "operator": operator, "value": value}
    assert web(overridden(with_env(*old), {"envs": [overrider]}))["env"] == expected


def test_env_added_to_a_container_without_env() -> None:
    obj = deployment()
    overrider = {"containerName": "web", "operator": "addIfAbsent", "value": [B]}
    assert patches(obj, {"envs": [overrider]}) == [
        {"op": "add", "path": "/spec/template/spec/containers/0/env", "value": [B]}
    ]


@pytest.mark.parametrize(
    ("overrider", "message"),
    [
        (
            {"containerName": "web", "operator": "addIfAbsent", "value": [A2]},
            "env 'A' already exists",
        ),
        (
            {"containerName": "web", "operator": "addIfAbsent", "value": []},
            "needs a non-empty value",
        ),
        (
            {"containerName": "web", "operator": "addIfAbsent", "value": [{"value": "x"}]},
            "needs a name",
        ),
        (
            {"containerName": "web", "operator": "replace", "value": [A]},
            "unknown operator 'replace'",
        ),
    ],
)
def test_env_errors(overrider: Any, message: Any) -> None:
    with pytest.raises(OverrideError, match=message):
        patches(with_env(A), {"envs": [overrider]})


# --- labels and annotations ---------------------------------------------------------------------


@pytest.mark.parametrize("field", ["labels", "annotations"])
@pytest.mark.parametrize(
    ("operator", "value", "expected"),
    [
        ("addIfAbsent", {"b": "2"}, {"a": "1", "b": "2"}),
        ("overwrite", {"a": "9", "c": "3"}, {"a": "9"}),  # only existing keys
        (None, {"a": "9"}, {"a": "9"}),
        ("delete", {"a": "", "c": ""}, {}),
    ],
)
def test_string_map_operators(field: Any, operator: Any, value: Any, expected: Any) -> None:
    obj = deployment()
    obj["metadata"][field] = {"a": "1"}
    result = overridden(obj, {field: [{"operator": operator, "value": value}]})
    assert result["metadata"][field] == expected


def test_annotations_added_when_absent() -> None:
    assert patches(
        deployment(), {"annotations": [{"operator": "addIfAbsent", "value": {"x": "y"}}]}
    ) == [{"op": "add", "path": "/metadata/annotations", "value": {"x": "y"}}]


@pytest.mark.parametrize(
    ("overrider", "message"),
    [
        ({"operator": "addIfAbsent", "value": {"app": "x"}}, "key 'app' already exists"),
        ({"operator": "addIfAbsent", "value": {}}, "needs a non-empty value"),
        ({"operator": "overwrite", "value": {"app": 1}}, "must map strings to strings"),
        ({"operator": "merge", "value": {"a": "b"}}, "unknown operator 'merge'"),
    ],
)
def test_string_map_errors(overrider: Any, message: Any) -> None:
    with pytest.raises(OverrideError, match=message):
        patches(deployment(), {"labels": [overrider]})


# --- jsonpatch ----------------------------------------------------------------------------------


def test_jsonpatch_operators() -> None:
    obj = deployment()
    result = overridden(
        obj,
        {
            "jsonpatch": [
                {"path": "/spec/replicas", "value": 5},  # replace by default
                {"operator": "add", "path": "/spec/paused", "value": True},
                {"operator": "remove", "path": "/metadata/labels/app"},
                {"operator": "add", "path": "/metadata/labels/example.com~1tier", "value": "web"},
            ]
        },
    )
    assert result["spec"]["replicas"] == 5
    assert result["spec"]["paused"] is True
    assert result["metadata"]["labels"] == {"example.com/tier": "web"}


@pytest.mark.parametrize(
    "path",
    ["/metadata/name", "/metadata/namespace", "/metadata/generateName", "/kind", "/metadata", ""],
)
def test_jsonpatch_refused_paths(path: Any) -> None:
    with pytest.raises(OverrideError, match="cannot be overridden"):
        patches(deployment(), {"jsonpatch": [{"path": path, "value": "x"}]})


def test_jsonpatch_replace_of_a_missing_key_adds_it_as_kubeadmiral_does() -> None:
    """KubeAdmiral's patch library adds a key a `replace` names inside an existing object
    (here the default operator): the cluster's other overrides still apply."""
    obj = deployment()
    result = overridden(
        obj,
        {
            "labels": [{"operator": "overwrite", "value": {"app": "shop"}}],
            "jsonpatch": [
                {"path": "/metadata/labels/tier", "value": "web"},
                {"operator": "replace", "path": "/spec/paused", "value": True},
            ],
        },
    )
    assert result["metadata"]["labels"] == {"app": "shop", "tier": "web"}
    assert result["spec"]["paused"] is True
    with pytest.raises(OverrideError, match="no such path: /metadata has no 'annotations'"):
        patches(obj, {"jsonpatch": [{"path": "/metadata/annotations/a", "value": "b"}]})


def test_error_messages_say_where_on_one_line() -> None:
    with pytest.raises(OverrideError) as raised:
        patches(deployment(), {"jsonpatch": [{"path": "/spec/x/y", "value": 1}]})
    assert str(raised.value) == (
        "OverridePolicy op rule 0 jsonpatch[0]: "
        "patch 0 (replace /spec/x/y): no such path: /spec has no 'x'"
    )
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize(
    ("overrider", "message"),
    [
        ({"operator": "move", "path": "/spec/a"}, "unknown operator 'move'"),
        ({"value": 1}, "needs a path"),
        ({"path": "spec/replicas", "value": 1}, "a JSON pointer starts with '/'"),
    ],
)
def test_jsonpatch_errors(overrider: Any, message: Any) -> None:
    with pytest.raises(OverrideError, match=message):
        patches(deployment(), {"jsonpatch": [overrider]})


# --- order and composition ----------------------------------------------------------------------


def test_cluster_policies_apply_first_and_later_overriders_see_earlier_ones() -> None:
    obj = deployment()
    add_sidecar = {
        "jsonpatch": [
            {
                "operator": "add",
                "path": "/spec/template/spec/containers/-",
                "value": {"name": "s", "image": "envoy"},
            }
        ]
    }
    add_registry = {"image": [{"operations": [image_op("Registry", "addIfAbsent", "reg.io")]}]}
    policies = [policy(add_registry), policy(add_sidecar, kind="ClusterOverridePolicy", name="cop")]
    result = apply_overrides(obj, patches_for_cluster(obj, policies, "c1", {}))
    images = [c["image"] for c in web_spec(result)["containers"]]
    assert images == ["reg.io/nginx:1.25", "reg.io/envoy"]


def web_spec(obj: Any) -> Any:
    return obj["spec"]["template"]["spec"]


def test_overriders_of_a_rule_apply_in_the_documented_order() -> None:
    obj = deployment()
    rule = {
        "jsonpatch": [{"path": "/metadata/labels/app", "value": "last"}],
        "labels": [{"value": {"app": "labels"}}],
        "annotations": [{"operator": "addIfAbsent", "value": {"a": "1"}}],
        "envs": [{"containerName": "web", "operator": "addIfAbsent", "value": [A]}],
        "args": [{"containerName": "web", "value": ["x"]}],
        "command": [{"containerName": "web", "value": ["y"]}],
        "image": [{"operations": [image_op("Tag", "overwrite", "2")]}],
    }
    produced = patches(obj, rule)
    assert [p["path"].rsplit("/", 1)[-1] for p in produced] == [
        "image",
        "command",
        "args",
        "env",
        "annotations",
        "labels",
        "app",
    ]
    assert apply_overrides(obj, produced)["metadata"]["labels"] == {"app": "last"}


def test_rules_see_earlier_rules() -> None:
    obj = deployment()
    first = {"labels": [{"operator": "addIfAbsent", "value": {"tier": "web"}}]}
    second = {"labels": [{"operator": "overwrite", "value": {"tier": "edge"}}]}
    assert overridden(obj, first, second)["metadata"]["labels"] == {"app": "web", "tier": "edge"}


def test_patches_for_cluster_does_not_mutate_its_inputs() -> None:
    obj, pol = deployment(), policy({"jsonpatch": [{"path": "/spec/replicas", "value": 1}]})
    before = copy.deepcopy((obj, pol))
    patches_for_cluster(obj, [pol], "c1", {})
    assert (obj, pol) == before


def test_malformed_policy_is_an_error_not_a_crash() -> None:
    broken = {
        "kind": "OverridePolicy",
        "metadata": {"name": "op"},
        "spec": {"overrideRules": [{"overriders": {"image": "x"}}]},
    }
    with pytest.raises(OverrideError, match="OverridePolicy op rule 0: image must be a list"):
        patches_for_cluster(deployment(), [broken], "c1", {})


# --- apply_overrides -----------------------------------------------------------------------


DOC: dict[str, Any] = {"a": {"b": 1, "c/d": 2, "e~f": 3}, "list": [1, 2, 3]}


@pytest.mark.parametrize(
    ("patch", "expected"),
    [
        ({"op": "add", "path": "/a/x", "value": 9}, {**DOC, "a": {**DOC["a"], "x": 9}}),
        ({"op": "add", "path": "/list/0", "value": 0}, {**DOC, "list": [0, 1, 2, 3]}),
        ({"op": "add", "path": "/list/3", "value": 4}, {**DOC, "list": [1, 2, 3, 4]}),
        ({"op": "add", "path": "/list/-", "value": 4}, {**DOC, "list": [1, 2, 3, 4]}),
        ({"op": "remove", "path": "/list/1"}, {**DOC, "list": [1, 3]}),
        ({"op": "remove", "path": "/a/c~1d"}, {**DOC, "a": {"b": 1, "e~f": 3}}),
        (
            {"op": "replace", "path": "/a/e~0f", "value": 0},
            {**DOC, "a": {"b": 1, "c/d": 2, "e~f": 0}},
        ),
        ({"op": "replace", "path": "/list/2", "value": None}, {**DOC, "list": [1, 2, None]}),
        (
            {"op": "move", "from": "/a/b", "path": "/list/0"},
            {"a": {"c/d": 2, "e~f": 3}, "list": [1, 1, 2, 3]},
        ),
        (
            {"op": "copy", "from": "/list", "path": "/a/l"},
            {**DOC, "a": {**DOC["a"], "l": [1, 2, 3]}},
        ),
        ({"op": "test", "path": "/a/b", "value": 1.0}, DOC),
        ({"op": "move", "from": "/a", "path": "/a"}, DOC),
        # evanphx/json-patch v5.6.0, as KubeAdmiral applies overrides with it:
        # a replace of a key missing from an existing object adds it,
        ({"op": "replace", "path": "/a/x", "value": 9}, {**DOC, "a": {**DOC["a"], "x": 9}}),
        # a patch without an op is a replace,
        ({"path": "/a/b", "value": 5}, {**DOC, "a": {**DOC["a"], "b": 5}}),
        # negative indexes count from the end, and Go's Atoi reads the index
        ({"op": "replace", "path": "/list/-1", "value": 0}, {**DOC, "list": [1, 2, 0]}),
        ({"op": "remove", "path": "/list/-3"}, {**DOC, "list": [2, 3]}),
        ({"op": "add", "path": "/list/-1", "value": 4}, {**DOC, "list": [1, 2, 3, 4]}),
        ({"op": "add", "path": "/list/-4", "value": 0}, {**DOC, "list": [0, 1, 2, 3]}),
        ({"op": "test", "path": "/list/-2", "value": 2}, DOC),
        ({"op": "remove", "path": "/list/01"}, {**DOC, "list": [1, 3]}),
        ({"op": "replace", "path": "/list/+0", "value": 7}, {**DOC, "list": [7, 2, 3]}),
    ],
)
def test_apply_overrides(patch: Any, expected: Any) -> None:
    document = copy.deepcopy(DOC)
    assert apply_overrides(document, [patch]) == expected
    assert document == DOC


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"op": "replace", "path": "/x/y", "value": 1}, "no such path: the document has no 'x'"),
        ({"op": "replace", "path": "/list/-1/x", "value": 1}, "/list/-1 is not an object"),
        ({"op": "remove", "path": "/x/y"}, "no such path: the document has no 'x'"),
        ({"op": "add", "path": "/a/b/c", "value": 1}, "/a/b is not an object or array"),
        ({"op": "add", "path": "/list/4", "value": 1}, "array index 4 is out of range"),
        ({"op": "replace", "path": "/list/3", "value": 1}, "array index 3 is out of range"),
        ({"op": "replace", "path": "/list/-", "value": 1}, "'-' is not an array index"),
        ({"op": "remove", "path": "/list/1.0"}, "'1.0' is not an array index"),
        ({"op": "remove", "path": "/list/-4"}, "array index -4 is out of range"),
        ({"op": "add", "path": "/list/-5", "value": 1}, "array index -5 is out of range"),
        ({"op": "remove", "path": "/a/x"}, "no such path: /a has no 'x'"),
        ({"op": "add", "path": "a", "value": 1}, "starts with '/'"),
        ({"op": "add", "path": "/a~2", "value": 1}, "'~' must be written '~0'"),
        ({"op": "add", "path": "/a"}, "add needs a value"),
        ({"op": "merge", "path": "/a", "value": 1}, "unknown op 'merge'"),
        ({"op": "move", "path": "/a/z"}, "move needs a from"),
        ({"op": "move", "from": "/a", "path": "/a/z"}, "cannot move a value into itself"),
        ({"op": "test", "path": "/a/b", "value": True}, "test failed"),
        ({"op": "test", "path": "/list", "value": [1, 2]}, "test failed"),
        ("add /a", "a patch must be an object"),
    ],
)
def test_apply_patch_errors(patch: Any, message: Any) -> None:
    with pytest.raises(OverrideError, match=message):
        apply_overrides(DOC, [patch])


def test_refused_paths_may_be_read_but_not_written() -> None:
    obj = deployment()
    read = [
        {"op": "test", "path": "/metadata/name", "value": "web"},
        {"op": "copy", "from": "/metadata/name", "path": "/metadata/labels/name"},
    ]
    assert apply_overrides(obj, read)["metadata"]["labels"]["name"] == "web"
    for patch in (
        {"op": "remove", "path": "/metadata/namespace"},
        {"op": "move", "from": "/metadata/generateName", "path": "/spec/x"},
        {"op": "copy", "from": "/spec/replicas", "path": "/kind"},
        {"op": "replace", "path": "/metadata/name/x", "value": 1},
    ):
        with pytest.raises(OverrideError, match="cannot be overridden"):
            apply_overrides(obj, [patch])


def test_patch_errors_say_which_patch() -> None:
    with pytest.raises(OverrideError, match=r"^patch 1 \(remove /nothing\): no such path"):
        apply_overrides(
            DOC, [{"op": "test", "path": "/a/b", "value": 1}, {"op": "remove", "path": "/nothing"}]
        )


# --- properties -------------------------------------------------------------------------------

label_maps = st.dictionaries(
    st.from_regex(r"[a-z0-9]([a-z0-9._-]{0,6}[a-z0-9])?", fullmatch=True),
    st.from_regex(r"([a-z0-9]([a-z0-9._-]{0,6}[a-z0-9])?)?", fullmatch=True),
    max_size=5,
)


@given(label_maps, st.data())
def test_a_policy_that_changes_nothing_yields_no_patches(labels: Any, data: Any) -> None:
    obj = deployment()
    obj["metadata"]["labels"] = labels
    same_values = data.draw(
        st.dictionaries(st.sampled_from(sorted(labels) or ["x"]), st.just(""), max_size=3)
    )
    same_values = {key: labels[key] for key in same_values if key in labels}
    no_op = [
        policy({"labels": [{"operator": "overwrite", "value": same_values}]}),
        policy(
            {"jsonpatch": [{"path": "/spec/replicas", "value": 3}]},
            target={"clusters": ["elsewhere"]},
        ),
        policy({"image": [{"operations": [image_op("Tag", "overwrite", "1.25")]}]}),
    ]
    produced = patches_for_cluster(obj, no_op, "c1", {})
    assert produced == []
    assert apply_overrides(obj, produced) == obj


@given(st.text(max_size=10), st.integers())
def test_adding_then_removing_any_key_is_identity(key: Any, value: Any) -> None:
    pointer = "/a/" + key.replace("~", "~0").replace("/", "~1")
    added = apply_overrides(DOC, [{"op": "add", "path": pointer, "value": value}])
    assert added["a"][key] == value
    if key not in DOC["a"]:
        assert apply_overrides(added, [{"op": "remove", "path": pointer}]) == DOC


def test_legacy_cluster_names_spelling_restricts_the_rule() -> None:
    from kubectl_fed.core.overrides import rule_matches

    assert rule_matches({"clusterNames": ["a"]}, "a", {})
    assert not rule_matches({"clusterNames": ["a"]}, "b", {})
