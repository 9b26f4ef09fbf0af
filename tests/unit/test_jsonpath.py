"""client-go's util/jsonpath test table, ported: kubectl's dialect, case by case.

Go structs become dicts in their field order; maps print as JSON with sorted keys, as
encoding/json prints them.
"""

from __future__ import annotations

import pytest

from kubectl_fed.core.jsonpath import JSONPathError, find, parse, relaxed

TYPES = {
    "bools": [True, False, True, False],
    "integers": [1, 2, 3, 4],
    "floats": [1.0, 2.2, 3.3, 4.0],
    "strings": ["one", "two", "three", "four"],
    "interfaces": [True, "one", 1, 1.1],
    "maps": [
        {"name": "one", "value": 1},
        {"name": "two", "value": 2.02},
        {"name": "three", "value": 3.03},
        {"name": "four", "value": 4.04},
    ],
}

STORE = {
    "Book": [
        {
            "Category": "reference",
            "Author": "Nigel Rees",
            "Title": "Sayings of the Centurey",
            "Price": 8.95,
        },
        {
            "Category": "fiction",
            "Author": "Evelyn Waugh",
            "Title": "Sword of Honour",
            "Price": 12.99,
        },
        {"Category": "fiction", "Author": "Herman Melville", "Title": "Moby Dick", "Price": 8.99},
    ],
    "Bicycle": [
        {"Color": "red", "Price": 19.95, "IsNew": True},
        {"Color": "green", "Price": 20.01, "IsNew": False},
    ],
    "Name": "jsonpath",
    "Labels": {"engieer": 10, "web/html": 15, "k8s-app": 20},
    "Employees": {"jason": "manager", "dan": "clerk"},
}

NODES = {
    "kind": "List",
    "items": [
        {
            "kind": "None",
            "metadata": {"name": "127.0.0.1", "labels": {"kubernetes.io/hostname": "127.0.0.1"}},
            "status": {
                "capacity": {"cpu": "4"},
                "ready": True,
                "addresses": [{"type": "LegacyHostIP", "address": "127.0.0.1"}],
            },
        },
        {
            "kind": "None",
            "metadata": {"name": "127.0.0.2", "labels": {"kubernetes.io/hostname": "127.0.0.2"}},
            "status": {
                "capacity": {"cpu": "8"},
                "ready": False,
                "addresses": [
                    {"type": "LegacyHostIP", "address": "127.0.0.2"},
                    {"type": "another", "address": "127.0.0.3"},
                ],
            },
        },
    ],
    "users": [
        {"name": "myself", "user": {}},
        {"name": "e2e", "user": {"username": "admin", "password": "secret"}},
    ],
}

POINTS = [
    {"id": "i1", "x": 4, "y": -5},
    {"id": "i2", "x": -2, "y": -5, "z": 1},
    {"id": "i3", "x": 8, "y": 3},
    {"id": "i4", "x": -6, "y": -1},
    {"id": "i5", "x": 0, "y": 2, "z": 1},
    {"id": "i6", "x": 1, "y": 4},
]

PODS = {
    "items": [
        {
            "metadata": {"name": "pod1"},
            "spec": {
                "containers": [
                    {"name": "foo", "another": [{"name": "value1"}, {"name": "value2"}]},
                    {"name": "bar", "another": [{"name": "value1"}, {"name": "value2"}]},
                ]
            },
        },
        {
            "metadata": {"name": "pod2"},
            "spec": {
                "containers": [
                    {"name": "baz", "another": [{"name": "value1"}, {"name": "value2"}]},
                ]
            },
        },
    ]
}

CONTAINERS = {"spec": {"containers": [{"name": f"fake{i}"} for i in range(4)]}}
SIX = {"spec": {"containers": [{"name": f"fake{i}"} for i in range(6)]}}

ANNOTATED = {
    "kind": "List",
    "items": [
        {"kind": "Pod", "metadata": {"name": "pod1", "annotations": {"color": "blue"}}},
        {"kind": "Pod", "metadata": {"name": "pod2"}},
        {"kind": "Pod", "metadata": {"name": "pod3", "annotations": {"color": "green"}}},
        {"kind": "Pod", "metadata": {"name": "pod4", "annotations": {"color": "blue"}}},
    ],
}

RUNNING = {
    "kind": "List",
    "items": [
        *(
            {"kind": "Pod", "metadata": {"name": f"pod{i}"}, "status": {"phase": "Running"}}
            for i in (1, 2, 3)
        ),
        {"resourceVersion": ""},
    ],
}

ERROR = object()

# (template, input, expected output or ERROR), client-go's tests with missing keys an error.
STRICT = [
    ("{ .bools }", TYPES, "[true,false,true,false]"),
    ("{ .bools[0] }", TYPES, "true"),
    ("{ .bools[-1] }", TYPES, "false"),
    ("{ .bools[0:2] }", TYPES, "true false"),
    ("{ .bools[:2] }", TYPES, "true false"),
    ("{ .bools[:4:2] }", TYPES, "true true"),
    ("{ .integers }", TYPES, "[1,2,3,4]"),
    ("{ .integers[0] }", TYPES, "1"),
    ("{ .integers[-2] }", TYPES, "3"),
    ("{ .integers[0:2] }", TYPES, "1 2"),
    ("{ .integers[:4:2] }", TYPES, "1 3"),
    ("{ .floats[0] }", TYPES, "1"),
    ("{ .floats[-2] }", TYPES, "3.3"),
    ("{ .floats[0:2] }", TYPES, "1 2.2"),
    ("{ .floats[:4:2] }", TYPES, "1 3.3"),
    ("{ .strings }", TYPES, '["one","two","three","four"]'),
    ("{ .strings[0] }", TYPES, "one"),
    ("{ .strings[-2] }", TYPES, "three"),
    ("{ .strings[:4:2] }", TYPES, "one three"),
    ("{ .interfaces[0] }", TYPES, "true"),
    ("{ .interfaces[-2] }", TYPES, "1"),
    ("{ .interfaces[0:2] }", TYPES, "true one"),
    ("{ .interfaces[:4:2] }", TYPES, "true 1"),
    ("{ .maps[0] }", TYPES, '{"name":"one","value":1}'),
    ("{ .maps[-2] }", TYPES, '{"name":"three","value":3.03}'),
    ("{ .maps[::2] }", TYPES, '{"name":"one","value":1} {"name":"three","value":3.03}'),
    ("{ .maps[1::2] }", TYPES, '{"name":"two","value":2.02} {"name":"four","value":4.04}'),
    ("hello jsonpath", None, "hello jsonpath"),
    ("{..}", [1, 2, 3], "[1,2,3]"),
    ("{[?(@<5)]}", [2, 6, 3, 7], "2 3"),
    ('{"{"}', None, "{"),
    ("{[1,3,4]}", [0, 1, 2, 3, 4], "1 3 4"),
    ("{[0:2]}", ["Monday", "Tudesday"], "Monday Tudesday"),
    ("hello {.Name}", STORE, "hello jsonpath"),
    ("{$.Labels.web/html}", STORE, "15"),
    ("{$.Employees.jason}", STORE, "manager"),
    ("{$.Employees.dan}", STORE, "clerk"),
    ("{.Labels.k8s-app}", STORE, "20"),
    ("{.Bicycle[*].Color}", STORE, "red green"),
    ("{.Book[*].Author}", STORE, "Nigel Rees Evelyn Waugh Herman Melville"),
    (
        '{range .Bicycle[*]}{ "{" }{ @.* }{ "} " }{end}',
        STORE,
        "{red 19.95 true} {green 20.01 false} ",
    ),
    ("{..Price}", STORE, "8.95 12.99 8.99 19.95 20.01"),
    ("{...Price}", STORE, "8.95 12.99 8.99 19.95 20.01"),
    ("{" + "." * 60 + "Price}", STORE, ERROR),
    (
        "{.Bicycle}",
        STORE,
        '[{"Color":"red","IsNew":true,"Price":19.95},{"Color":"green","IsNew":false,"Price":20.01}]',
    ),
    (
        '{range .Bicycle[*]}{ @ }{ " " }{end}',
        STORE,
        '{"Color":"red","IsNew":true,"Price":19.95} {"Color":"green","IsNew":false,"Price":20.01} ',
    ),
    (
        "{.Book[-1:]}",
        STORE,
        '{"Author":"Herman Melville","Category":"fiction","Price":8.99,"Title":"Moby Dick"}',
    ),
    (
        "{..Book[2]}",
        STORE,
        '{"Author":"Herman Melville","Category":"fiction","Price":8.99,"Title":"Moby Dick"}',
    ),
    ("{.Bicycle[?(@.IsNew==true)]}", STORE, '{"Color":"red","IsNew":true,"Price":19.95}'),
    ("{.Bicycle[?(@.Color=~'.*ed.*')]}", STORE, '{"Color":"red","IsNew":true,"Price":19.95}'),
    ("{.Bicycle[?(@.Color=~'^g.*en.*')]}", STORE, '{"Color":"green","IsNew":false,"Price":20.01}'),
    (
        "{.Bicycle[?(@.Color=~'.*e.*')]}",
        STORE,
        '{"Color":"red","IsNew":true,"Price":19.95} {"Color":"green","IsNew":false,"Price":20.01}',
    ),
    ("{.Bicycle[?(@.IsNew=~'.*ue')]}", STORE, ERROR),
    ("{.Bicycle[?(@.Price=~'.*95')]}", STORE, ERROR),
    ("{[?(@.z)].id}", POINTS, "i2 i5"),
    ("{[0]['id']}", POINTS, "i1"),
    ("{range .items[*]}{.metadata.name}, {end}{.kind}", NODES, "127.0.0.1, 127.0.0.2, List"),
    ('{range .items[*]}{.metadata.name}{"\\t"}{end}', NODES, "127.0.0.1\t127.0.0.2\t"),
    ("{.items[*].status.addresses[*].address}", NODES, "127.0.0.1 127.0.0.2 127.0.0.3"),
    (
        "{range .items[*]}{range .status.addresses[*]}{.address}, {end}{end}",
        NODES,
        "127.0.0.1, 127.0.0.2, 127.0.0.3, ",
    ),
    ("{.items[*].metadata.name}", NODES, "127.0.0.1 127.0.0.2"),
    (
        "{.items[*]['metadata.name', 'status.capacity']}",
        NODES,
        '127.0.0.1 127.0.0.2 {"cpu":"4"} {"cpu":"8"}',
    ),
    (
        "{range .items[*]}[{.metadata.name}, {.status.capacity}] {end}",
        NODES,
        '[127.0.0.1, {"cpu":"4"}] [127.0.0.2, {"cpu":"8"}] ',
    ),
    ('{.users[?(@.name=="e2e")].user.password}', NODES, "secret"),
    ("{.items[0].metadata.labels.kubernetes\\.io/hostname}", NODES, "127.0.0.1"),
    ('{.items[?(@.metadata.labels.kubernetes\\.io/hostname=="127.0.0.1")].kind}', NODES, "None"),
    ("{.items[?(@..ready==true)].metadata.name}", NODES, "127.0.0.1"),
    (
        '{range .items[*]}{.metadata.name}{":"}{range @.spec.containers[*]}{.name}{","}{end}'
        '{"+"}{end}',
        PODS,
        "pod1:foo,bar,+pod2:baz,+",
    ),
    (
        '{range .items[*]}{.metadata.name}{"~"}{range @.spec.containers[*]}{.name}{":"}'
        '{range @.another[*]}{.name}{","}{end}{"+"}{end}{"#"}{end}',
        PODS,
        "pod1~foo:value1,value2,+bar:value1,value2,+#pod2~baz:value1,value2,+#",
    ),
    (
        '{range .items[*]}{.metadata.name}{"\\t"}{range @.spec.containers[*]}{.name}{" "}{end}'
        '{"\\t"}{range @.spec.containers[*]}{.name}{" "}{end}{"\\n"}{end}',
        PODS,
        "pod1\tfoo bar \tfoo bar \npod2\tbaz \tbaz \n",
    ),
    ('{.items[?(@.metadata.annotations.color=="blue")].metadata.name}', ANNOTATED, ERROR),
    ("{.spec.containers[0].name}", CONTAINERS, "fake0"),
    ("{.spec.containers[0:0].name}", CONTAINERS, ""),
    ("{.spec.containers[0:-1].name}", CONTAINERS, "fake0 fake1 fake2"),
    ("{.spec.containers[-1:0].name}", CONTAINERS, ERROR),
    ("{.spec.containers[-1].name}", CONTAINERS, "fake3"),
    ("{.spec.containers[-1:].name}", CONTAINERS, "fake3"),
    ("{.spec.containers[-2].name}", CONTAINERS, "fake2"),
    ("{.spec.containers[-2:].name}", CONTAINERS, "fake2 fake3"),
    ("{.spec.containers[-3].name}", CONTAINERS, "fake1"),
    ("{.spec.containers[-4].name}", CONTAINERS, "fake0"),
    ("{.spec.containers[-4:].name}", CONTAINERS, "fake0 fake1 fake2 fake3"),
    ("{.spec.containers[-5].name}", CONTAINERS, ERROR),
    ("{.spec.containers[5:5].name}", CONTAINERS, ""),
    ("{.spec.containers[-5:-5].name}", CONTAINERS, ""),
    ("{.spec.containers[3:1].name}", CONTAINERS, ERROR),
    ("{.spec.containers[-1:-2].name}", CONTAINERS, ERROR),
    ("{.spec.containers[0:].name}", SIX, "fake0 fake1 fake2 fake3 fake4 fake5"),
    ("{.spec.containers[0:6:].name}", SIX, "fake0 fake1 fake2 fake3 fake4 fake5"),
    ("{.spec.containers[0:6:1].name}", SIX, "fake0 fake1 fake2 fake3 fake4 fake5"),
    ("{.spec.containers[0:6:0].name}", SIX, ERROR),
    ("{.spec.containers[0:6:-1].name}", SIX, ERROR),
    ("{.spec.containers[1:4:2].name}", SIX, "fake1 fake3"),
    ("{.spec.containers[1:4:3].name}", SIX, "fake1"),
    ("{.spec.containers[1:4:4].name}", SIX, "fake1"),
    ("{.spec.containers[0:6:2].name}", SIX, "fake0 fake2 fake4"),
    ("{.spec.containers[0:6:3].name}", SIX, "fake0 fake3"),
    ("{.spec.containers[0:6:5].name}", SIX, "fake0 fake5"),
    ("{.spec.containers[0:6:6].name}", SIX, "fake0"),
]

# client-go's tests with missing keys allowed (kubectl's default).
LENIENT = [
    ("{.hello}", STORE, ""),
    ("before-{.hello}after", STORE, "before-after"),
    ("{range .items[*]}{.metadata.name}{end}", {"items": []}, ""),
    (
        '{range .items[*]}{.metadata.name}{":"}{range @.spec.containers[*]}{.name}{","}{end}'
        '{"+"}{end}',
        {"items": []},
        "",
    ),
    ('{.items[?(@.metadata.annotations.color=="blue")].metadata.name}', ANNOTATED, "pod1 pod4"),
    (
        '{range .items[?(.status.phase=="Running")]}{.metadata.name}{" is Running\\n"}{end}',
        RUNNING,
        "pod1 is Running\npod2 is Running\npod3 is Running\n",
    ),
]

# client-go's failure messages.
FAILURES = [
    ("{hello}", STORE, "unrecognized identifier hello"),
    ("{.hello}", STORE, "hello is not found"),
    ("{.Labels[0]}", STORE, "map[string]interface {} is not array or slice"),
    ("{.Book[?(@.Price<>10)]}", STORE, "unrecognized filter operator <>"),
    ("{range .Labels.*}{@}{end}{end}", STORE, "not in range, nothing to end"),
]


def run(template: str, data: object, allow_missing: bool) -> str:
    return parse(template, allow_missing_keys=allow_missing).execute(data)


@pytest.mark.parametrize(("template", "data", "expected"), STRICT)
def test_client_go_cases(template: str, data: object, expected: object) -> None:
    if expected is ERROR:
        with pytest.raises(JSONPathError):
            run(template, data, allow_missing=False)
    else:
        assert run(template, data, allow_missing=False) == expected


@pytest.mark.parametrize(("template", "data", "expected"), LENIENT)
def test_client_go_missing_keys_allowed(template: str, data: object, expected: str) -> None:
    assert run(template, data, allow_missing=True) == expected


@pytest.mark.parametrize(("template", "data", "message"), FAILURES)
def test_client_go_failures(template: str, data: object, message: str) -> None:
    with pytest.raises(JSONPathError, match=message.replace("[", r"\[").replace("{", r"\{")):
        run(template, data, allow_missing=False)


def test_recursive_names_in_any_order() -> None:
    assert sorted(run("{..name}", NODES, False).split()) == sorted(
        ["127.0.0.1", "127.0.0.2", "myself", "e2e"]
    )


@pytest.mark.parametrize(
    "template", ["{.a", "{.a[0}", '{"unterminated}', "{.a[?(@.b==1}", "{.a[x]}", "{#}"]
)
def test_malformed_templates_are_errors(template: str) -> None:
    with pytest.raises(JSONPathError):
        parse(template)


def test_literal_escapes_and_root() -> None:
    assert run("{$.a}{\"\\n\"}{'x\\ty'}", {"a": 1}, False) == "1\nx\ty"


def test_scalars_print_as_go_does() -> None:
    data = {"n": None, "f": 1e6, "g": 0.5, "s": "<a&b>", "m": {"k": "<v>"}}
    assert (
        run("{.n} {.f} {.g} {.s} {.m}", data, False)
        == '<nil> 1e+06 0.5 <a&b> {"k":"\\u003cv\\u003e"}'
    )


def test_relaxed_expressions_for_custom_columns() -> None:
    for spelling in (".metadata.name", "metadata.name", "{.metadata.name}", "{metadata.name}"):
        assert relaxed(spelling) == "{.metadata.name}"
    assert find(parse(relaxed(".spec.x[*]")), {"spec": {"x": [1, 2]}}) == [1, 2]


def test_json_output() -> None:
    assert parse("{.a[*]}").execute({"a": [1, 2]}, as_json=True) == "[\n    1,\n    2\n]\n"
