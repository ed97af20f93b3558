"""`up`, `down` and `status` of a lab. Idempotent: each step checks before it acts."""

from __future__ import annotations

import fcntl
import shutil
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from infra.lab import hosts, net, proxy, rootfs, ssh, state, sysutil
from infra.lab.config import LabConfig
from infra.lab.errors import LabError

UP_TOOLS = [
    "ip", "systemd-nspawn", "debootstrap", "ssh", "ssh-keygen", "setpriv", "chroot", "mount",
]  # fmt: skip
DOWN_TOOLS = ["ip", "umount"]
ACNG_BINARY = Path("/usr/sbin/apt-cacher-ng")

Progress = Callable[[str], None]


def _quiet(_msg: str) -> None:
    pass


@dataclass
class UpReport:
    rootfs: Path
    rootfs_built: bool
    # Trees of an interrupted build found (and replaced) on the way.
    discarded: list[Path] = field(default_factory=list)
    started: list[str] = field(default_factory=list)
    already_running: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)


@contextmanager
def _locked(lab: LabConfig) -> Iterator[None]:
    """One lifecycle operation per lab at a time (two `up`s would race on the same netns)."""
    lab.run_base.mkdir(parents=True, exist_ok=True)
    with open(lab.run_base / f"{lab.name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _preflight(tools: list[str], need_proxy: bool) -> None:
    sysutil.require_root()
    sysutil.ensure_sbin_on_path()
    sysutil.require_tools(tools)
    if need_proxy and not ACNG_BINARY.is_file():
        raise LabError(f"{ACNG_BINARY} is missing (install apt-cacher-ng: scripts/system-deps.sh)")


def base_recipe() -> rootfs.Recipe:
    """The base every host of every lab starts from (its digest names the cached rootfs)."""
    return rootfs.default_recipe(proxy.DEFAULT_MIRROR, proxy.DEFAULT_SECURITY)


def up(lab: LabConfig, progress: Progress = _quiet) -> UpReport:
    # Input first: a bad cache directory is named before anything on the machine changes.
    rootfs.check_cache_dir(lab.cache_dir)
    _preflight(UP_TOOLS, need_proxy=True)
    with _locked(lab):
        return _up(lab, progress)


def _up(lab: LabConfig, progress: Progress) -> UpReport:
    t0 = time.monotonic()
    st = state.load(lab.state_file)
    ssh.ensure_lab_key(lab)
    net.ensure_bridge(lab)
    mirrors = proxy.machine_mirrors()
    st.proxy = proxy.start(lab, st.proxy, mirrors)
    state.save(lab.state_file, st)
    t_net = time.monotonic()

    recipe = base_recipe()
    cached = rootfs.rootfs_path(lab.cache_dir, recipe)
    built = not rootfs.is_complete(cached)
    discarded = rootfs.half_built(lab.cache_dir, recipe) if built else []
    if built:
        progress(f"building the base rootfs {cached} (debootstrap, once: ~2-4 min)")
    lab.run_dir.mkdir(parents=True, exist_ok=True)
    base = rootfs.ensure_rootfs(lab.cache_dir, recipe, lab.proxy_url, lab.run_dir / "rootfs.log")
    st.rootfs = str(base)
    t_rootfs = time.monotonic()

    report = UpReport(rootfs=base, rootfs_built=built, discarded=discarded)
    procs: dict[str, sysutil.Proc] = {}
    for host in lab.hosts:
        hs = st.host(host.name)
        if hs.nspawn is not None and hs.nspawn.alive():
            if hosts.trusts_our_key(lab, host):
                report.already_running.append(host.name)
                procs[host.name] = hs.nspawn
                continue
            # Left running by another checkout (a CI clone beside a developer's tree, say):
            # nothing here could log in to it, so it is stopped and made afresh.
            progress(f"host {host.name} trusts another checkout's key: replacing it")
            hosts.stop(lab, host, hs.nspawn)
            hs.nspawn = None
            hosts.unmount_root(lab, host)
            (lab.host_dir(host) / "created").unlink(missing_ok=True)
        net.ensure_host_net(lab, host)
        created = lab.host_dir(host) / "created"
        # Reused only on the current base: a host made from another cache (RAMPART_CACHE_DIR
        # moved) or an older recipe is made afresh, as on a new machine.
        made_on = Path(created.read_text()) if created.is_file() else None
        if made_on == base and hs.keys and hosts.reusable(lab, host, made_on):
            # Existing host (e.g. after a machine reboot): remounted on the base it was made from.
            pass
        else:
            progress(f"creating host {host.name}")
            hosts.remove_root(lab, host)  # leftovers of an interrupted creation
            hosts.mount_root(lab, host, base)
            hs.keys = hosts.create_root(lab, host, base)
            # Ansible's fact cache (gathering=smart) must not describe a previous host.
            (lab.state_dir / "facts" / host.name).unlink(missing_ok=True)
        # Pin before booting: the first connection already checks the key.
        ssh.write_known_hosts(lab, st.pinned())
        progress(f"booting host {host.name}")
        hs.nspawn = hosts.start(lab, host)
        procs[host.name] = hs.nspawn
        report.started.append(host.name)
        state.save(lab.state_file, st)
    ssh.write_known_hosts(lab, st.pinned())
    state.save(lab.state_file, st)

    deadline = time.monotonic() + lab.boot_timeout
    with ThreadPoolExecutor(max_workers=len(lab.hosts)) as pool:
        futures = {
            h.name: pool.submit(hosts.wait_ready, lab, h, procs[h.name], deadline)
            for h in lab.hosts
        }
        errors = []
        for _name, fut in futures.items():
            try:
                fut.result()
            except LabError as exc:
                errors.append(str(exc))
    if errors:
        raise LabError("; ".join(errors))
    t_end = time.monotonic()
    report.seconds = {
        "network+proxy": t_net - t0,
        "rootfs": t_rootfs - t_net,
        "hosts": t_end - t_rootfs,
        "total": t_end - t0,
    }
    return report


def down(lab: LabConfig, progress: Progress = _quiet) -> float:
    """Stop every host and the proxy, remove roots, netns, veths and the bridge."""
    _preflight(DOWN_TOOLS, need_proxy=False)
    t0 = time.monotonic()
    with _locked(lab):
        st = state.load(lab.state_file)
        with ThreadPoolExecutor(max_workers=len(lab.hosts)) as pool:
            for fut in [pool.submit(hosts.stop, lab, h, st.host(h.name).nspawn) for h in lab.hosts]:
                fut.result()
        for host in lab.hosts:
            progress(f"removing host {host.name}")
            net.remove_host_net(lab, host)
            hosts.remove_root(lab, host)
        sysutil.stop(st.proxy, 15, 10, f"lab {lab.name}: apt-cacher-ng")
        net.remove_bridge(lab)
        leftover = sysutil.mounts_under(lab.run_dir)
        if leftover:
            raise LabError(f"lab {lab.name}: mounts left under {lab.run_dir}: {leftover}")
        if lab.run_dir.exists():
            shutil.rmtree(lab.run_dir)
        # The hosts are gone, so are their keys; the lab key stays for the next `up`.
        lab.known_hosts_path.unlink(missing_ok=True)
    return time.monotonic() - t0


@dataclass
class HostStatus:
    name: str
    address: str
    nspawn_pid: int | None
    netns: bool
    veth: bool
    systemd: str


@dataclass
class LabStatus:
    name: str
    bridge: str
    bridge_up: bool
    proxy_pid: int | None
    proxy_listening: bool
    rootfs: str
    hosts: list[HostStatus]

    @property
    def all_up(self) -> bool:
        return (
            self.bridge_up
            and self.proxy_listening
            and all(h.systemd in ("running", "degraded") for h in self.hosts)
        )


def status(lab: LabConfig) -> LabStatus:
    sysutil.ensure_sbin_on_path()
    st = state.load(lab.state_file)
    links = net.link_names()
    namespaces = net.netns_names()

    def probe(host_name: str) -> HostStatus:
        host = lab.host(host_name)
        proc = st.host(host.name).nspawn
        alive = proc is not None and proc.alive()
        systemd = "stopped"
        if alive and lab.known_hosts_path.is_file():
            try:
                done = ssh.ssh_run(lab, host, ["systemctl", "is-system-running"], 10)
                systemd = done.stdout.strip() or "unreachable"
            except Exception:  # noqa: BLE001 - any failure is reported as unreachable
                systemd = "unreachable"
        elif alive:
            systemd = "no known_hosts"
        return HostStatus(
            host.name,
            str(host.address),
            proc.pid if alive and proc else None,
            lab.netns(host) in namespaces,
            lab.veth(host) in links,
            systemd,
        )

    with ThreadPoolExecutor(max_workers=len(lab.hosts)) as pool:
        host_states = list(pool.map(probe, [h.name for h in lab.hosts]))
    proxy_alive = st.proxy is not None and st.proxy.alive()
    return LabStatus(
        name=lab.name,
        bridge=lab.bridge,
        bridge_up=lab.bridge in links,
        proxy_pid=st.proxy.pid if proxy_alive and st.proxy else None,
        proxy_listening=proxy.listening(str(lab.gateway), lab.proxy_port),
        rootfs=st.rootfs,
        hosts=host_states,
    )
