"""What import-linter (pyproject.toml, run by scripts/test.sh) cannot see: cli modules
import nothing heavy at load (`kubectl fed --help` stays fast), and core reads no files
(a call to open() is no import)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "kubectl_fed"


def test_cli_modules_import_nothing_heavy_at_top_level() -> None:
    heavy = ("kubernetes", "kubectl_fed.kube", "kubectl_fed.sync", "deepdiff", "yaml")
    for path in (PACKAGE / "cli").glob("*.py"):
        tree = ast.parse(path.read_text())
        top = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
        names = {a.name for n in top if isinstance(n, ast.Import) for a in n.names}
        names |= {n.module or "" for n in top if isinstance(n, ast.ImportFrom)}
        assert not [n for n in names if n.startswith(heavy)], path.name


def test_core_reads_no_files() -> None:
    """Files are read in kube/ (kubeconfigs: kube/connect.py) and state.py, never in core."""
    file_io = {"open", "read_text", "read_bytes", "write_text", "write_bytes"}
    for path in (PACKAGE / "core").glob("*.py"):
        calls = [n.func for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.Call)]
        names = {c.attr if isinstance(c, ast.Attribute) else getattr(c, "id", "") for c in calls}
        assert not names & file_io, f"{path.name} reads or writes files"
