"""Local state: a small TOML file edited with tomlkit so comments and order survive.

Keys are dotted paths into the document (``host.context``, ``members.m1.context``).
Writes are atomic (temp file + rename) with mode 0600: the file may name
kubeconfig paths and contexts, which are nobody else's business.

The file is checked against a schema when it is loaded and before every write: an
unknown key, a value of the wrong type or an invalid value is refused, named by the
file and the key. Unknown keys are refused, not skipped: a misspelt `host.context`
would otherwise send every command to the kubeconfig's current context, another
cluster than the one meant.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.exceptions import ParseError
from tomlkit.items import Table
from tomlkit.toml_document import TOMLDocument

from kubectl_fed.core import parsing
from kubectl_fed.errors import FedError
from kubectl_fed.output import FORMATS

DEFAULT_FED_NAMESPACE = "kube-admiral-system"

NEW_FILE_HEADER = """\
# kubectl-fed local state. Edit with `kubectl fed config set KEY VALUE` or by hand;
# comments are kept.
"""

# Every key the file may hold, with what it means (shown by `config set --help`).
# NAME is a member joined with `--credentials local`.
KNOWN_KEYS = {
    "host.kubeconfig": "kubeconfig file of the host cluster",
    "host.context": "kubeconfig context of the host cluster",
    "host.fed-namespace": "namespace holding member credentials (default kube-admiral-system)",
    "defaults.request-timeout": "default --request-timeout, e.g. 10s",
    "defaults.output": "default -o for listing commands",
    "members.NAME.context": "kubeconfig context of member NAME (local credentials)",
    "members.NAME.kubeconfig": "kubeconfig file of member NAME (default: the host's)",
}
MEMBER_KEYS = ("context", "kubeconfig")


def config_path() -> Path:
    explicit = os.environ.get("KUBECTL_FED_CONFIG")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "kubectl-fed" / "config.toml"


@dataclass
class LocalState:
    path: Path
    document: TOMLDocument = field(default_factory=tomlkit.document)

    @classmethod
    def load(cls, path: Path | None = None, strict: bool = True) -> LocalState:
        """The state file; `strict` refuses one that breaks the schema (`config` commands,
        which are how such a file is mended, load it anyway)."""
        path = path or config_path()
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return cls(path)
        except OSError as err:
            raise FedError(f"cannot read {path}: {err.strerror}") from err
        try:
            state = cls(path, tomlkit.parse(text))
        except ParseError as err:
            raise FedError(f"{path}:{err.line}: invalid TOML: {_parse_reason(err)}") from err
        found = state.problems()
        if strict and found:
            more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
            raise FedError(f"{path}: {found[0]}{more}")
        return state

    def problems(self) -> list[str]:
        """`key: what is wrong`, in file order; empty when the file is valid."""
        return [f"{key}: {message}" for key, message in problems(_plain(self.document))]

    # -- reading

    def get(self, key: str) -> Any:
        node: Any = self.document
        for part in _split(key):
            if not isinstance(node, dict) or part not in node:
                return None
            node = node[part]
        return _plain(node)

    def member(self, name: str) -> dict[str, Any] | None:
        value = self.get(f"members.{name}")
        return value if isinstance(value, dict) else None

    def members(self) -> dict[str, dict[str, Any]]:
        value = self.get("members")
        return value if isinstance(value, dict) else {}

    # -- writing (each call persists atomically)

    def set(self, key: str, value: Any) -> None:
        """Set a known key to a valid value; refused (file untouched) when the result
        would have a problem the file has not already got."""
        parts = _split(key)
        try:
            check_key(key)
        except FedError as err:
            raise FedError(f"{self.path}: {err.message}") from None
        self._refuse_new_problems(key, _with(_plain(self.document), parts, value))
        *parents, leaf = parts
        node: Any = self.document
        for depth, part in enumerate(parents):
            if part not in node:
                # `members` holds only sub-tables: no empty `[members]` header for it.
                node[part] = tomlkit.table(is_super_table=depth < len(parents) - 1)
            node = node[part]
            if not isinstance(node, dict):
                raise FedError(f"{self.path}: cannot set {key}: {part} is not a table")
        node[leaf] = value
        self.save()

    def unset(self, key: str) -> bool:
        *parents, leaf = _split(key)
        node: Any = self.document
        for part in parents:
            if not isinstance(node, dict) or part not in node:
                return False
            node = node[part]
        if not isinstance(node, dict) or leaf not in node:
            return False
        self._refuse_new_problems(key, _without(_plain(self.document), _split(key)))
        del node[leaf]
        self.save()
        return True

    def _refuse_new_problems(self, key: str, after: dict[str, Any]) -> None:
        before = set(problems(_plain(self.document)))
        new = [p for p in problems(after) if p not in before]
        if new:
            bad_key, message = new[0]
            cause = "" if bad_key == key else f" (after changing {key})"
            raise FedError(f"{self.path}: {bad_key}: {message}{cause}")

    def set_member(self, name: str, values: dict[str, str]) -> None:
        members = self.document.get("members")
        if members is None:
            members = tomlkit.table(is_super_table=True)
            self.document["members"] = members
        table = tomlkit.table()
        for key, value in values.items():
            table[key] = value
        members[name] = table
        self.save()

    def text(self) -> str:
        return tomlkit.dumps(self.document)

    def save(self) -> None:
        text = self.text()
        if not self.path.exists() and not text.startswith("#"):
            text = NEW_FILE_HEADER + text
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".config.", suffix=".toml", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self.document = tomlkit.parse(text)


def _split(key: str) -> list[str]:
    parts = key.split(".")
    if not key or any(not part for part in parts):
        raise FedError(f"invalid key {key!r}: use dotted names such as host.context")
    return parts


def _plain(node: Any) -> Any:
    """tomlkit items -> plain Python values (for printing and comparisons)."""
    if isinstance(node, (Table, dict)):
        return {str(k): _plain(v) for k, v in node.items()}
    if hasattr(node, "unwrap"):
        return node.unwrap()
    return node


def _parse_reason(err: ParseError) -> str:
    # tomlkit appends " at line L col C" to its message; the line is already in front.
    message = str(err)
    return message.split(" at line ")[0]


# --------------------------------------------------------------------------- schema


def check_key(key: str) -> None:
    """Refuse a key the file may not hold, listing those it may."""
    parts = _split(key)
    known = parts[0] == "members" and len(parts) == 3 and parts[2] in MEMBER_KEYS
    if not known and key not in KNOWN_KEYS:
        raise FedError(f"unknown key {key!r}: known keys are {', '.join(KNOWN_KEYS)}")


def problems(data: dict[str, Any]) -> list[tuple[str, str]]:
    """(key, what is wrong) for every place `data` (the plain document) breaks the schema."""
    found: list[tuple[str, str]] = []
    for section, value in data.items():
        check = _SECTIONS.get(section)
        if check is None:
            found.append((section, f"unknown key (known: {', '.join(_SECTIONS)})"))
        elif not isinstance(value, dict):
            found.append((section, f"must be a table, not {_type_name(value)}"))
        else:
            found += check(section, value)
    return found


def _string(value: Any) -> str:
    if not isinstance(value, str):
        return f"must be a string, not {_type_name(value)}"
    return "" if value else "must not be empty"


def _namespace(value: Any) -> str:
    return _string(value) or (
        "" if parsing.DNS_LABEL.match(value) else f"invalid namespace name {_quoted(value)}"
    )


def _duration(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return f"must be a duration such as 10s, not {_type_name(value)}"
    try:
        parsing.parse_duration(str(value))
    except parsing.ParseError:
        return f"invalid duration {_quoted(value)} (use e.g. 10s, 1m or 500ms)"
    return ""


def _output(value: Any) -> str:
    return _string(value) or (
        "" if value in FORMATS else f"invalid output {_quoted(value)} (use {'|'.join(FORMATS)})"
    )


Problem = tuple[str, str]  # (key, what is wrong)
Section = Callable[[str, dict[str, Any]], list[Problem]]


def _leaves(checks: dict[str, Callable[[Any], str]]) -> Section:
    """A section whose keys are leaves, each with its own check ("" when valid)."""

    def check(section: str, table: dict[str, Any]) -> list[Problem]:
        found = []
        for key, value in table.items():
            leaf = checks.get(key)
            message = leaf(value) if leaf else f"unknown key (known: {', '.join(checks)})"
            if message:
                found.append((f"{section}.{key}", message))
        return found

    return check


_MEMBER = _leaves({"context": _string, "kubeconfig": _string})


def _members(section: str, table: dict[str, Any]) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for name, entry in table.items():
        key = f"{section}.{name}"
        try:
            parsing.check_cluster_name(name)
        except parsing.ParseError as err:
            found.append((key, str(err)))
            continue
        if not isinstance(entry, dict):
            found.append((key, f"must be a table (context, kubeconfig), not {_type_name(entry)}"))
            continue
        found += _MEMBER(key, entry)
        if "context" not in entry:
            found.append((key, "context is missing"))
    return found


_SECTIONS: dict[str, Section] = {
    "host": _leaves({"kubeconfig": _string, "context": _string, "fed-namespace": _namespace}),
    "defaults": _leaves({"request-timeout": _duration, "output": _output}),
    "members": _members,
}


def _with(data: dict[str, Any], parts: list[str], value: Any) -> dict[str, Any]:
    *parents, leaf = parts
    node = data
    for part in parents:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            return data  # `set` says which part is not a table
        node = child
    node[leaf] = value
    return data


def _without(data: dict[str, Any], parts: list[str]) -> dict[str, Any]:
    *parents, leaf = parts
    node = data
    for part in parents:
        node = node[part]
    del node[leaf]
    return data


def _type_name(value: Any) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a float", str: "a string"}
    names.update({list: "an array", dict: "a table"})
    return next((n for t, n in names.items() if isinstance(value, t)), "a date or time")


def _quoted(value: Any) -> str:
    return f'"{value}"'
