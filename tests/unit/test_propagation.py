"""core/propagation.py: what counts as a member copy differing from what was sent."""

from __future__ import annotations

from kubectl_fed.core.propagation import differences


def test_an_empty_value_the_server_leaves_out_is_no_drift() -> None:
    """Go's omitempty drops an empty string (an image every part of which an override
    deleted): a copy without the field holds what was sent."""
    desired = {"spec": {"containers": [{"name": "web", "image": ""}], "paused": None}}
    live = {"spec": {"containers": [{"name": "web"}]}}
    assert differences(desired, live) == []


def test_a_value_missing_or_changed_in_the_member_is_drift() -> None:
    desired = {"data": {"image": "", "mode": "fast"}, "metadata": {"labels": {"a": "b"}}}
    assert differences(desired, {"data": {"image": "x", "mode": "fast"}}) == [
        "/data/image",
        "/metadata",
    ]
    assert differences(desired, {"data": {"image": ""}, "metadata": {"labels": {}}}) == [
        "/data/mode",
        "/metadata/labels/a",
    ]
