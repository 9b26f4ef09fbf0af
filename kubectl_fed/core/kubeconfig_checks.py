"""What kubectl refuses in a kubeconfig, in its words: the shape of a file (loader.go and
the v1 conversion: a mapping of named lists, no name twice in a list) and a merged user and
cluster (clientcmd's validation.go: validateAuthInfo and validateClusterInfo, in that order).

Pure: files are looked at through the `read_file` the caller passes.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path
from typing import Any

ReadFile = Callable[[Path], bytes]

SECTIONS = {"clusters": "cluster", "users": "user", "contexts": "context"}
# Exec credential API versions whose configs may omit interactiveMode (clientcmd defaults it
# to IfAvailable for them; client.authentication.k8s.io/v1 must say).
LEGACY_EXEC_VERSIONS = (
    "client.authentication.k8s.io/v1beta1",
    "client.authentication.k8s.io/v1alpha1",
)
INTERACTIVE_MODES = ("Never", "IfAvailable", "Always")

_STRINGS = {
    "cluster": (
        "server",
        "certificate-authority",
        "certificate-authority-data",
        "tls-server-name",
        "proxy-url",
    ),
    "user": (
        "token",
        "tokenFile",
        "client-certificate",
        "client-certificate-data",
        "client-key",
        "client-key-data",
        "username",
        "password",
        "as",
        "as-uid",
    ),
    "context": ("cluster", "user", "namespace"),
}
_MAPPINGS = {"cluster": (), "user": ("exec", "auth-provider", "as-user-extra"), "context": ()}
_DATA = {
    "cluster": ("certificate-authority-data",),
    "user": ("client-certificate-data", "client-key-data"),
    "context": (),
}


class KubeconfigError(ValueError):
    """A kubeconfig kubectl refuses too; the message is kubectl's reason, on one line."""


# --------------------------------------------------------------------------- the documents


def check_document(name: str, doc: Any) -> dict[str, Any]:
    """A parsed kubeconfig file as kubectl would accept it, or KubeconfigError naming the
    file (`name`, as the user gave it) and what is wrong: the wrong shape, or a name given
    twice in one list."""

    def fail(reason: str) -> None:
        raise KubeconfigError(f'error loading config file "{name}": {reason}')

    if doc is None:
        return {}
    if not isinstance(doc, dict):
        fail(f"the document is {_kind_of(doc)}, not a kubeconfig (a mapping)")
    for section, item in SECTIONS.items():
        entries = doc.get(section)
        if entries is None:
            continue
        if not isinstance(entries, list):
            fail(f"{section}: expected a list of named {item}s, not {_kind_of(entries)}")
        seen: set[str] = set()
        for entry in entries:
            if not isinstance(entry, dict):
                fail(f"{section}: expected a list of named {item}s, found {_kind_of(entry)}")
            entry_name = entry.get("name", "")
            if not isinstance(entry_name, str):
                fail(f"{section}: name {entry_name!r} is {_kind_of(entry_name)}, not a string")
            problem = _body_problem(item, entry.get(item))
            if problem:
                fail(f'{section}: {item} "{entry_name}": {problem}')
            if entry_name in seen:
                fail(f'duplicate name "{entry_name}" in {section}')
            seen.add(entry_name)
    current = doc.get("current-context")
    if current is not None and not isinstance(current, str):
        fail(f"current-context: expected a string, not {_kind_of(current)}")
    checked: dict[str, Any] = doc
    return checked


def _body_problem(item: str, body: Any) -> str | None:
    if body is None:
        return None
    if not isinstance(body, dict):
        return f"expected a mapping, not {_kind_of(body)}"
    for key in _STRINGS[item]:
        if body.get(key) is not None and not isinstance(body[key], str):
            return f"{key}: expected a string, not {_kind_of(body[key])}"
    for key in _MAPPINGS[item]:
        if body.get(key) is not None and not isinstance(body[key], dict):
            return f"{key}: expected a mapping, not {_kind_of(body[key])}"
    insecure = body.get("insecure-skip-tls-verify")
    if item == "cluster" and insecure is not None and not isinstance(insecure, bool):
        return f"insecure-skip-tls-verify: expected true or false, not {_kind_of(insecure)}"
    for key in _DATA[item]:
        if body.get(key) and not _is_base64(body[key]):
            return f"{key}: illegal base64 data"
    if item != "user":
        return None
    if body.get("as-groups") is not None and not _strings(body["as-groups"]):
        return "as-groups: expected a list of strings"
    extra = body.get("as-user-extra") or {}
    if not all(isinstance(v, list) and _strings(v) for v in extra.values()):
        return "as-user-extra: expected lists of strings"
    return _exec_problem(body.get("exec")) or _auth_provider_problem(body.get("auth-provider"))


def _exec_problem(config: dict[str, Any] | None) -> str | None:
    if config is None:
        return None
    for key in ("command", "apiVersion", "interactiveMode", "installHint"):
        if config.get(key) is not None and not isinstance(config[key], str):
            return f"exec: {key}: expected a string, not {_kind_of(config[key])}"
    if config.get("args") is not None and not _strings(config["args"]):
        return "exec: args: expected a list of strings"
    env = config.get("env")
    pairs = env if isinstance(env, list) else [None]
    if env is not None and not all(
        isinstance(e, dict) and _strings([e.get("name", ""), e.get("value", "")]) for e in pairs
    ):
        return "exec: env: expected a list of name and value strings"
    provide = config.get("provideClusterInfo")
    if provide is not None and not isinstance(provide, bool):
        return "exec: provideClusterInfo: expected true or false"
    return None


def _auth_provider_problem(config: dict[str, Any] | None) -> str | None:
    if config is None:
        return None
    if not isinstance(config.get("name", ""), str):
        return "auth-provider: name: expected a string"
    settings = config.get("config")
    if settings is not None and not (
        isinstance(settings, dict) and _strings(list(settings.values()))
    ):
        return "auth-provider: config: expected a mapping of strings"
    return None


def _strings(values: Any) -> bool:
    return isinstance(values, list) and all(isinstance(v, str) for v in values)


def _is_base64(text: str) -> bool:
    """As Go's JSON decoding of []byte fields (standard alphabet, padded) accepts it."""
    try:
        base64.b64decode(text, validate=True)
    except ValueError:
        return False
    return True


def _kind_of(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return "null" if value is None else type(value).__name__


def user_errors(name: str, user: dict[str, Any], read_file: ReadFile) -> list[str]:
    """clientcmd's validateAuthInfo, in its order and words."""
    errors: list[str] = []
    methods = []
    if user.get("token"):
        methods.append("token")
    if user.get("username") or user.get("password"):
        methods.append("basicAuth")
    if user.get("client-certificate") or user.get("client-certificate-data"):
        if user.get("client-certificate") and user.get("client-certificate-data"):
            errors.append(
                f"client-cert-data and client-cert are both specified for {name}. "
                "client-cert-data will override."
            )
        if user.get("client-key") and user.get("client-key-data"):
            errors.append(
                f"client-key-data and client-key are both specified for {name}; "
                "client-key-data will override"
            )
        if not user.get("client-key") and not user.get("client-key-data"):
            errors.append(
                f"client-key-data or client-key must be specified for {name} to use the "
                "clientCert authentication method."
            )
        for key, what in (("client-certificate", "client-cert"), ("client-key", "client-key")):
            problem = _unreadable(read_file, user.get(key))
            if problem:
                errors.append(f"unable to read {what} {user[key]} for {name} due to {problem}")
    exec_config = user.get("exec")
    if exec_config is not None:
        errors += _exec_errors(name, exec_config, bool(user.get("auth-provider")))
    if len(methods) > 1:
        errors.append(
            f"more than one authentication method found for {name}; "
            f"found [{' '.join(methods)}], only one is allowed"
        )
    if (user.get("as-uid") or user.get("as-groups") or user.get("as-user-extra")) and not user.get(
        "as"
    ):
        errors.append(
            f"requesting uid, groups or user-extra for {name} without impersonating a user"
        )
    return errors


def _exec_errors(name: str, exec_config: dict[str, Any], auth_provider: bool) -> list[str]:
    errors = []
    if auth_provider:
        errors.append(
            f"authProvider cannot be provided in combination with an exec plugin for {name}"
        )
    if not exec_config.get("command"):
        errors.append(f"command must be specified for {name} to use exec authentication plugin")
    api_version = exec_config.get("apiVersion")
    if not api_version:
        errors.append(f"apiVersion must be specified for {name} to use exec authentication plugin")
    for variable in exec_config.get("env") or []:
        if not isinstance(variable, dict) or not variable.get("name"):
            errors.append(
                f"env variable name must be specified for {name} to use exec authentication plugin"
            )
    mode = exec_config.get("interactiveMode") or (
        "IfAvailable" if api_version in LEGACY_EXEC_VERSIONS else ""
    )
    if not mode:
        errors.append(
            f"interactiveMode must be specified for {name} to use exec authentication plugin"
        )
    elif mode not in INTERACTIVE_MODES:
        errors.append(f'invalid interactiveMode for {name}: "{mode}"')
    return errors


def check_interactive(exec_config: dict[str, Any], stdin_is_terminal: bool) -> None:
    """An exec plugin that must talk to the user cannot run without a terminal."""
    if exec_config.get("interactiveMode") == "Always" and not stdin_is_terminal:
        raise KubeconfigError(
            "getting credentials: exec plugin cannot support interactive mode: "
            "standard input is not a terminal"
        )


def cluster_errors(name: str, cluster: dict[str, Any], read_file: ReadFile) -> list[str]:
    """clientcmd's validateClusterInfo, in its order and words."""
    errors = []
    if not cluster.get("server"):
        errors.append(
            f'no server found for cluster "{name}"' if name else "default cluster has no server"
        )
    if cluster.get("certificate-authority") and cluster.get("certificate-authority-data"):
        errors.append(
            f"certificate-authority-data and certificate-authority are both specified for "
            f"{name}. certificate-authority-data will override."
        )
    problem = _unreadable(read_file, cluster.get("certificate-authority"))
    if problem:
        errors.append(
            f"unable to read certificate-authority {cluster['certificate-authority']} for "
            f"{name} due to {problem}"
        )
    return errors


def _unreadable(read_file: ReadFile, path: str | None) -> str | None:
    """Why a file cannot be read, in Go's words (`open PATH: no such file or directory`)."""
    if not path:
        return None
    try:
        read_file(Path(path))
    except OSError as err:
        return open_error(path, err)
    return None


def open_error(path: str, err: OSError) -> str:
    reason = err.strerror or str(err)
    return f"open {path}: {reason[:1].lower()}{reason[1:]}"
