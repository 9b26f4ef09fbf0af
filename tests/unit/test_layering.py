"""The layering rules of style.md, enforced: data flows CLI -> ops/sync -> core/kube."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "kubectl_fed"


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def modules() -> list[tuple[Path, set[str]]]:
    return [(p, imports_of(p)) for p in PACKAGE.rglob("*.py")]


def test_only_kube_imports_kubernetes() -> None:
    offenders = [
        str(p.relative_to(PACKAGE))
        for p, names in modules()
        if any(n == "kubernetes" or n.startswith("kubernetes.") for n in names)
        and p.parent.name != "kube"
    ]
    assert offenders == []


def test_core_is_pure() -> None:
    forbidden = (
        "kubectl_fed.kube",
        "kubectl_fed.cli",
        "kubectl_fed.ops",
        "kubectl_fed.sync",
        "kubectl_fed.state",
        "click",
        "urllib3",
        "subprocess",
        "socket",
        "requests",
    )
    for path, names in modules():
        if path.parent.name != "core":
            continue
        bad = sorted(n for n in names if n.startswith(forbidden))
        assert bad == [], f"{path.name} imports {bad}"


def test_cli_modules_import_nothing_heavy_at_top_level() -> None:
    heavy = ("kubernetes", "kubectl_fed.kube", "kubectl_fed.sync", "deepdiff", "yaml")
    for path in (PACKAGE / "cli").glob("*.py"):
        tree = ast.parse(path.read_text())
        top = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
        names = {a.name for n in top if isinstance(n, ast.Import) for a in n.names}
        names |= {n.module or "" for n in top if isinstance(n, ast.ImportFrom)}
        assert not [n for n in names if n.startswith(heavy)], path.name


def test_only_cli_imports_click() -> None:
    """Errors and output below cli/ know nothing of the command line (style.md)."""
    offenders = [
        str(p.relative_to(PACKAGE))
        for p, names in modules()
        if any(n == "click" or n.startswith("click.") for n in names) and p.parent.name != "cli"
    ]
    assert offenders == []


def test_core_reads_no_files() -> None:
    """Files are read in kube/ (kubeconfigs: kube/connect.py) and state.py, never in core."""
    file_io = {"open", "read_text", "read_bytes", "write_text", "write_bytes"}
    for path in (PACKAGE / "core").glob("*.py"):
        calls = [n.func for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.Call)]
        names = {c.attr if isinstance(c, ast.Attribute) else getattr(c, "id", "") for c in calls}
        assert not names & file_io, f"{path.name} reads or writes files"
