"""The command contract (DESIGN §5): exit codes, one-line refusals, literal help text.

0 ok, 1 a check failed, 2 usage or input error (nothing changed), 3 an external service
unavailable. Every command is walked from the typer app, so a new command is covered too.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import typer
from cli_support import assert_one_line
from typer.testing import CliRunner

from infra.cli.main import app

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
VAULT_VARS = ("VAULT_ADDR", "VAULT_TOKEN", "VAULT_ROLE_ID", "VAULT_SECRET_ID", "VAULT_CACERT",
              "VAULT_NAMESPACE", "RAMPART_VAULT_MOUNT")


def _walk(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    yield path, command
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield from _walk(sub, (*path, name))


COMMANDS = list(_walk(typer.main.get_command(app)))
LEAVES = [(path, cmd) for path, cmd in COMMANDS if not getattr(cmd, "commands", None)]


def _ids(item: tuple[tuple[str, ...], Any]) -> str:
    return " ".join(item[0]) or "rampart"


def _flat(text: str) -> str:
    return " ".join(text.split())


def invoke(args: list[str], env: dict[str, str | None] | None = None) -> Any:
    clean: dict[str, str | None] = dict.fromkeys(VAULT_VARS)
    clean.update(env or {})
    return CliRunner().invoke(app, args, env=clean)




# --- help text ---------------------------------------------------------------------------------


@pytest.mark.parametrize("item", COMMANDS, ids=_ids)
def test_help_renders_every_bracketed_text_literally(item):
    path, command = item
    result = CliRunner().invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    shown = _flat(result.output)
    sources = [command.help or "", *(getattr(p, "help", None) or "" for p in command.params)]
    for text in sources:
        for bracketed in re.findall(r"\[[^\[\]\n]+\]", text):
            assert _flat(bracketed) in shown, \
                f"`rampart {' '.join(path)} --help` swallowed {bracketed!r}:\n{result.output}"
    assert "<bool>" not in result.output, result.output


def test_render_help_shows_secret_and_a_plain_vault_flag():
    result = CliRunner().invoke(app, ["render", "--help"])
    assert "values still show as [secret]" in _flat(result.output)
    assert "--vault / --no-vault" in result.output


@pytest.mark.parametrize("item", LEAVES, ids=_ids)
def test_boolean_options_are_flags(item):
    path, command = item
    for param in command.params:
        if getattr(param, "type", None) is not None and param.type.name == "boolean":
            assert param.is_flag, f"rampart {' '.join(path)} {param.opts}: a bool that takes " \
                                  "a value; declare it as a flag (--x/--no-x)"


# Commands that pass unknown options on (`lab ssh HOST -- ARGS`) cannot see a usage error
# there; they are only invoked with --help above (`lab ssh` would exec ssh).
PARSED = [(path, cmd) for path, cmd in COMMANDS
          if not (cmd.context_settings or {}).get("ignore_unknown_options")]


@pytest.mark.parametrize("item", PARSED, ids=_ids)
def test_usage_errors_exit_2_everywhere(item):
    path, _ = item
    result = CliRunner().invoke(app, [*path, "--no-such-option"])
    assert result.exit_code == 2, f"rampart {' '.join(path)}: {result.output}"
    assert "No such option" in result.output and "Traceback" not in result.output


def test_flags_take_no_value():
    result = invoke(["render", "--stack", "dev", "--out", "/nonexistent", "--vault", "true"])
    assert result.exit_code == 2 and "unexpected extra argument" in result.output


def test_a_missing_argument_is_a_usage_error():
    assert invoke(["secrets", "rotate", "--stack", "dev"]).exit_code == 2


# --- Vault fixtures ----------------------------------------------------------------------------


@pytest.fixture
def closed_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def vault_listener() -> Iterator[SimpleNamespace]:
    """A port that records whether anything connected (Vault must not be touched)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    sock.setblocking(False)

    def touched() -> bool:
        try:
            conn, _ = sock.accept()
        except BlockingIOError:
            return False
        conn.close()
        return True

    yield SimpleNamespace(addr=f"http://127.0.0.1:{sock.getsockname()[1]}", touched=touched)
    sock.close()


# --- render ------------------------------------------------------------------------------------


def test_render_exit_codes(tmp_path, closed_port, monkeypatch):
    ok = invoke(["render", "--stack", "dev", "--out", str(tmp_path / "ok")])
    assert ok.exit_code == 0, ok.output
    assert_one_line(invoke(["render", "--stack", "prdo", "--out", str(tmp_path / "x")]), 2,
                    "Pulumi.prdo.yaml", "no such stack file")
    assert_one_line(invoke(["render", "--stack", "dev", "--vault", "--out",
                            str(tmp_path / "x")], {"VAULT_ADDR": closed_port,
                                                   "VAULT_TOKEN": "t"}),
                    3, closed_port, "cannot connect")
    assert_one_line(invoke(["render", "--stack", "dev", "--vault", "--out",
                            str(tmp_path / "x")]), 2, "no Vault address")
    assert_one_line(invoke(["render", "--stack", "dev", "--vault", "--out",
                            str(tmp_path / "x")], {"VAULT_ADDR": "http://vault.example:8200",
                                                   "VAULT_TOKEN": "t"}),
                    2, "refusing plain http")
    assert not (tmp_path / "x").exists()

    from infra.cli import render as cli
    from infra.offline import render as rendering
    from infra.secrets.errors import WeakSecretsError

    def weak(*args: Any, **kwargs: Any) -> None:
        raise WeakSecretsError(["auth/JWT_SECRET (too short)"])

    monkeypatch.setattr(cli, "_vault_preflight", lambda stack: None)
    monkeypatch.setattr(rendering, "record", weak)
    assert_one_line(invoke(["render", "--stack", "dev", "--vault", "--out",
                            str(tmp_path / "x")]), 1, "auth/JWT_SECRET")


# --- policy check ------------------------------------------------------------------------------


def test_policy_check_exit_codes(tmp_path, monkeypatch):
    from infra.offline import report, reporters

    assert invoke(["policy", "check", "--stack", "prod"]).exit_code == 0
    assert_one_line(invoke(["policy", "check", "--stack", "prdo"]), 2, "Pulumi.prdo.yaml")
    assert_one_line(invoke(["policy", "check", "--stack", "dev", "--format", "html"]), 2,
                    "unknown format")
    monkeypatch.setattr(report, "check_stack",
                        lambda stack: SimpleNamespace(exit_code=1))
    monkeypatch.setattr(reporters, "render", lambda report, fmt: "MANDATORY x\n")
    assert invoke(["policy", "check", "--stack", "dev"]).exit_code == 1


# --- observability build -----------------------------------------------------------------------


def test_observability_build_exit_codes(tmp_path):
    assert invoke(["observability", "build", "--stack", "dev", "--out",
                   str(tmp_path / "ok")]).exit_code == 0
    settings = tmp_path / "s.yaml"
    settings.write_text("alerts:\n  diskCritical: 1.2\n")
    assert_one_line(invoke(["observability", "build", "--settings", str(settings), "--out",
                            str(tmp_path / "x")]), 2, str(settings), "diskCritical")
    assert_one_line(invoke(["observability", "build", "--out", str(tmp_path / "x")]), 2,
                    "exactly one of --stack or --settings")
    assert not (tmp_path / "x").exists()


# --- secrets -----------------------------------------------------------------------------------

SECRETS = [["bootstrap"], ["check"], ["rotate", "auth/JWT_SECRET"]]


@pytest.mark.parametrize("args", SECRETS, ids=lambda a: a[0])
def test_secrets_refuse_an_unknown_stack_before_touching_vault(args, vault_listener):
    result = invoke(["secrets", *args, "--stack", "prdo"],
                    {"VAULT_ADDR": vault_listener.addr, "VAULT_TOKEN": "t"})
    assert_one_line(result, 2, "Pulumi.prdo.yaml", "no such stack file",
                    "dev, k8s-dev, k8s-prod, prod")
    assert not vault_listener.touched(), "Vault was contacted for a stack that does not exist"


@pytest.mark.parametrize("args,env,fragment", [
    (["bootstrap", "--stack", "dev", "--max-versions", "1"], {}, "max_versions"),
    (["rotate", "nope/X", "--stack", "dev"], {}, "declares no secret"),
    (["check", "--stack", "Dev"], {}, "DNS-1123"),
    (["check", "--stack", "dev"], {"VAULT_TOKEN": None}, "no credentials"),
    (["check", "--stack", "dev", "--addr", "ftp://vault"], {}, "not an http(s) URL"),
], ids=["max-versions", "unknown-secret", "stack-name", "no-token", "bad-address"])
def test_secrets_input_errors_exit_2_without_vault(args, env, fragment, vault_listener):
    result = invoke(["secrets", *args], {"VAULT_ADDR": vault_listener.addr, "VAULT_TOKEN": "t",
                                         **env})
    assert_one_line(result, 2, fragment)
    assert not vault_listener.touched()


@pytest.mark.parametrize("args", SECRETS, ids=lambda a: a[0])
def test_secrets_vault_unavailable_exits_3(args, closed_port):
    result = invoke(["secrets", *args, "--stack", "dev"],
                    {"VAULT_ADDR": closed_port, "VAULT_TOKEN": "t"})
    assert_one_line(result, 3, closed_port, "cannot connect")


def test_secrets_checks_that_fail_exit_1(monkeypatch):
    from infra.cli import secrets as cli
    from infra.secrets import bootstrap, check, rotate
    from infra.secrets.errors import RotationConflict, SecretsError

    vault = SimpleNamespace(mount="secret")
    monkeypatch.setattr(cli, "_vault", lambda *a: vault)
    finding = SimpleNamespace(line=lambda mount: "FAIL auth/JWT_SECRET: too short")
    monkeypatch.setattr(check, "check", lambda *a: [finding])
    result = invoke(["secrets", "check", "--stack", "dev"])
    assert result.exit_code == 1 and "FAIL auth/JWT_SECRET" in result.stdout
    monkeypatch.setattr(check, "check", lambda *a: [])
    assert invoke(["secrets", "check", "--stack", "dev"]).exit_code == 0

    def conflict(*a: Any, **k: Any) -> None:
        raise RotationConflict("secret/data/dev/auth/jwt_secret: is at version 3, expected 2; "
                               "nothing written")

    monkeypatch.setattr(rotate, "rotate", conflict)
    assert_one_line(invoke(["secrets", "rotate", "auth/JWT_SECRET", "--stack", "dev"]), 1,
                    "expected 2; nothing written")

    def incomplete(*a: Any, **k: Any) -> None:
        raise SecretsError("TLS material of postgres is incomplete")

    monkeypatch.setattr(bootstrap, "bootstrap", incomplete)
    assert_one_line(invoke(["secrets", "bootstrap", "--stack", "dev"]), 1, "incomplete")


def test_secrets_exit_code_table():
    from infra.cli.secrets import SecretsInputError, exit_code
    from infra.secrets import errors

    assert exit_code(SecretsInputError("x")) == 2
    assert exit_code(errors.PlanError("x")) == 2
    assert exit_code(errors.InsecureAddressError("x")) == 2
    assert exit_code(errors.VaultAccessError("x")) == 3
    assert exit_code(errors.RotationConflict("x")) == 1
    assert exit_code(errors.WeakSecretsError(["a"])) == 1


# --- audit -------------------------------------------------------------------------------------


def _host(index: int | None, error: str | None = None) -> dict[str, Any]:
    lynis = None if index is None else {"hardening_index": index, "points_earned": index,
                                        "points_possible": 100, "waivers_applied": []}
    ssh = None if index is None else {"failures": 0, "warnings": 0}
    return {"address": "10.0.0.2", "lynis": lynis, "ssh_audit": ssh, "lynis_error": error,
            "ssh_audit_error": error}


@pytest.mark.parametrize("hosts,code", [
    ({"web1": _host(90)}, 0),
    ({"web1": _host(70)}, 1),
    ({"web1": _host(90), "db1": _host(None, "unreachable")}, 1),
    ({"web1": _host(None, "UNREACHABLE [ssh]"), "db1": _host(None, "unreachable")}, 3),
], ids=["ok", "below-bar", "one-host-down", "lab-down"])
def test_audit_exit_codes(tmp_path, monkeypatch, hosts, code):
    from infra.hosts import audit as auditing

    monkeypatch.setattr(auditing, "audit", lambda **kw: {
        "inventory": "inventories/lab", "date": "2026-01-01", "hosts": hosts,
        "waivers_expired": []})
    result = invoke(["audit", "--out", str(tmp_path / "audit.json")])
    assert result.exit_code == code, result.output
    assert (tmp_path / "audit.json").is_file()
    assert "[ssh]" in result.output or code != 3, "Rich markup swallowed an error text"


def test_audit_input_error_exits_2(tmp_path, monkeypatch):
    from infra.hosts import audit as auditing

    def bad(**kw: Any) -> None:
        raise auditing.AuditError("waivers/lynis.yml: waivers[0] is not a mapping")

    monkeypatch.setattr(auditing, "audit", bad)
    assert_one_line(invoke(["audit", "--out", str(tmp_path / "a.json")]), 2,
                    "waivers/lynis.yml")


# --- bad inputs: exit 2, one line naming the file, no traceback, nothing written ------------

BAD_STACKS: dict[str, bytes] = {
    "non-utf8": b"config:\n  rampart:domain: caf\xe9.example.com\n",
    "duplicate-key": b"config:\n  rampart:adminAllowlist: [10.8.0.0/24]\n"
                     b"  rampart:adminAllowlist: [0.0.0.0/1]\n",
    "alias-bomb": ("a: &a [" + ", ".join(["x"] * 9) + "]\n" + "".join(
        f"{c}: &{c} [" + ", ".join([f"*{p}"] * 9) + "]\n"
        for p, c in zip("abcdefgh", "bcdefghi", strict=True))
        + "config:\n  rampart:corsOrigins: *i\n").encode(),
    "recursive-alias": b"config:\n  rampart:alerts: &a {x: *a}\n",
    "caps-not-a-list": b"config:\n  rampart:policyAllowedCapabilities: 5\n",
    "domain-not-a-string": b"config:\n  rampart:domain: [a, b]\n",
    "not-a-mapping": b"- config\n",
    "bad-yaml": b"config:\n  rampart:domain: 'unclosed\n",
}
STACK_COMMANDS = {
    "render": ["render", "--stack", "bad", "--out", "{out}"],
    "policy check": ["policy", "check", "--stack", "bad", "--out", "{out}/r.json"],
    "observability build": ["observability", "build", "--stack", "bad", "--out", "{out}"],
    "secrets bootstrap": ["secrets", "bootstrap", "--stack", "bad"],
    "secrets check": ["secrets", "check", "--stack", "bad"],
    "secrets rotate": ["secrets", "rotate", "auth/JWT_SECRET", "--stack", "bad"],
}


@pytest.mark.parametrize("stack", list(BAD_STACKS))
@pytest.mark.parametrize("command", list(STACK_COMMANDS))
def test_bad_stack_files_are_one_line_exit_2_everywhere(tmp_path, monkeypatch, vault_listener,
                                                        command, stack):
    project = tmp_path / "project"
    project.mkdir()
    (project / "Pulumi.yaml").write_text("name: rampart\nruntime: python\n")
    (project / "Pulumi.bad.yaml").write_bytes(BAD_STACKS[stack])
    monkeypatch.chdir(project)
    out = tmp_path / "out"
    args = [a.replace("{out}", str(out)) for a in STACK_COMMANDS[command]]
    result = invoke(args, {"VAULT_ADDR": vault_listener.addr, "VAULT_TOKEN": "t"})
    assert_one_line(result, 2, "Pulumi.bad.yaml")
    assert not out.exists(), f"{command}: wrote output for a bad stack file"
    assert not vault_listener.touched(), f"{command}: contacted Vault for a bad stack file"


UNWRITABLE = {
    "under-proc": "/proc/rampart-test/{name}",
    "a-file": "{file}",
    "below-a-file": "{file}/sub/{name}",
}
OUT_COMMANDS = {
    "render": (["render", "--stack", "dev", "--out", "{dir}"], "dir"),
    "policy check": (["policy", "check", "--stack", "dev", "--out", "{dir}/r.json"], "file"),
    "observability build": (["observability", "build", "--stack", "dev", "--out", "{dir}"],
                            "dir"),
    "audit": (["audit", "--out", "{dir}/audit.json"], "file"),
}


@pytest.mark.parametrize("where", list(UNWRITABLE))
@pytest.mark.parametrize("command", list(OUT_COMMANDS))
def test_an_unwritable_out_is_one_line_exit_2(tmp_path, monkeypatch, command, where):
    from infra.hosts import audit as auditing

    monkeypatch.setattr(auditing, "audit", lambda **kw: pytest.fail("audit ran"))
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a directory")
    target = UNWRITABLE[where].format(name="out", file=blocker)
    args, _ = OUT_COMMANDS[command]
    args = [a.replace("{dir}", target) for a in args]
    line = assert_one_line(invoke(args), 2)
    assert target.split("/sub/")[0] in line or str(blocker) in line, line
    assert blocker.read_text() == "a file, not a directory"


@pytest.mark.parametrize("command", ["policy check", "audit"])
def test_a_report_out_that_is_a_directory_is_refused(tmp_path, monkeypatch, command):
    from infra.hosts import audit as auditing

    monkeypatch.setattr(auditing, "audit", lambda **kw: pytest.fail("audit ran"))
    args = {"policy check": ["policy", "check", "--stack", "dev", "--out", str(tmp_path)],
            "audit": ["audit", "--out", str(tmp_path)]}[command]
    assert_one_line(invoke(args), 2, str(tmp_path), "is a directory")


def test_a_file_in_the_way_is_named_and_kept(tmp_path):
    (tmp_path / "r.json").write_text("my notes")
    line = assert_one_line(invoke(["policy", "check", "--stack", "dev", "--out",
                                   str(tmp_path / "r.json")]), 2)
    assert str(tmp_path / "r.json") in line and "not written by Rampart" in line
    assert (tmp_path / "r.json").read_text() == "my notes"
    forced = invoke(["policy", "check", "--stack", "dev", "--out", str(tmp_path / "r.json"),
                     "--force"])
    assert forced.exit_code == 0, forced.output
    assert (tmp_path / "r.json").read_text() != "my notes"


def test_a_real_process_prints_one_line_and_no_traceback(tmp_path):
    """Outside CliRunner: the installed entry point, as a user runs it."""
    (tmp_path / "Pulumi.yaml").write_text("name: rampart\nruntime: python\n")
    (tmp_path / "Pulumi.bad.yaml").write_bytes(BAD_STACKS["non-utf8"])
    code = "import sys; from infra.cli.main import app; sys.argv[0] = 'rampart'; app()"
    for args in (["render", "--stack", "bad", "--out", str(tmp_path / "o")],
                 ["render", "--stack", "dev", "--out", "/proc/rampart-test"]):
        cwd = tmp_path if "bad" in args else ROOT
        done = subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, capture_output=True,
                              text=True, timeout=120, check=False)
        assert done.returncode == 2, done.stderr
        assert "Traceback" not in done.stderr + done.stdout
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr


@pytest.mark.parametrize("command", ["check", "bootstrap"])
def test_secrets_honour_the_stacks_insecure_http_setting(tmp_path, monkeypatch, command):
    """`rampart secrets` judges the Vault address by the same stack section as the program's
    provider: a stack that allows plain http to its (non-loopback) Vault is not refused for
    it, and one that does not is refused before anything is contacted."""
    from infra.cli import secrets as cli
    from infra.secrets import vault as vault_module

    shutil.copy(ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    monkeypatch.chdir(tmp_path)
    seen = []

    class NoNetwork:  # stands in for the Vault client: nothing leaves the machine
        def __init__(self, settings: Any) -> None:
            seen.append(settings)
            raise VaultAccessError("stand-in: not contacted")

    from infra.secrets.errors import VaultAccessError

    monkeypatch.setattr(vault_module, "Vault", NoNetwork)
    env = {"VAULT_TOKEN": "t"}
    base = "config:\n  rampart:vaultAddr: http://vault.internal.example:8200\n"
    (tmp_path / "Pulumi.lax.yaml").write_text(base + "  rampart:vaultAllowInsecureHttp: true\n")
    (tmp_path / "Pulumi.strict.yaml").write_text(base)
    assert_one_line(invoke(["secrets", command, "--stack", "lax"], env), 3, "not contacted")
    assert seen and seen[-1].allow_insecure_http is True
    assert_one_line(invoke(["secrets", command, "--stack", "strict"], env), 2,
                    "refusing plain http")
    assert cli.SecretsInputError.exit_code == 2
