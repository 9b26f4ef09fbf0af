from __future__ import annotations

import pytest

from kubectl_fed.core.labels import requirement_matches, requirement_problem

LABELS = {"region": "eu", "size": "10", "name": "x"}


@pytest.mark.parametrize(
    ("key", "operator", "values", "expected"),
    [
        ("region", "In", ["eu", "us"], True),
        ("region", "In", ["us"], False),
        ("zone", "In", ["a"], False),
        ("region", "NotIn", ["us"], True),
        ("zone", "NotIn", ["a"], True),  # an absent label is not in any set
        ("region", "Exists", [], True),
        ("zone", "DoesNotExist", [], True),
        ("size", "Gt", ["9"], True),
        ("size", "Lt", ["10"], False),
        ("name", "Gt", ["0"], False),  # not an integer: never matches
        ("zone", "Lt", ["5"], False),
    ],
)
def test_requirement_matches(key: str, operator: str, values: list[str], expected: bool) -> None:
    assert requirement_problem(operator, values) is None
    assert requirement_matches(key, operator, values, LABELS) is expected


@pytest.mark.parametrize(
    ("operator", "values", "problem"),
    [
        ("Like", ["a"], "unknown operator 'Like'"),
        ("NotIn", [], "NotIn needs values"),
        ("Exists", ["a"], "Exists takes no values"),
        ("Gt", ["1", "2"], "Gt needs exactly one integer value"),
        ("Lt", ["x"], "Lt needs exactly one integer value"),
    ],
)
def test_requirement_problem(operator: str, values: list[str], problem: str) -> None:
    assert requirement_problem(operator, values) == problem
