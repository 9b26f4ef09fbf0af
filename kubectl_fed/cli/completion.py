"""Completion: every `shell_complete` callback of the commands (the `kubectl_complete-fed`
entry point that runs them is `kubectl_fed.cli.complete`).

kubectl runs `kubectl_complete-fed` with the words after `fed` plus the word being
completed; we print one candidate per line (`value<TAB>help`) and a last `:4` directive (no
file completion). Only click is imported unless a member or template name is completed;
those ask the host, briefly, and never fail loudly. The callbacks of the global flags
(--context, -n) are in settings.py, which this module builds on.
"""

from __future__ import annotations

from typing import Any

import click
from click.shell_completion import CompletionItem

from kubectl_fed.cli.settings import CLUSTER_TYPES, Settings, contexts, resolve_kind


def complete_members(ctx: click.Context, _param: click.Parameter, incomplete: str) -> list[Any]:
    """Member names from local state, then from the host when it answers quickly."""
    s = ctx.ensure_object(Settings)
    names: set[str] = set()
    try:
        names.update(s.state.members())
        s.request_timeout = s.request_timeout or "2s"
        names.update(c["metadata"]["name"] for c in s.host().clusters())
    except Exception:  # completion must never fail loudly
        pass
    return [CompletionItem(n) for n in sorted(names) if n.startswith(incomplete)]


def complete_cluster_list(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """`--clusters a,b,<TAB>`: complete the last member name, keep the ones before."""
    done, _, last = incomplete.rpartition(",")
    prefix = done + "," if done else ""
    chosen = set(done.split(","))
    names = [i.value for i in complete_members(ctx, param, last) if i.value not in chosen]
    return [CompletionItem(prefix + name) for name in names]


def complete_types(ctx: click.Context, _param: click.Parameter, incomplete: str) -> list[Any]:
    """Federated type names (plural), known without asking any server."""
    from kubectl_fed.core.federated_types import default_types

    names = sorted(t.plural for t in default_types())
    return [CompletionItem(n) for n in names if n.startswith(incomplete)]


def complete_get_types(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    found = complete_types(ctx, param, incomplete)
    if "clusters".startswith(incomplete):
        found.insert(0, CompletionItem("clusters"))
    return found


def complete_references(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """TYPE, then TYPE/NAME with the names of that type's federated templates."""
    if "/" not in incomplete:
        return complete_types(ctx, param, incomplete)
    kind, _, prefix = incomplete.partition("/")
    names = _template_names(ctx, kind)
    return [CompletionItem(f"{kind}/{n}") for n in names if n.startswith(prefix)]


def complete_names(ctx: click.Context, _param: click.Parameter, incomplete: str) -> list[Any]:
    """`get TYPE <TAB>`: names of TYPE's federated templates (none for `get clusters`)."""

    kind = str(ctx.params.get("kind") or "")
    if not kind or kind.lower() in CLUSTER_TYPES:
        return []
    return [CompletionItem(n) for n in _template_names(ctx, kind) if n.startswith(incomplete)]


def _template_names(ctx: click.Context, kind: str) -> list[str]:
    """Names of federated templates of a type, when the host answers quickly."""
    from kubectl_fed.ops.status import Selector, federated_objects

    s = ctx.ensure_object(Settings)
    try:
        s.request_timeout = s.request_timeout or "2s"
        host = s.host()
        resource = resolve_kind(host, kind)
        selector = Selector(resource["group"], resource["kind"])
        all_namespaces = ctx.params.get("all_namespaces")
        namespace = None if all_namespaces else s.namespace_for(ctx.params.get("namespace"))
        templates = [
            (fo.get("spec") or {}).get("template") or {}
            for fo in federated_objects(host, namespace)
        ]
        return sorted({t["metadata"]["name"] for t in templates if selector.matches(t)})
    except Exception:  # completion must never fail loudly
        return []


def complete_member_contexts(
    ctx: click.Context, _param: click.Parameter, incomplete: str
) -> list[Any]:
    """`join --cluster-context`: the contexts of --cluster-kubeconfig, else the host's."""
    kubeconfig = ctx.params.get("cluster_kubeconfig") or ctx.ensure_object(Settings).kubeconfig
    return contexts(kubeconfig, incomplete)


def complete_config_keys(
    _ctx: click.Context, _param: click.Parameter, incomplete: str
) -> list[Any]:
    """`config get|set|unset KEY`: the known keys of local state, `members.NAME.*` for
    every member NAME it holds."""
    from kubectl_fed.state import KNOWN_KEYS, LocalState

    try:
        members = sorted(LocalState.load(strict=False).members())
    except Exception:  # completion must never fail loudly
        members = []
    keys: dict[str, str] = {}
    for key, meaning in KNOWN_KEYS.items():
        if ".NAME." not in key:
            keys[key] = meaning
        for name in members if ".NAME." in key else ():
            keys[key.replace("NAME", name)] = meaning.replace("NAME", name)
    return [CompletionItem(k, help=h) for k, h in keys.items() if k.startswith(incomplete)]
