"""One lab host: its own writable root, booted by systemd-nspawn in its netns."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from infra.lab import proxy, ssh, sysutil
from infra.lab.config import ADMIN_USER, HostSpec, LabConfig
from infra.lab.errors import LabError, LabUnavailableError

# systemd powers off on SIGRTMIN+4 (what `machinectl poweroff` sends to the container's init).
SIGPOWEROFF = signal.SIGRTMIN + 4
MEMORY_MAX = "2G"


def etc_hosts(lab: LabConfig, host: HostSpec) -> str:
    lines = ["127.0.0.1 localhost", f"127.0.1.1 {host.name}", "::1 localhost ip6-localhost"]
    lines += [f"{h.address} {h.name}" for h in lab.hosts]
    lines.append(f"{lab.gateway} {lab.name}-gateway")
    return "\n".join(lines) + "\n"


def overlay_dirs(lab: LabConfig, host: HostSpec) -> tuple[Path, Path, Path]:
    hdir = lab.host_dir(host)
    return hdir / "upper", hdir / "work", lab.host_root(host)


def root_mounted(lab: LabConfig, host: HostSpec) -> bool:
    return str(lab.host_root(host)) in sysutil.mounts_under(lab.host_dir(host))


def mount_root(lab: LabConfig, host: HostSpec, base: Path) -> None:
    """The host's writable root: an overlay of its own upper dir on the cached base.

    An overlay rather than a copy: copying the ~200 MB base costs ~13 s of kernel time per
    host on these machines, an overlay mount is instant. `down` unmounts it.
    """
    if root_mounted(lab, host):
        return
    if not (base / "etc").is_dir():
        raise LabError(
            f"lab {lab.name}: host {host.name} was created on the base {base}, which is gone; "
            "run `rampart lab down` and `up` again"
        )
    upper, work, root = overlay_dirs(lab, host)
    for path in (upper, work, root):
        path.mkdir(parents=True, exist_ok=True)
    sysutil.run(
        [
            "mount", "-t", "overlay", f"rampart-{lab.machine(host)}",
            "-o", f"lowerdir={base},upperdir={upper},workdir={work}", str(root),
        ],
        f"lab {lab.name}: host {host.name} root overlay on {base}",
    )  # fmt: skip


def reusable(lab: LabConfig, host: HostSpec, made_on: Path) -> bool:
    """Whether an existing (stopped) host can boot again as it is: its base is still cached and
    it trusts this checkout's lab key. A host left behind by another checkout (a CI clone after
    a developer's session, say) trusts a different key and must be made afresh, or nothing
    could log in to it. Leaves the root mounted when it is reusable."""
    if not (made_on / "etc").is_dir():
        return False
    mount_root(lab, host, made_on)
    return trusts_our_key(lab, host)


def trusts_our_key(lab: LabConfig, host: HostSpec) -> bool:
    """Whether the host's (mounted) root lets this checkout's lab key log in."""
    authorized = lab.host_root(host) / "home" / ADMIN_USER / ".ssh" / "authorized_keys"
    key = Path(f"{lab.key_path}.pub").read_text().strip()
    try:
        return key in authorized.read_text()
    except OSError:
        return False


def unmount_root(lab: LabConfig, host: HostSpec) -> None:
    if root_mounted(lab, host):
        sysutil.run(
            ["umount", str(lab.host_root(host))],
            f"lab {lab.name}: unmounting host {host.name}'s root",
        )


def create_root(lab: LabConfig, host: HostSpec, base: Path) -> dict[str, str]:
    """Give a freshly mounted root its own identity; returns the host keys to pin."""
    root = lab.host_root(host)
    (root / ".rampart-complete").unlink(missing_ok=True)
    (root / "etc/hostname").write_text(f"{host.name}\n")
    (root / "etc/hosts").write_text(etc_hosts(lab, host))
    # No DNS in the lab: apt goes through the proxy by name, peers are in /etc/hosts.
    resolv = root / "etc/resolv.conf"
    if resolv.is_symlink() or resolv.exists():
        resolv.unlink()
    resolv.write_text("# lab host: no DNS server; names come from /etc/hosts\n")
    (root / "etc/apt/apt.conf.d/01rampart-lab-proxy").write_text(proxy.apt_proxy_conf(lab))
    key = Path(f"{lab.key_path}.pub").read_text()
    home_ssh = root / "home" / ADMIN_USER / ".ssh"
    auth = home_ssh / "authorized_keys"
    auth.write_text(key)
    stat = home_ssh.stat()
    os.chown(auth, stat.st_uid, stat.st_gid)
    auth.chmod(0o600)
    keys = ssh.generate_host_keys(root, host.name)
    # Written last: a root without this marker was interrupted mid-creation.
    (lab.host_dir(host) / "created").write_text(str(base))
    return keys


def nspawn_command(lab: LabConfig, host: HostSpec, register: bool) -> list[str]:
    return [
        "systemd-nspawn",
        "--quiet",
        "--boot",
        f"--directory={lab.host_root(host)}",
        f"--machine={lab.machine(host)}",
        f"--hostname={host.name}",
        f"--network-namespace-path=/run/netns/{lab.netns(host)}",
        # The host's own netns is its whole network: it may manage its firewall (nftables)
        # and network sysctls there, like a real host. nspawn grants this with
        # --private-network only, not with a namespace path.
        "--capability=CAP_NET_ADMIN",
        f"--register={'yes' if register else 'no'}",
        # Leave the machine's journal, resolv.conf and timezone alone.
        "--link-journal=no",
        "--resolv-conf=off",
        "--timezone=off",
        "--console=passive",
        # Without systemd as init there is no bus to allocate a scope unit on.
        *([] if register else ["--keep-unit"]),
        # With machined, nspawn's scope unit caps the host's RAM (2 cores/24 GiB machines).
        *([f"--property=MemoryMax={MEMORY_MAX}"] if register else []),
    ]


def machined_available() -> bool:
    # machined needs systemd as the machine's init; without it, nspawn must not register.
    return Path("/run/systemd/system").is_dir() and shutil.which("machinectl") is not None


# Parent of the hosts' own cgroups, in every hierarchy, when no machined gives them a scope.
CGROUP_PARENT = "rampart-labs"
# Run by the shell that becomes nspawn: it moves itself into the host's cgroups, then execs.
_ENTER_CGROUPS = (
    'for f in "$@"; do [ "$f" = -- ] && break; echo $$ > "$f"; shift; done; shift; exec "$@"'
)


def cgroup_dirs(lab: LabConfig, host: HostSpec) -> list[Path]:
    return [mnt / CGROUP_PARENT / lab.machine(host) for mnt in sysutil.cgroup_mounts()]


def enter_own_cgroups(lab: LabConfig, host: HostSpec, cmd: list[str]) -> list[str]:
    """`cmd`, started in cgroups of the host's own.

    Without machined, nspawn --keep-unit puts the container in the cgroup nspawn runs in —
    the machine's root — so every host's systemd managed the same `payload/system.slice/<unit>`
    directories: one host pruning its finished unit's cgroup made a restart of the same unit on
    another host fail with 219/CGROUP ("Failed to attach ... to compat systemd cgroup").
    """
    procs = []
    for path in cgroup_dirs(lab, host):
        # A stale cgroup of this host from an earlier boot is empty; reuse it.
        path.mkdir(parents=True, exist_ok=True)
        # A new v1 cpuset starts with no CPUs and no memory nodes and admits no process.
        for level in (path.parent, path):
            for knob in ("cpuset.cpus", "cpuset.mems"):
                if (level / knob).is_file() and not (level / knob).read_text().strip():
                    (level / knob).write_text((level.parent / knob).read_text())
        procs.append(str(path / "cgroup.procs"))
    return ["/bin/sh", "-c", _ENTER_CGROUPS, "sh", *procs, "--", *cmd]


def remove_cgroups(lab: LabConfig, host: HostSpec) -> None:
    for path in cgroup_dirs(lab, host):
        try:
            sysutil.remove_cgroup(path)
        except OSError as exc:
            raise LabUnavailableError(
                f"lab {lab.name}: host {host.name}: cgroup {path} cannot be removed "
                f"({exc.strerror}); processes of the host are still running"
            ) from exc
        with contextlib.suppress(OSError):  # other labs' hosts may still be in it
            path.parent.rmdir()


def start(lab: LabConfig, host: HostSpec) -> sysutil.Proc:
    log = lab.host_dir(host) / "nspawn.log"
    log.write_bytes(b"")
    # /proc/sys/net (the host's own netns only) writable, the rest of /proc/sys read-only:
    # network sysctls apply live as on a real host, kernel-global ones cannot.
    env = {**os.environ, "SYSTEMD_NSPAWN_API_VFS_WRITABLE": "network"}
    register = machined_available()
    cmd = nspawn_command(lab, host, register)
    # With machined, nspawn gets a scope unit (its own cgroup) from the machine's systemd.
    return sysutil.spawn(cmd if register else enter_own_cgroups(lab, host, cmd), log, env=env)


def wait_ready(lab: LabConfig, host: HostSpec, proc: sysutil.Proc, deadline: float) -> str:
    """Wait until sshd accepts the lab key and systemd reports running/degraded."""
    last = "no answer yet"
    while time.monotonic() < deadline:
        if not proc.alive():
            raise LabError(
                f"lab {lab.name}: host {host.name} (systemd-nspawn PID {proc.pid}) exited "
                f"while booting; see {lab.host_dir(host) / 'nspawn.log'}"
            )
        try:
            done = ssh.ssh_run(lab, host, ["systemctl", "is-system-running", "--wait"], 60)
        except subprocess.TimeoutExpired:
            last = "timed out waiting for systemctl is-system-running"
            continue
        state = done.stdout.strip()
        if state in ("running", "degraded"):
            return state
        last = (done.stderr.strip() or state or f"ssh exit {done.returncode}").splitlines()[-1]
        if "Host key verification failed" in last or "REMOTE HOST IDENTIFICATION" in last:
            raise LabError(
                f"lab {lab.name}: host {host.name} presents a host key that differs from the "
                f"pinned one in {lab.known_hosts_path}"
            )
        time.sleep(0.5)
    raise LabUnavailableError(
        f"lab {lab.name}: host {host.name} ({host.address}) not ready after "
        f"{lab.boot_timeout:.0f}s: {last}; see {lab.host_dir(host) / 'nspawn.log'}"
    )


def container_init(proc: sysutil.Proc) -> int | None:
    """PID (on the machine) of the container's systemd: nspawn's child."""
    kids = proc.children()
    return kids[0] if kids else None


def stop(lab: LabConfig, host: HostSpec, proc: sysutil.Proc | None, timeout: float = 30) -> None:
    """Power the host off through its init, wait; SIGKILL by recorded PID only as last resort.
    Then its cgroups go too (also those of a host that died on its own)."""
    if proc is not None and proc.alive():
        init = container_init(proc)
        if init is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(init, SIGPOWEROFF)
        if not proc.wait_gone(timeout):
            # nspawn turns SIGTERM into an orderly shutdown request too; then the last resort.
            sysutil.stop(proc, signal.SIGTERM, 10, f"lab {lab.name}: host {host.name} (nspawn)")
    remove_cgroups(lab, host)


def remove_root(lab: LabConfig, host: HostSpec) -> None:
    hdir = lab.host_dir(host)
    unmount_root(lab, host)
    leftover = sysutil.mounts_under(hdir)
    if leftover:
        raise LabError(
            f"lab {lab.name}: host {host.name} still has mounts under {hdir}: "
            f"{', '.join(leftover)}; not deleting its root"
        )
    if hdir.exists():
        shutil.rmtree(hdir)
