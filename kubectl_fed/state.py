"""Local state: a small TOML file edited with tomlkit so comments and order survive.

Keys are dotted paths into the document (``host.context``, ``members.m1.context``).
Writes are atomic (temp file + rename) with mode 0600: the file may name
kubeconfig paths and contexts, which are nobody else's business.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.exceptions import ParseError
from tomlkit.items import Table
from tomlkit.toml_document import TOMLDocument

from kubectl_fed.errors import FedError

DEFAULT_FED_NAMESPACE = "kube-admiral-system"

NEW_FILE_HEADER = """\
# kubectl-fed local state. Edit with `kubectl fed config set KEY VALUE` or by hand;
# comments and unknown keys are kept.
"""

# Keys `config set` accepts, with what they mean (shown by `config view --help`).
KNOWN_KEYS = {
    "host.kubeconfig": "kubeconfig file of the host cluster",
    "host.context": "kubeconfig context of the host cluster",
    "host.fed-namespace": "namespace holding member credentials (default kube-admiral-system)",
    "defaults.request-timeout": "default --request-timeout, e.g. 10s",
    "defaults.output": "default -o for listing commands",
}


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
    def load(cls, path: Path | None = None) -> LocalState:
        path = path or config_path()
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return cls(path)
        except OSError as err:
            raise FedError(f"cannot read {path}: {err.strerror}") from err
        try:
            return cls(path, tomlkit.parse(text))
        except ParseError as err:
            raise FedError(f"{path}:{err.line}: invalid TOML: {_parse_reason(err)}") from err

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
        *parents, leaf = _split(key)
        node: Any = self.document
        for part in parents:
            if part not in node:
                node[part] = tomlkit.table()
            node = node[part]
            if not isinstance(node, dict):
                raise FedError(f"cannot set {key}: {part} is not a table")
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
        del node[leaf]
        self.save()
        return True

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


def parse_value(raw: str) -> Any:
    """`config set` values: TOML literals when they parse (numbers, booleans), else strings."""
    try:
        return tomlkit.parse(f"v = {raw}")["v"]
    except ParseError:
        return raw
