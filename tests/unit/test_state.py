from __future__ import annotations

import stat
from pathlib import Path

import pytest

from kubectl_fed.errors import FedError
from kubectl_fed.state import LocalState, config_path, parse_value


def test_path_resolution(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("KUBECTL_FED_CONFIG", str(tmp_path / "x.toml"))
    assert config_path() == tmp_path / "x.toml"
    monkeypatch.delenv("KUBECTL_FED_CONFIG")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert config_path() == tmp_path / "kubectl-fed" / "config.toml"


def test_round_trip_keeps_comments_order_and_unknown_keys(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    original = '# top\n[zeta]\nz = 1 # why\n\n[host]\ncontext = "a"\n'
    path.write_text(original)
    state = LocalState.load(path)
    state.set("host.context", "b")
    state.set("defaults.output", "wide")
    state.set_member("m1", {"context": "ctx"})
    text = path.read_text()
    assert text.index("[zeta]") < text.index("[host]")
    assert "z = 1 # why" in text and "# top" in text
    assert LocalState.load(path).get("members.m1") == {"context": "ctx"}
    assert state.unset("defaults.output") and not state.unset("defaults.output")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_new_file_gets_header_and_private_mode(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "c.toml"
    LocalState.load(path).set("host.context", "x")
    assert path.read_text().startswith("# kubectl-fed local state")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert list(path.parent.iterdir()) == [path]  # no temp files left behind


def test_broken_file_names_line_and_is_untouched(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[host]\nok = 1\nnot toml at all\n")
    with pytest.raises(FedError, match=rf"{path}:3: invalid TOML"):
        LocalState.load(path)
    assert path.read_text() == "[host]\nok = 1\nnot toml at all\n"


def test_keys_and_values(tmp_path: Path) -> None:
    state = LocalState.load(tmp_path / "c.toml")
    with pytest.raises(FedError):
        state.set("host..context", "x")
    state.set("host.context", "a")
    with pytest.raises(FedError, match="not a table"):
        state.set("host.context.deeper", "x")
    assert parse_value("3") == 3 and parse_value("true") is True and parse_value("10s") == "10s"
