"""One output layer for every listing command: table, wide, json, yaml, name, and kubectl's
jsonpath=, jsonpath-as-json= and custom-columns= over the document `-o json` prints.

It renders text; cli/terminal.py writes it (and colours it) on the terminal.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from kubectl_fed.core.clock import human_duration, parse

FORMATS = ("table", "wide", "json", "yaml", "name")
# kubectl's templated formats: `-o jsonpath=TEMPLATE`, `-o custom-columns=SPEC`.
TEMPLATED = ("jsonpath=", "jsonpath-as-json=", "custom-columns=")


class OutputError(ValueError):
    """A bad jsonpath template or custom-columns spec (a usage error)."""


def templated(fmt: str) -> bool:
    return fmt.startswith(TEMPLATED)


def check_format(fmt: str) -> None:
    """Parse a templated format once, before anything is read, so a typo fails fast."""
    if templated(fmt):
        render_document({"items": []}, fmt)


@dataclass(frozen=True)
class Column:
    header: str
    value: Callable[[Any], Any]
    wide_only: bool = False


def render(
    items: Sequence[Any],
    columns: Sequence[Column],
    fmt: str,
    *,
    no_headers: bool = False,
    as_object: Callable[[Any], Any] | None = None,
    name_of: Callable[[Any], str] | None = None,
    kind: str = "List",
) -> str:
    """Render items in the chosen format; json/yaml print objects, as kubectl does, and
    jsonpath/custom-columns read that same document."""
    if fmt in ("json", "yaml") or templated(fmt):
        objects = [as_object(i) if as_object else i for i in items]
        document = {"apiVersion": "v1", "kind": kind, "items": objects}
        return render_document(document, fmt, no_headers=no_headers)
    if fmt == "name":
        return "\n".join((name_of or str)(i) for i in items)
    shown = [c for c in columns if fmt == "wide" or not c.wide_only]
    rows = [[_cell(c.value(i)) for c in shown] for i in items]
    headers = [] if no_headers else [c.header for c in shown]
    return table(headers, rows)


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """kubectl's look, as its tabwriter lays it out (minwidth 6, padding 3): left-aligned
    columns, each as wide as its widest cell plus three spaces (six at least), nothing
    after the last column, no rules, full text. Written here rather than with tabulate:
    tabulate pads header tables by two more spaces and strips cell padding, so it cannot
    give these widths."""
    lines = [list(headers), *[list(row) for row in rows]] if headers else [list(r) for r in rows]
    if not lines:
        return ""
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]) - 1)]
    padded = [max(width + 3, 6) for width in widths]
    return "\n".join(
        ("".join(cell.ljust(w) for cell, w in zip(line, padded, strict=False)) + line[-1]).rstrip()
        for line in lines
    )


def render_document(
    document: Any, fmt: str, *, no_headers: bool = False, items_key: str = "items"
) -> str:
    """The document `-o json` prints, in fmt: json, yaml, a jsonpath template over the
    whole document, or custom columns over its items (document[items_key])."""
    from kubectl_fed.core import jsonpath

    name, _, spec = fmt.partition("=")
    try:
        if name in ("jsonpath", "jsonpath-as-json"):
            template = jsonpath.parse(spec)
            return template.execute(document, as_json=name == "jsonpath-as-json")
        if name == "custom-columns":
            return _custom_columns(spec, document.get(items_key) or [], no_headers)
    except jsonpath.JSONPathError as err:
        raise OutputError(f"error parsing {name} {spec!r}: {err}") from None
    return dump(document, fmt)


def _custom_columns(spec: str, items: Sequence[Any], no_headers: bool) -> str:
    """kubectl's custom-columns: HEADER:EXPR pairs, one row per item, several values of a
    cell joined by commas, `<none>` for nothing."""
    from kubectl_fed.core import jsonpath

    if not spec:
        raise OutputError("custom-columns format specified but no custom columns given")
    columns = []
    for part in spec.split(","):
        header, colon, expression = part.partition(":")
        if not colon or not header:
            raise OutputError(
                f"unexpected custom-columns spec: {part}, expected <header>:<json-path-expr>"
            )
        columns.append((header, jsonpath.parse(jsonpath.relaxed(expression))))
    rows = []
    for item in items:
        row = []
        for _, template in columns:
            found = jsonpath.find(template, item)
            row.append(",".join(_go_value(v) for v in found) if found else "<none>")
        rows.append(row)
    return table([] if no_headers else [h for h, _ in columns], rows)


def _go_value(value: Any) -> str:
    """A cell as kubectl's custom-columns prints it: Go's %v (maps as map[k:v])."""
    from kubectl_fed.core.jsonpath import go_text

    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{_go_value(v)}" for k, v in sorted(value.items())) + "]"
    if isinstance(value, list):
        return "[" + " ".join(_go_value(v) for v in value) + "]"
    return go_text(value)


def dump(document: Any, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(document, indent=2, sort_keys=False)
    import yaml

    return yaml.safe_dump(document, sort_keys=False, default_flow_style=False).rstrip("\n")


def dump_documents(documents: Sequence[Any], fmt: str) -> str:
    """Several objects: a YAML stream, or a JSON List (what kubectl apply -f accepts)."""
    if fmt == "json":
        if len(documents) == 1:
            return dump(documents[0], "json")
        return dump({"apiVersion": "v1", "kind": "List", "items": list(documents)}, "json")
    return "\n---\n".join(dump(d, "yaml") for d in documents)


def _cell(value: Any) -> str:
    if value is None or value == "":
        return "<none>"
    return str(value)


def age(timestamp: str | None, now: datetime | None = None) -> str:
    """AGE as kubectl prints it: 45s, 2m17s, 12m, 3h5m, 9h, 2d4h, 30d."""
    if not timestamp:
        return "<unknown>"
    then = parse(timestamp)
    assert then is not None
    return human_duration(((now or datetime.now(timezone.utc)) - then).total_seconds())
