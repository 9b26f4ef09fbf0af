from __future__ import annotations

import pytest

from kubectl_fed.core.parsing import (
    ParseError,
    apply_taint_changes,
    check_cluster_name,
    format_taint,
    parse_duration,
    parse_labels,
    parse_taint,
    parse_taints,
)


def test_labels() -> None:
    assert parse_labels("region=eu, example.com/tier=1,empty=") == {
        "region": "eu",
        "example.com/tier": "1",
        "empty": "",
    }
    assert parse_labels(None) == {}


@pytest.mark.parametrize("text", ["novalue", "bad key=x", "k=bad value", "-k=v", "k=" + "x" * 64])
def test_bad_labels(text: str) -> None:
    with pytest.raises(ParseError):
        parse_labels(text)


def test_taints() -> None:
    assert parse_taints("a=b:NoSchedule,c:NoExecute") == [
        {"key": "a", "value": "b", "effect": "NoSchedule"},
        {"key": "c", "effect": "NoExecute"},
    ]
    assert parse_taint("a:NoSchedule-") == ({"key": "a", "effect": "NoSchedule"}, True)
    assert parse_taint("a-") == ({"key": "a"}, True)
    assert format_taint({"key": "a", "value": "b", "effect": "NoSchedule"}) == "a=b:NoSchedule"


@pytest.mark.parametrize("text", ["a=b", "a=b:Sometimes", "a:NoSchedule-", "bad key:NoSchedule"])
def test_bad_taints(text: str) -> None:
    with pytest.raises(ParseError):
        parse_taints(text)


def test_taint_changes_like_kubectl_taint() -> None:
    start = [{"key": "a", "value": "1", "effect": "NoSchedule"}]
    same = apply_taint_changes(start, [parse_taint("a=1:NoSchedule")], overwrite=False)
    assert same == start
    with pytest.raises(ParseError, match="--overwrite"):
        apply_taint_changes(start, [parse_taint("a=2:NoSchedule")], overwrite=False)
    replaced = apply_taint_changes(start, [parse_taint("a=2:NoSchedule")], overwrite=True)
    assert replaced == [{"key": "a", "value": "2", "effect": "NoSchedule"}]
    both = apply_taint_changes(start, [parse_taint("a:NoExecute")], overwrite=False)
    assert len(both) == 2
    assert apply_taint_changes(both, [parse_taint("a-")], overwrite=False) == []
    with pytest.raises(ParseError, match="not found"):
        apply_taint_changes([], [parse_taint("a-")], overwrite=False)
    assert start == [{"key": "a", "value": "1", "effect": "NoSchedule"}]  # input untouched


def test_durations_and_names() -> None:
    assert parse_duration("500ms") == 0.5
    assert parse_duration("2m") == 120
    assert parse_duration("7") == 7
    with pytest.raises(ParseError):
        parse_duration("soon")
    check_cluster_name("member-1")
    for bad in ("Member", "a_b", "-a", "x" * 64):
        with pytest.raises(ParseError):
            check_cluster_name(bad)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("0", 0), ("10", 10), ("10s", 10), ("1m30s", 90), ("500ms", 0.5), ("1.5h", 5400)],
)
def test_request_timeout_takes_kubectls_forms(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["soon", "-1", "-1s", "1m30", "7.5", "s", ""])
def test_request_timeout_refuses_what_kubectl_refuses(text: str) -> None:
    with pytest.raises(ParseError, match="invalid duration"):
        parse_duration(text)
