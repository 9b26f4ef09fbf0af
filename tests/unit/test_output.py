from __future__ import annotations

import json
from datetime import datetime, timezone

import yaml

from kubectl_fed.output import Column, age, render

ITEMS = [{"name": "a", "n": 1, "wide": "w"}, {"name": "b", "n": None, "wide": "x"}]
COLUMNS = [
    Column("NAME", lambda i: i["name"]),
    Column("N", lambda i: i["n"]),
    Column("WIDE", lambda i: i["wide"], wide_only=True),
]


def test_table_wide_and_no_headers() -> None:
    lines = render(ITEMS, COLUMNS, "table").splitlines()
    assert [line.split() for line in lines] == [["NAME", "N"], ["a", "1"], ["b", "<none>"]]
    assert lines[1].index("1") == lines[0].index(" N") + 1  # columns line up
    assert render(ITEMS, COLUMNS, "wide").splitlines()[0].split() == ["NAME", "N", "WIDE"]
    assert render(ITEMS, COLUMNS, "table", no_headers=True).splitlines()[0].split() == ["a", "1"]


def test_structured_and_name() -> None:
    assert json.loads(render(ITEMS, COLUMNS, "json"))["items"] == ITEMS
    assert yaml.safe_load(render(ITEMS, COLUMNS, "yaml"))["kind"] == "List"
    assert render(ITEMS, COLUMNS, "name", name_of=lambda i: f"x/{i['name']}") == "x/a\nx/b"


def test_age() -> None:
    now = datetime(2026, 1, 2, tzinfo=timezone.utc)
    assert age("2026-01-01T23:59:30Z", now) == "30s"
    assert age("2026-01-01T23:50:00Z", now) == "10m"
    assert age("2026-01-01T20:00:00Z", now) == "4h"
    assert age("2025-12-20T00:00:00Z", now) == "13d"
    assert age(None) == "<unknown>"


def test_tables_are_laid_out_as_kubectl_lays_them_out() -> None:
    # `kubectl get namespaces` prints exactly this for these rows (tabwriter: padding 3,
    # minwidth 6): three spaces after the widest cell of a column, none after the last.
    from kubectl_fed.output import table

    rows = [["default", "Active", "5m"], ["kube-node-lease", "Active", "5m"]]
    assert table(["NAME", "STATUS", "AGE"], rows) == (
        "NAME              STATUS   AGE\n"
        "default           Active   5m\n"
        "kube-node-lease   Active   5m"
    )
    assert table(["A", "B"], [["x", "y"]]) == "A     B\nx     y"  # minwidth 6, gap included
    assert table([], [["x", "a long message, never cut"]]) == "x     a long message, never cut"


def test_age_as_kubectl_prints_it() -> None:
    now = datetime(2026, 1, 10, tzinfo=timezone.utc)
    seconds_ago = {
        "2026-01-09T23:59:30Z": "30s",
        "2026-01-09T23:58:01Z": "119s",
        "2026-01-09T23:57:43Z": "2m17s",
        "2026-01-09T23:55:00Z": "5m",
        "2026-01-09T20:55:00Z": "3h5m",
        "2026-01-09T12:00:00Z": "12h",
        "2026-01-07T22:00:00Z": "2d2h",
        "2025-12-01T00:00:00Z": "40d",
        "2023-01-09T00:00:00Z": "3y2d",  # 1097 days: kubectl counts 365-day years
    }
    for stamp, shown in seconds_ago.items():
        assert age(stamp, now) == shown, stamp
