"""kubectl's JSONPath templates (`-o jsonpath=`, `-o custom-columns=`), pure.

The dialect is client-go's util/jsonpath, not RFC 9535 nor Goessner's: text around
`{...}` actions, `{range EXPR}...{end}`, quoted literals with Go escapes (`{"\\n"}`),
`@`/`$` as the current object (inside a range, the item), `..` recursive descent,
`[start:end:step]` slices with client-go's bounds errors, unions `[0,2]`, `['a.b']`
keys, filters `[?(@.x=="y")]` with `== != < > <= >= =~` and existence `[?(@.x)]`,
and kubectl's printing: scalars as Go prints them, maps and lists as compact JSON with
sorted keys, several results of one action joined by a space.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any


class JSONPathError(ValueError):
    pass


# --- nodes -----------------------------------------------------------------------------


@dataclass
class _Text:
    text: str


@dataclass
class _Field:
    name: str


@dataclass
class _Wildcard:
    pass


@dataclass
class _Recursive:
    pass


@dataclass
class _Array:
    params: tuple[tuple[int, bool, bool], ...]  # (value, known, derived) x3


@dataclass
class _Union:
    branches: list[list[Any]]


@dataclass
class _Filter:
    left: list[Any]
    right: list[Any]
    operator: str


@dataclass
class _Literal:
    value: Any  # int, float or bool


@dataclass
class _Identifier:
    name: str


@dataclass
class _Range:
    expression: list[Any]
    body: list[Any] = field(default_factory=list)


# --- parser ----------------------------------------------------------------------------

_DICT_KEY = re.compile(r"^'([^']*)'$")
_SLICE = re.compile(r"^(-?\d*)(:-?\d*)?(:-?\d*)?$")
_FILTER = re.compile(r"^([^!<>=]+)([!<>=~]+)(.+?)$", re.S)
_TERMINATORS = set(" \t\r\n.,[]$@{}")


def _is_alnum(char: str) -> bool:
    return char == "_" or char.isalnum()


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def peek(self, ahead: int = 0) -> str:
        at = self.pos + ahead
        return self.text[at] if at < len(self.text) else ""

    def startswith(self, prefix: str) -> bool:
        return self.text.startswith(prefix, self.pos)

    def template(self) -> list[tuple[str, Any]]:
        """Top level: ("text", str) and ("action", [nodes]) in order."""
        parts: list[tuple[str, Any]] = []
        while self.pos < len(self.text):
            brace = self.text.find("{", self.pos)
            if brace < 0:
                parts.append(("text", self.text[self.pos :]))
                break
            if brace > self.pos:
                parts.append(("text", self.text[self.pos : brace]))
            self.pos = brace + 1
            parts.append(("action", self.action(closing="}")))
        return parts

    def action(self, closing: str | None) -> list[Any]:
        """Nodes up to `closing` (consumed), or to the end of the text when None."""
        nodes: list[Any] = []
        while True:
            if closing is not None and self.startswith(closing):
                self.pos += len(closing)
                return nodes
            if self.startswith("[?("):
                nodes.append(self.filter())
                continue
            if self.startswith(".."):
                if nodes and isinstance(nodes[-1], _Recursive):
                    raise JSONPathError("invalid multiple recursive descent")
                self.pos += 2
                nodes.append(_Recursive())
                if _is_alnum(self.peek()):
                    nodes.append(self.field())
                continue
            char = self.peek()
            if char == "":
                if closing is None:
                    return nodes
                raise JSONPathError("unclosed action")
            if char in "\r\n":
                raise JSONPathError("unclosed action")
            if char in " @$":
                self.pos += 1
            elif char == "[":
                nodes.extend(self.array())
            elif char in "\"'":
                nodes.append(self.quote(char))
            elif char == ".":
                self.pos += 1
                nodes.append(self.field())
            elif char in "+-" or char.isdigit():
                nodes.append(self.number())
            elif _is_alnum(char):
                nodes.append(self.identifier())
            else:
                raise JSONPathError(f"unrecognized character in action: {char!r}")

    def field(self) -> Any:
        start = self.pos
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char == "\\":
                self.pos += 2
                continue
            if char in _TERMINATORS:
                break
            self.pos += 1
        value = self.text[start : self.pos]
        return _Wildcard() if value == "*" else _Field(value.replace("\\", ""))

    def identifier(self) -> Any:
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] not in _TERMINATORS:
            self.pos += 1
        value = self.text[start : self.pos]
        if value in ("true", "false"):
            return _Literal(value == "true")
        return _Identifier(value)

    def number(self) -> _Literal:
        start = self.pos
        if self.peek() in "+-":
            self.pos += 1
        while self.peek() == "." or self.peek().isdigit():
            self.pos += 1
        value = self.text[start : self.pos]
        try:
            return _Literal(int(value))
        except ValueError:
            pass
        try:
            return _Literal(float(value))
        except ValueError:
            raise JSONPathError(f"cannot parse number {value}") from None

    def quote(self, end: str) -> _Text:
        start = self.pos
        self.pos += 1
        while True:
            char = self.peek()
            if char in ("", "\n"):
                raise JSONPathError("unterminated quoted string")
            self.pos += 1
            if char == end and self.text[self.pos - 2] != "\\":
                break
        return _Text(_unquote(self.text[start : self.pos]))

    def array(self) -> list[Any]:
        end = self.pos + 1
        while True:
            if end >= len(self.text) or self.text[end] == "\n":
                raise JSONPathError("unterminated array")
            if self.text[end] == "]":
                break
            end += 1
        inner = self.text[self.pos + 1 : end]
        self.pos = end + 1
        if inner == "*":
            inner = ":"
        parts = inner.split(",")
        if len(parts) > 1:
            return [_Union([_parse_action(f"[{p.strip(' ')}]") for p in parts])]
        key = _DICT_KEY.match(inner)
        if key:
            return _parse_action(f".{key.group(1)}")
        found = _SLICE.match(inner)
        if not found:
            raise JSONPathError(f"invalid array index {inner}")
        params: list[tuple[int, bool, bool]] = []
        for i, raw in enumerate(found.groups()):
            if raw:
                text = raw[1:] if i > 0 else raw
                if i > 0 and text == "":
                    params.append((0, False, False))
                else:
                    try:
                        params.append((int(text), True, False))
                    except ValueError:
                        raise JSONPathError(f"array index {text} is not a number") from None
            elif i == 1:
                params.append((params[0][0] + 1, True, True))
            else:
                params.append((0, False, False))
        return [_Array(tuple(params))]

    def filter(self) -> _Filter:
        self.pos += 3
        start = self.pos
        begin = end = False
        pair = ""
        while True:
            char = self.peek()
            if char in ("", "\n"):
                raise JSONPathError("unterminated filter")
            self.pos += 1
            if char in "\"'":
                if not begin:
                    begin, pair = True, char
                elif self.text[self.pos - 2] != "\\" and char == pair:
                    end = True
            elif char == ")" and begin == end:
                break
        if self.peek() != "]":
            raise JSONPathError("unclosed array expect ]")
        self.pos += 1
        text = self.text[start : self.pos - 2]
        found = _FILTER.match(text)
        if not found:
            return _Filter(_parse_action(text), [], "exists")
        return _Filter(_parse_action(found.group(1)), _parse_action(found.group(3)), found.group(2))


def _parse_action(text: str) -> list[Any]:
    return _Parser(text).action(closing=None)


_GO_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}


def _unquote(quoted: str) -> str:
    """Go's strconv.Unquote, single quotes allowed for strings (client-go's UnquoteExtend)."""
    quote, body = quoted[0], quoted[1:-1]
    out: list[str] = []
    i = 0
    while i < len(body):
        char = body[i]
        if char == quote:
            raise JSONPathError(f"unquote string {quoted} error invalid syntax")
        if char != "\\":
            out.append(char)
            i += 1
            continue
        if i + 1 >= len(body):
            raise JSONPathError(f"unquote string {quoted} error invalid syntax")
        code = body[i + 1]
        if code in _GO_ESCAPES:
            out.append(_GO_ESCAPES[code])
            i += 2
        elif code in "\\'\"":
            if code in "'\"" and code != quote:
                raise JSONPathError(f"unquote string {quoted} error invalid syntax")
            out.append(code)
            i += 2
        elif code in "xuU":
            size = {"x": 2, "u": 4, "U": 8}[code]
            digits = body[i + 2 : i + 2 + size]
            if len(digits) != size or not re.fullmatch(r"[0-9a-fA-F]+", digits):
                raise JSONPathError(f"unquote string {quoted} error invalid syntax")
            out.append(chr(int(digits, 16)))
            i += 2 + size
        elif code in "01234567":
            digits = body[i + 1 : i + 4]
            if not re.fullmatch(r"[0-7]{3}", digits):
                raise JSONPathError(f"unquote string {quoted} error invalid syntax")
            out.append(chr(int(digits, 8)))
            i += 4
        else:
            raise JSONPathError(f"unquote string {quoted} error invalid syntax")
    return "".join(out)


# --- template --------------------------------------------------------------------------


@dataclass
class JSONPath:
    """A parsed template; `execute(data)` prints it as kubectl does."""

    parts: list[Any]  # str, list of nodes (an action), or _Range
    allow_missing_keys: bool = True

    def execute(self, data: Any, as_json: bool = False) -> str:
        out: list[str] = []
        self._run(self.parts, data, out, as_json)
        return "".join(out)

    def _run(self, parts: list[Any], current: Any, out: list[str], as_json: bool) -> None:
        for part in parts:
            if isinstance(part, str):
                out.append(_json_text([part]) if as_json else part)
            elif isinstance(part, _Range):
                for item in _Evaluator(self.allow_missing_keys).nodes([current], part.expression):
                    self._run(part.body, item, out, as_json)
            else:
                results = _Evaluator(self.allow_missing_keys).nodes([current], part)
                out.append(_json_text(results) if as_json else print_values(results))


def parse(template: str, allow_missing_keys: bool = True) -> JSONPath:
    """Parse a kubectl JSONPath template; JSONPathError says what is wrong with it."""
    stack: list[list[Any]] = [[]]
    for kind, value in _Parser(template).template():
        if kind == "text":
            stack[-1].append(value)
            continue
        head = value[0] if value else None
        if isinstance(head, _Identifier) and head.name == "range":
            block = _Range(value[1:])
            stack[-1].append(block)
            stack.append(block.body)
        elif isinstance(head, _Identifier) and head.name == "end":
            if len(stack) == 1:
                raise JSONPathError("not in range, nothing to end")
            stack.pop()
        else:
            for node in value:
                if isinstance(node, _Identifier):
                    raise JSONPathError(f"unrecognized identifier {node.name}")
            stack[-1].append(value)
    return JSONPath(stack[0], allow_missing_keys)


def relaxed(expression: str) -> str:
    """kubectl's relaxed form for custom-columns: `.a.b`, `a.b`, `{.a.b}` all mean `{.a.b}`."""
    found = re.match(r"^\{?(\.?[^{}]*)\}?$", expression)
    if not found:
        raise JSONPathError(
            f"unexpected path string, expected a 'name1.name2' or '.name1.name2' "
            f"or '{{name1.name2}}' or '{{.name1.name2}}': {expression}"
        )
    inner = found.group(1)
    return "{" + (inner if inner.startswith(".") else "." + inner) + "}"


def find(template: JSONPath, data: Any) -> list[Any]:
    """The values of a one-action template (custom-columns), without printing them."""
    found: list[Any] = []
    for part in template.parts:
        if isinstance(part, list):
            found += _Evaluator(template.allow_missing_keys).nodes([data], part)
    return found


# --- evaluation ------------------------------------------------------------------------

_MISSING = object()


class _Evaluator:
    def __init__(self, allow_missing_keys: bool) -> None:
        self.allow_missing = allow_missing_keys

    def nodes(self, values: list[Any], nodes: list[Any]) -> list[Any]:
        for node in nodes:
            values = self.node(values, node)
        return values

    def node(self, values: list[Any], node: Any) -> list[Any]:
        if isinstance(node, _Text):
            return [node.text]
        if isinstance(node, _Literal):
            return [node.value for _ in values]
        if isinstance(node, _Field):
            return self.field(values, node.name)
        if isinstance(node, _Array):
            return self.array(values, node)
        if isinstance(node, _Wildcard):
            return [child for value in values for child in _children(value)]
        if isinstance(node, _Recursive):
            return _recursive(values)
        if isinstance(node, _Union):
            return [found for branch in node.branches for found in self.nodes(values, branch)]
        if isinstance(node, _Filter):
            return self.filter(values, node)
        raise JSONPathError(f"unrecognized identifier {node.name}")

    def field(self, values: list[Any], name: str) -> list[Any]:
        if not values:
            return []
        found = [v[name] for v in values if isinstance(v, dict) and name in v]
        if not found and not self.allow_missing:
            raise JSONPathError(f"{name} is not found")
        return found

    def array(self, values: list[Any], node: _Array) -> list[Any]:
        result: list[Any] = []
        for value in values:
            if value is None:
                continue
            if not isinstance(value, list):
                raise JSONPathError(f"{_go_type(value)} is not array or slice")
            length = len(value)
            (start, start_known, _), (end, end_known, derived), (step, step_known, _) = node.params
            start = start if start_known else 0
            if start < 0:
                start += length
            end = end if end_known else length
            if end < 0 or (end == 0 and derived):
                end += length
            if end == start:
                return result
            if start >= length or start < 0:
                raise JSONPathError(f"array index out of bounds: index {start}, length {length}")
            if end > length or end < 0:
                raise JSONPathError(f"array index out of bounds: index {end - 1}, length {length}")
            if start > end:
                raise JSONPathError(f"starting index {start} is greater than ending index {end}")
            if step_known and step <= 0:
                raise JSONPathError("step must be > 0")
            result += value[start : end : step if step_known else 1]
        return result

    def filter(self, values: list[Any], node: _Filter) -> list[Any]:
        result = []
        for value in values:
            if not isinstance(value, list):
                raise JSONPathError(
                    f"{print_values([value])} is not array or slice and cannot be filtered"
                )
            for item in value:
                try:
                    lefts = self.nodes([item], node.left)
                except JSONPathError:
                    if node.operator != "exists":
                        raise
                    lefts = []
                if node.operator == "exists":
                    if lefts:
                        result.append(item)
                    continue
                if not lefts:
                    continue
                if len(lefts) > 1:
                    raise JSONPathError("can only compare one element at a time")
                rights = self.nodes([item], node.right)
                if not rights:
                    continue
                if len(rights) > 1:
                    raise JSONPathError("can only compare one element at a time")
                if _compare(lefts[0], rights[0], node.operator):
                    result.append(item)
        return result


def _children(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return list(value.values())
    if isinstance(value, list):
        return list(value)
    return []


def _recursive(values: list[Any]) -> list[Any]:
    """Every container at or under the values, parents first (client-go's order)."""
    result: list[Any] = []
    for value in values:
        children = _children(value)
        if children:
            result.append(value)
            result += _recursive(children)
    return result


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "other"


def _compare(left: Any, right: Any, operator: str) -> bool:
    if operator == "=~":
        if not isinstance(left, str) or not isinstance(right, str):
            raise JSONPathError(
                f"regexp search only support string now but getting pattern: {right!r}, "
                f"data: {left!r}"
            )
        return re.search(right, left) is not None
    if operator not in ("==", "!=", "<", ">", "<=", ">="):
        raise JSONPathError(f"unrecognized filter operator {operator}")
    kinds = (_kind(left), _kind(right))
    if operator in ("==", "!="):
        if kinds[0] != kinds[1] or "other" in kinds:
            raise JSONPathError("incompatible types for comparison")
        return bool(left == right) == (operator == "==")
    if kinds[0] != kinds[1] or kinds[0] not in ("number", "string"):
        raise JSONPathError("invalid type for comparison")
    return bool(
        {"<": left < right, ">": left > right, "<=": left <= right, ">=": left >= right}[operator]
    )


# --- printing --------------------------------------------------------------------------


def print_values(values: list[Any]) -> str:
    """One action's results as kubectl prints them: space-separated."""
    return " ".join(print_value(v) for v in values)


def print_value(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return go_json(value)
    return go_text(value)


def go_text(value: Any) -> str:
    """A scalar as Go's fmt prints it (%v)."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _go_float(value)
    return str(value)


def go_json(value: Any) -> str:
    """encoding/json's compact form: sorted keys, HTML characters escaped."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _json_text(results: list[Any]) -> str:
    return json.dumps(results, indent=4, sort_keys=True, ensure_ascii=False) + "\n"


def _go_float(value: float) -> str:
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    sign, digits, exponent = Decimal(repr(value)).normalize().as_tuple()
    assert isinstance(exponent, int)
    text = "".join(str(d) for d in digits)
    point = len(text) + exponent  # the decimal point's position in the digits
    minus = "-" if sign else ""
    if value == 0:
        return minus + "0"
    shown = point - 1
    if shown < -4 or shown >= 6:  # %v is %g at its shortest: exponent from 6 digits
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        return f"{minus}{mantissa}e{'-' if shown < 0 else '+'}{abs(shown):02d}"
    if point <= 0:
        return f"{minus}0.{'0' * -point}{text}"
    if point >= len(text):
        return minus + text + "0" * (point - len(text))
    return f"{minus}{text[:point]}.{text[point:]}"


def _go_type(value: Any) -> str:
    if isinstance(value, dict):
        return "map[string]interface {}"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int64"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    return type(value).__name__
