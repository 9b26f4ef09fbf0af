from __future__ import annotations

import re
import stat
from pathlib import Path

import pytest

from kubectl_fed.errors import FedError
from kubectl_fed.state import LocalState, config_path


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
    state = LocalState.load(path, strict=False)  # as `config` commands load it
    state.set("host.context", "b")
    state.set("defaults.output", "wide")
    state.set_member("m1", {"context": "ctx"})
    text = path.read_text()
    assert text.index("[zeta]") < text.index("[host]")
    assert "z = 1 # why" in text and "# top" in text
    assert LocalState.load(path, strict=False).get("members.m1") == {"context": "ctx"}
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
    with pytest.raises(FedError, match=re.escape("unknown key 'host.context.deeper'")):
        state.set("host.context.deeper", "x")
    (tmp_path / "c.toml").write_text('host = "x"\n')
    with pytest.raises(FedError, match=re.escape("cannot set host.context: host is not a table")):
        LocalState.load(tmp_path / "c.toml", strict=False).set("host.context", "a")


# --------------------------------------------------------------------------- schema


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('host = "x"\n', "host: must be a table, not a string"),
        ("[members]\nx = 3\n", "members.x: must be a table (context, kubeconfig), not an integer"),
        (
            '[defaults]\nrequest-timeout = "soon"\n',
            'defaults.request-timeout: invalid duration "soon" (use e.g. 10s, 1m or 500ms)',
        ),
        ("[defaults]\nrequest-timeout = true\n", "must be a duration such as 10s, not a boolean"),
        ('[defaults]\noutput = "fancy"\n', 'defaults.output: invalid output "fancy"'),
        ('[host]\ncontxt = "prod"\n', "host.contxt: unknown key (known: kubeconfig, context,"),
        ('[hots]\ncontext = "prod"\n', "hots: unknown key (known: host, defaults, members)"),
        ('[host]\nfed-namespace = "Not_A_Name"\n', 'invalid namespace name "Not_A_Name"'),
        ('[host]\ncontext = ""\n', "host.context: must not be empty"),
        ("[host]\ncontext = 3\n", "host.context: must be a string, not an integer"),
        ('[members.a]\nkubeconfig = "k"\n', "members.a: context is missing"),
        ('[members.Bad_Name]\ncontext = "c"\n', "members.Bad_Name: invalid cluster name"),
        ('[members.a]\ncontext = "c"\ntoken = "t"\n', "members.a.token: unknown key"),
    ],
)
def test_a_file_breaking_the_schema_is_refused_by_path_and_key(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(FedError) as raised:
        LocalState.load(path)
    shown = raised.value.message
    assert shown.startswith(f"{path}: ") and message in shown
    assert "\n" not in shown
    assert path.read_text() == text
    assert LocalState.load(path, strict=False).problems()  # `config view` still shows it


def test_valid_files_load_and_every_problem_is_counted(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(
        '[host]\nkubeconfig = "/k"\ncontext = "h"\nfed-namespace = "fed"\n'
        '[defaults]\nrequest-timeout = "500ms"\noutput = "wide"\n'
        '[members.m-1]\ncontext = "c"\nkubeconfig = "/k"\n'
    )
    assert LocalState.load(path).get("members.m-1.context") == "c"
    path.write_text('host.context = "dotted"\n[defaults]\nrequest-timeout = 5\n')
    assert LocalState.load(path).get("host.context") == "dotted"
    path.write_text('[defaults]\nrequest-timeout = "soon"\nfoo = 1\n')
    with pytest.raises(FedError, match=r"invalid duration \"soon\".* \(and 1 more\)$"):
        LocalState.load(path)


def test_set_refuses_unknown_keys_and_invalid_values_leaving_the_file_alone(
    tmp_path: Path,
) -> None:
    path = tmp_path / "c.toml"
    original = '# mine\n[host]\ncontext = "h" # the host\n'
    path.write_text(original)
    state = LocalState.load(path)
    with pytest.raises(FedError) as raised:
        state.set("defaults.request-timout", "5s")
    assert raised.value.message.startswith(f"{path}: unknown key 'defaults.request-timout'")
    assert "defaults.request-timeout" in raised.value.message  # the known keys
    with pytest.raises(
        FedError, match=rf'^{path}: defaults.request-timeout: invalid duration "soon"'
    ):
        state.set("defaults.request-timeout", "soon")
    with pytest.raises(FedError, match=re.escape("members.Bad: invalid cluster name")):
        state.set("members.Bad.context", "c")
    assert path.read_text() == original
    state.set("defaults.request-timeout", "5s")
    assert "# the host" in path.read_text()
    assert LocalState.load(path).get("defaults.request-timeout") == "5s"


def test_a_broken_file_can_be_mended_one_key_at_a_time(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[defaults]\nrequest-timeout = "soon"\noutput = "fancy"\n[zeta]\n')
    state = LocalState.load(path, strict=False)
    state.set("defaults.request-timeout", "10s")  # the other problems are not new
    assert state.unset("zeta")
    assert state.unset("defaults.output")
    assert LocalState.load(path).get("defaults.request-timeout") == "10s"


def test_a_member_keeps_its_context(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    state = LocalState.load(path)
    state.set("members.m1.context", "ctx")
    state.set("members.m1.kubeconfig", "/k")
    assert "[members]" not in path.read_text()  # a super table: only [members.m1]
    with pytest.raises(FedError, match=re.escape("members.m1: context is missing")):
        state.unset("members.m1.context")
    assert state.unset("members.m1")
    with pytest.raises(FedError, match=re.escape("members.m2: context is missing")):
        state.set("members.m2.kubeconfig", "/k")
