"""The lab's names and addresses (pure), and the committed inventory agreeing with them."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
import yaml

from infra.lab import LabError, default_lab
from infra.lab.config import DEFAULT_STATE_DIR, make_lab

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
CONTRACT = {"edge1": "10.77.0.11", "app1": "10.77.0.12", "db1": "10.77.0.13", "mon1": "10.77.0.14"}


def _test_lab(**overrides: object) -> object:
    args: dict[str, object] = {
        "name": "rampart-t",
        "bridge": "rampt0",
        "subnet": "10.78.0.0/24",
        "hosts": [("host1", "10.78.0.11")],
        "state_dir": Path("/var/lib/rampart/labs/rampart-t/state"),
    }
    args.update(overrides)
    return make_lab(**args)  # type: ignore[arg-type]


def test_default_lab_follows_the_contract() -> None:
    lab = default_lab()
    assert (lab.name, lab.bridge, str(lab.subnet)) == ("rampart", "rampart0", "10.77.0.0/24")
    assert {h.name: str(h.address) for h in lab.hosts} == CONTRACT
    assert lab.bridge_cidr == "10.77.0.1/24"
    assert lab.proxy_url == "http://10.77.0.1:3142"
    assert lab.state_dir == DEFAULT_STATE_DIR == REPO / "inventories/lab/.state"


@pytest.mark.parametrize("host", sorted(CONTRACT))
def test_default_lab_names_per_host(host: str) -> None:
    lab = default_lab()
    spec = lab.host(host)
    assert lab.netns(spec) == f"rampart-{host}"
    assert lab.machine(spec) == f"rampart-{host}"
    veth = lab.veth(spec)
    assert veth == f"rampart0-{CONTRACT[host].rsplit('.', 1)[1]}"
    assert len(veth) <= 15, f"veth name {veth} exceeds the kernel's 15-byte limit"


def test_second_lab_shares_no_name_with_the_default() -> None:
    default, other = default_lab(), _test_lab()
    assert default.run_dir != other.run_dir  # type: ignore[attr-defined]
    assert default.proxy_cache_dir != other.proxy_cache_dir  # type: ignore[attr-defined]
    default_names = {n for h in default.hosts for n in (default.netns(h), default.veth(h))}
    other_names = {n for h in other.hosts for n in (other.netns(h), other.veth(h))}  # type: ignore[attr-defined]
    assert not default_names & other_names
    assert not other.veth(other.hosts[0]).startswith(default.veth_prefix)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"hosts": [("host1", "10.79.0.11")]}, "10.79.0.11 is not a usable host address"),
        ({"hosts": [("host1", "10.78.0.1")]}, "the gateway 10.78.0.1 is the bridge"),
        ({"hosts": [("a", "10.78.0.11"), ("a", "10.78.0.12")]}, "host a is listed twice"),
        ({"hosts": [("a", "10.78.0.11"), ("b", "10.78.0.11")]}, "10.78.0.11 is used twice"),
        ({"hosts": []}, "no hosts"),
        ({"hosts": [("Host_1", "10.78.0.11")]}, "host name 'Host_1'"),
        ({"bridge": "averylongbridge0"}, "bridge name 'averylongbridge0'"),
        ({"name": "Bad Name"}, "lab name 'Bad Name'"),
        ({"subnet": "10.78.0.0/30"}, "too small"),
        ({"subnet": "10.78.0.300/24"}, "lab rampart-t:"),
    ],
)
def test_bad_lab_definitions_name_the_fault(overrides: dict[str, object], fragment: str) -> None:
    with pytest.raises(LabError, match=None) as caught:
        _test_lab(**overrides)
    assert fragment in str(caught.value)


def test_unknown_host_lists_the_known_ones() -> None:
    with pytest.raises(LabError) as caught:
        default_lab().host("web9")
    assert "web9" in str(caught.value) and "edge1, app1, db1, mon1" in str(caught.value)


def _inventory_hosts(node: dict, found: dict[str, dict]) -> None:  # type: ignore[type-arg]
    for name, hostvars in (node.get("hosts") or {}).items():
        found[name] = hostvars or {}
    for child in (node.get("children") or {}).values():
        _inventory_hosts(child or {}, found)


def test_inventory_matches_the_default_lab() -> None:
    inventory = yaml.safe_load((REPO / "inventories/lab/hosts.yml").read_text())
    found: dict[str, dict] = {}  # type: ignore[type-arg]
    _inventory_hosts(inventory["all"], found)
    addresses = {name: str(ipaddress.ip_address(v["ansible_host"])) for name, v in found.items()}
    assert addresses == CONTRACT, "inventories/lab/hosts.yml disagrees with infra/lab/config.py"


def test_inventory_groups_follow_the_contract() -> None:
    children = yaml.safe_load((REPO / "inventories/lab/hosts.yml").read_text())["all"]["children"]
    groups = {
        g: sorted(children[g].get("hosts") or {}) for g in ("edge", "app", "db", "monitoring")
    }
    assert groups == {"edge": ["edge1"], "app": ["app1"], "db": ["db1"], "monitoring": ["mon1"]}
    assert sorted(children["docker_hosts"]["children"]) == ["app", "edge"]


def test_lab_env_moves_the_default_lab(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAMPART_LAB", "rp1,rp10,10.79.1.0/24")
    lab = default_lab()
    assert (lab.name, lab.bridge) == ("rp1", "rp10")
    assert str(lab.host("db1").address) == "10.79.1.13"
    assert str(lab.host("edge1").address) == "10.79.1.11"


@pytest.mark.parametrize("spec", ["rp1,rp10", "rp1,,10.79.1.0/24", "rp1,rp10,10.79.1.300/24"])
def test_bad_lab_env_names_the_variable(monkeypatch: pytest.MonkeyPatch, spec: str) -> None:
    monkeypatch.setenv("RAMPART_LAB", spec)
    with pytest.raises(LabError, match="RAMPART_LAB"):
        default_lab()


def test_cache_dir_defaults_to_var_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RAMPART_CACHE_DIR", raising=False)
    assert default_lab().cache_dir == Path("/var/cache/rampart")


def test_cache_env_moves_rootfs_and_proxy_cache(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("RAMPART_CACHE_DIR", str(tmp_path / "cache"))
    lab = default_lab()
    assert lab.cache_dir == tmp_path / "cache"
    assert lab.proxy_cache_dir.parent == tmp_path / "cache"


def test_relative_cache_env_is_made_absolute(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RAMPART_CACHE_DIR", "rel-cache")
    assert default_lab().cache_dir == tmp_path / "rel-cache"
