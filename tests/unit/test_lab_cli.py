"""`rampart lab` follows the command contract (DESIGN §5) without a lab: input errors exit 2
before anything runs, an unavailable host or apt proxy 3, any other failure 1.

No test here starts, stops, probes or enters a lab: the lifecycle functions are replaced by
stand-ins (which fail the test if an input error should have stopped the command first), and
`lab ssh` gets a fake `os.execvp`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from cli_support import assert_one_line as one_line
from typer.testing import CliRunner

import infra.cli.lab as lab_cli
from infra.cli.main import app
from infra.lab import LabError, lifecycle, state
from infra.lab.errors import LabInputError, LabUnavailableError
from infra.lab.sysutil import Proc, start_time

pytestmark = pytest.mark.unit


class ExecCalled(Exception):
    """Raised by the fake `os.execvp`: the command got as far as handing over to ssh."""


@pytest.fixture(autouse=True)
def no_lab(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The default lab, whatever the environment says; no lifecycle call and no exec reaches
    the machine. Returns the argument lists `os.execvp` was called with."""
    monkeypatch.delenv("RAMPART_LAB", raising=False)

    def forbidden(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the lab lifecycle was called; an input error should stop first")

    for name in ("up", "down", "status"):
        monkeypatch.setattr(lifecycle, name, forbidden)
    execs: list[list[str]] = []

    def fake_exec(file: str, args: list[str]) -> None:
        execs.append(list(args))
        raise ExecCalled(file)

    monkeypatch.setattr(os, "execvp", fake_exec)
    return execs


def invoke(args: list[str], env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(app, ["lab", *args], env=env)




CUSTOM = ["--name", "rampart-clitest", "--bridge", "rclit0", "--subnet", "10.79.42.0/24",
          "--host", "host1=10.79.42.11"]


def custom(state_dir: Path) -> list[str]:
    return [*CUSTOM, "--state-dir", str(state_dir)]


# --- input errors: exit 2, nothing run -------------------------------------------------------


def test_ssh_to_an_unknown_host_exits_2_naming_the_hosts(no_lab: list[list[str]]) -> None:
    result = invoke(["ssh", "web9", "--", "true"])
    one_line(result, 2, "no host named 'web9'", "edge1", "mon1")
    assert no_lab == [], "ssh was started for a host the lab does not have"


def test_ssh_to_an_unknown_host_of_another_lab_exits_2(tmp_path: Path) -> None:
    one_line(invoke([*custom(tmp_path), "ssh", "edge1"]), 2,
             "lab rampart-clitest", "no host named 'edge1'", "host1")


@pytest.mark.parametrize(("options", "fragments"), [
    (["--subnet", "10.79.42.0/33"], ["lab rampart-clitest", "is not a valid netmask"]),
    (["--subnet", "10.79.42.0/30"], ["subnet 10.79.42.0/30 is too small"]),
    (["--subnet", "not-a-subnet"], ["not-a-subnet"]),
    (["--host", "host1=10.80.0.11"], ["host host1 address 10.80.0.11 is not a usable"]),
    (["--host", "host1=10.79.42.1"], ["the gateway 10.79.42.1 is the bridge"]),
    (["--host", "host1=999.1.1.1"], ["999.1.1.1"]),
    (["--host", "host1"], ["--host 'host1': expected NAME=ADDRESS"]),
    (["--host", "Host_1=10.79.42.11"], ["host name 'Host_1'"]),
    (["--name", "Bad_Name"], ["lab name 'Bad_Name'"]),
    (["--bridge", "bridge-name-too-long"], ["bridge name 'bridge-name-too-long'"]),
], ids=["prefix-33", "subnet-too-small", "subnet-garbage", "host-outside", "host-is-gateway",
        "host-address-garbage", "host-no-address", "host-name", "lab-name", "bridge-name"])
@pytest.mark.parametrize("command", ["status", "up", "down"])
def test_bad_lab_options_exit_2_before_the_command_runs(
        options: list[str], fragments: list[str], command: str) -> None:
    args = list(CUSTOM)
    for option, value in zip(options[::2], options[1::2], strict=True):
        args[args.index(option) + 1] = value
    one_line(invoke([*args, command]), 2, *fragments)


@pytest.mark.parametrize("missing", ["--bridge", "--subnet", "--host"])
def test_another_lab_without_all_its_options_exits_2(missing: str) -> None:
    args = list(CUSTOM)
    index = args.index(missing)
    del args[index:index + 2]
    one_line(invoke([*args, "status"]), 2, "a lab other than the default needs", missing)


def test_a_bad_rampart_lab_variable_exits_2() -> None:
    one_line(invoke(["status"], env={"RAMPART_LAB": "only-a-name"}), 2,
             "RAMPART_LAB='only-a-name'", "expected NAME,BRIDGE,SUBNET")
    one_line(invoke(["status"], env={"RAMPART_LAB": "rl,rl0,10.1.2.0/33"}), 2, "RAMPART_LAB")


def test_usage_errors_exit_2() -> None:
    assert invoke(["ssh"]).exit_code == 2, "no HOST"
    assert invoke(["--subnet"]).exit_code == 2
    assert invoke(["reboot"]).exit_code == 2


# --- an unavailable lab: exit 3 --------------------------------------------------------------


def test_ssh_before_the_lab_has_a_key_exits_3(tmp_path: Path,
                                              no_lab: list[list[str]]) -> None:
    line = one_line(invoke([*custom(tmp_path / "state"), "ssh", "host1"]), 3,
                    "lab rampart-clitest has no key or known_hosts", "rampart lab up")
    assert str(tmp_path / "state") in line
    assert no_lab == []


def _with_key(state_dir: Path) -> Path:
    state_dir.mkdir()
    (state_dir / "id_ed25519").write_text("not a real key\n")
    (state_dir / "known_hosts").write_text("")
    return state_dir


def test_ssh_to_a_host_that_is_not_running_exits_3(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   no_lab: list[list[str]]) -> None:
    monkeypatch.setattr(state, "load", lambda path: state.LabState())  # nothing recorded
    one_line(invoke([*custom(_with_key(tmp_path / "s")), "ssh", "host1", "--", "true"]), 3,
             "host host1 (10.79.42.11) is not running", "rampart lab up")
    gone = Proc(os.getpid(), 0)  # a start time that is not this process's: exited
    recorded = state.LabState(hosts={"host1": state.HostState(nspawn=gone)})
    monkeypatch.setattr(state, "load", lambda path: recorded)
    one_line(invoke([*custom(tmp_path / "s"), "ssh", "host1"]), 3, "is not running")
    assert no_lab == [], "ssh was started for a host that is not running"


def test_ssh_to_a_running_host_hands_over_to_ssh(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 no_lab: list[list[str]]) -> None:
    me = Proc(os.getpid(), start_time(os.getpid()) or 0)
    assert me.alive()
    recorded = state.LabState(hosts={"host1": state.HostState(nspawn=me)})
    monkeypatch.setattr(state, "load", lambda path: recorded)
    result = invoke([*custom(_with_key(tmp_path / "s")), "ssh", "host1", "--", "hostname"])
    assert isinstance(result.exception, ExecCalled), result.output
    assert len(no_lab) == 1
    assert no_lab[0][0] == "ssh" and "rampart@10.79.42.11" in no_lab[0]
    assert no_lab[0][-2:] == ["--", "hostname"]


def test_an_unreadable_lab_record_leaves_the_verdict_to_ssh(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch,
                                                            no_lab: list[list[str]]) -> None:
    def unreadable(path: Path) -> state.LabState:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(state, "load", unreadable)
    result = invoke([*custom(_with_key(tmp_path / "s")), "ssh", "host1"])
    assert isinstance(result.exception, ExecCalled), result.output


def _status(*, bridge: bool = True, proxy: bool = True,
            systemd: tuple[str, ...] = ("running",)) -> lifecycle.LabStatus:
    hosts = [lifecycle.HostStatus(f"host{i + 1}", f"10.79.42.{11 + i}",
                                  1000 + i if state_ != "stopped" else None, True, True, state_)
             for i, state_ in enumerate(systemd)]
    return lifecycle.LabStatus(name="rampart-clitest", bridge="rclit0", bridge_up=bridge,
                               proxy_pid=4242 if proxy else None, proxy_listening=proxy,
                               rootfs="/var/cache/rampart/rootfs-x", hosts=hosts)


@pytest.mark.parametrize(("status", "code"), [
    (_status(), 0),
    (_status(systemd=("running", "degraded")), 0),
    (_status(systemd=("running", "stopped")), 3),
    (_status(systemd=("unreachable",)), 3),
    (_status(bridge=False, proxy=False, systemd=("stopped", "stopped")), 3),
    (_status(proxy=False), 3),
], ids=["all-up", "degraded-counts-as-up", "one-host-stopped", "host-unreachable",
        "lab-down", "proxy-down"])
def test_status_exits_3_unless_every_part_is_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                status: lifecycle.LabStatus,
                                                code: int) -> None:
    monkeypatch.setattr(lifecycle, "status", lambda lab: status)
    result = invoke([*custom(tmp_path), "status"])
    assert result.exit_code == code, result.output
    assert "host1" in result.stdout and "apt proxy:" in result.stdout


# --- failures of up/down/status: 3 for an unavailable host or proxy, else 1 ------------------


@pytest.mark.parametrize(("error", "code"), [
    (LabUnavailableError("lab rampart-clitest: host host1 (10.79.42.11) not ready after 90s: "
                         "Connection refused [ssh]"), 3),
    (LabUnavailableError("lab rampart-clitest: apt-cacher-ng did not listen on "
                         "10.79.42.1:3142"), 3),
    (LabInputError("lab cache directory /nope is not a directory [RAMPART_CACHE_DIR]"), 2),
    (LabError("lab rampart-clitest: host host1 presents a host key that differs [pinned]"), 1),
], ids=["host-not-ready", "proxy-not-listening", "input", "other"])
@pytest.mark.parametrize("command", ["up", "down", "status"])
def test_lifecycle_errors_map_to_the_contract(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              error: LabError, code: int, command: str) -> None:
    def fail(*args: Any, **kwargs: Any) -> Any:
        raise error

    monkeypatch.setattr(lifecycle, command, fail)
    result = invoke([*custom(tmp_path), command])
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    assert str(error) in " ".join(result.stderr.split()), "the message (and its [..]) is shown"


def test_exit_code_of_each_error_class() -> None:
    assert lab_cli.exit_code(LabError("x")) == 1
    assert lab_cli.exit_code(LabInputError("x")) == 2
    assert lab_cli.exit_code(LabUnavailableError("x")) == 3
    assert issubclass(LabUnavailableError, LabError), "callers catching LabError still do"
