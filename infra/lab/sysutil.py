"""Small wrappers over the machine: commands, mounts and processes identified by PID."""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from infra.lab.errors import LabError, LabInputError


def run(cmd: list[str], what: str, check: bool = True, **kwargs: object) -> str:
    """Run a command, returning stdout; on failure raise naming `what` and showing stderr."""
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, **kwargs)  # type: ignore[call-overload]
    if check and done.returncode != 0:
        err = (done.stderr or done.stdout).strip().splitlines()
        detail = err[-1] if err else f"exit {done.returncode}"
        raise LabError(f"{what}: `{' '.join(cmd)}` failed: {detail}")
    return str(done.stdout)


def ensure_sbin_on_path() -> None:
    """debootstrap, chroot and friends live in sbin, which a non-login root PATH may lack."""
    parts = os.environ.get("PATH", "").split(os.pathsep)
    missing = [d for d in ("/usr/local/sbin", "/usr/sbin", "/sbin") if d not in parts]
    if missing:
        os.environ["PATH"] = os.pathsep.join([*parts, *missing])


def require_tools(tools: list[str]) -> None:
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        raise LabError(
            f"missing commands on this machine: {', '.join(missing)} "
            "(install them with scripts/system-deps.sh)"
        )


def require_root() -> None:
    if os.geteuid() != 0:
        raise LabInputError("the lab needs root (bridges, network namespaces, systemd-nspawn)")


def mounts_under(path: Path) -> list[str]:
    """Mount points at or below `path`, in mount order (unmount in reverse)."""
    base = str(path.resolve()) if path.exists() else str(path)
    found = []
    with open("/proc/self/mountinfo") as info:
        for line in info:
            point = line.split()[4].replace("\\040", " ")
            if point == base or point.startswith(base.rstrip("/") + "/"):
                found.append(point)
    return found


def overlay_lowerdirs() -> set[str]:
    """Lower directories of every overlay mounted on the machine."""
    found: set[str] = set()
    with open("/proc/self/mountinfo") as info:
        for line in info:
            _, _, tail = line.partition(" - ")
            parts = tail.split()
            if len(parts) >= 3 and parts[0] == "overlay":
                for opt in parts[2].split(","):
                    if opt.startswith("lowerdir="):
                        found.update(opt.removeprefix("lowerdir=").split(":"))
    return found


def cgroup_mounts() -> list[Path]:
    """Mount points of every cgroup hierarchy (v1 controllers, name=systemd, v2 unified)."""
    found = []
    with open("/proc/self/mountinfo") as info:
        for line in info:
            fields = line.split()
            fstype = line.partition(" - ")[2].split()[:1]
            if fstype and fstype[0] in ("cgroup", "cgroup2"):
                found.append(Path(fields[4].replace("\\040", " ")))
    return found


def remove_cgroup(path: Path) -> None:
    """Remove an (empty) cgroup and the ones below it, deepest first: cgroups are rmdir'ed,
    never deleted file by file."""
    if not path.is_dir():
        return
    for sub in sorted((p for p in path.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
        with contextlib.suppress(FileNotFoundError):
            sub.rmdir()
    with contextlib.suppress(FileNotFoundError):
        path.rmdir()


@dataclass(frozen=True)
class Proc:
    """A process we started, identified by PID and its kernel start time (PID reuse safe)."""

    pid: int
    start: int

    def alive(self) -> bool:
        return start_time(self.pid) == self.start

    def signal(self, sig: int) -> None:
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)

    def wait_gone(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                return True
            time.sleep(0.1)
        return not self.alive()

    def children(self) -> list[int]:
        try:
            text = Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text()
        except OSError:
            return []
        return [int(p) for p in text.split()]

    def to_json(self) -> dict[str, int]:
        return {"pid": self.pid, "start": self.start}

    @classmethod
    def from_json(cls, data: dict[str, int] | None) -> Proc | None:
        if not data:
            return None
        return cls(int(data["pid"]), int(data["start"]))


def start_time(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Field 22 (starttime); the command name in field 2 may contain spaces, so split after ')'.
    fields = stat.rsplit(")", 1)[1].split()
    state = fields[0]
    if state == "Z":
        # A zombie has exited; its parent just has not reaped it yet.
        return None
    return int(fields[19])


def spawn(cmd: list[str], log: Path, env: dict[str, str] | None = None) -> Proc:
    """Start a long-running process detached from us, output to `log`; return its PID.

    A shell backgrounds it and exits, so the process is re-parented to init at once: it
    outlives the CLI and never lingers as our zombie. Its own session keeps terminal signals
    (Ctrl-C in the caller's shell) away from it.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    line = f"setsid {shlex.join(cmd)} </dev/null >>{shlex.quote(str(log))} 2>&1 & echo $!"
    done = subprocess.run(
        ["/bin/sh", "-c", line], capture_output=True, text=True, env=env, check=False
    )
    if done.returncode != 0 or not done.stdout.strip().isdigit():
        raise LabError(f"could not start `{cmd[0]}`: {done.stderr.strip()}; see {log}")
    pid = int(done.stdout.strip())
    start = start_time(pid)
    if start is None:
        raise LabError(f"`{cmd[0]}` exited immediately; see {log}")
    return Proc(pid, start)


def stop(proc: Proc | None, graceful: int, timeout: float, what: str) -> None:
    """Signal `graceful`, wait, then SIGKILL by recorded PID as the last resort."""
    if proc is None or not proc.alive():
        return
    proc.signal(graceful)
    if proc.wait_gone(timeout):
        return
    proc.signal(signal.SIGKILL)
    if not proc.wait_gone(10):
        raise LabError(f"{what}: process {proc.pid} survived SIGKILL")
