from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from kubectl_fed.core.mergepatch import merge_patch

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=3),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=2), inner, max_size=3)
    ),
    max_leaves=10,
)
documents = st.dictionaries(
    st.text(max_size=2), json_values.filter(lambda v: v is not None), max_size=4
)


def apply_merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386's reference algorithm."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = apply_merge_patch(result.get(key), value)
    return result


def test_examples() -> None:
    old = {"a": 1, "gone": {"x": 1}, "nested": {"keep": 1, "drop": 2}, "list": [1, 2]}
    new = {"a": 2, "nested": {"keep": 1}, "list": [1], "added": True}
    assert merge_patch(old, new) == {
        "a": 2,
        "gone": None,
        "nested": {"drop": None},
        "list": [1],
        "added": True,
    }
    assert merge_patch(new, new) == {}


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    return value


@given(documents, documents)
def test_applying_the_patch_gives_the_new_document(old: Any, new: Any) -> None:
    # Nulls inside objects cannot survive a merge patch, by the RFC's design.
    old, new = _without_nulls(old), _without_nulls(new)
    assert apply_merge_patch(old, merge_patch(old, new)) == new


def test_replacing_sets_new_whole_and_removes_what_old_had_beyond_it() -> None:
    from kubectl_fed.core.mergepatch import replacing

    old = {"resources": {"allocatable": {"cpu": "8"}, "schedulableNodes": 2}, "x": 1}
    new = {"resources": {"allocatable": {}, "schedulableNodes": 0}}
    assert replacing(old, new) == {
        "x": None,
        "resources": {"allocatable": {"cpu": None}, "schedulableNodes": 0},
    }
    assert replacing(None, {"a": 1}) == {"a": 1}
    assert replacing({"a": [1]}, {"a": [2]}) == {"a": [2]}
