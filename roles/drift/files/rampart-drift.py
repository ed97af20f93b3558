#!/usr/bin/python3
"""Re-check a host's hardening against the state the last converge left, as textfile metrics.

    rampart-drift record   the converged state becomes the baseline (run by the drift role,
                           last in playbooks/site.yml); prints "changed" or "unchanged"
    rampart-drift check    compare the live host with the baseline, write the metrics
    rampart-drift aide     run AIDE's database check (slow: its own timer), keep the result
    rampart-drift aide-made  AIDE's database was just made from this file system: nothing
                           differs yet (the role runs it right after aideinit)
    rampart-drift converge-start --marker MARKER
                           a converge begins: its time, and what already differs from AIDE's
                           database (never blessed by it), into MARKER
    rampart-drift aide-accept --since MARKER
                           AIDE's database takes what this converge changed (inodes changed
                           since MARKER, written when playbooks/harden.yml started), and only
                           that: a difference outside it keeps the old database and is drift;
                           prints "changed" (the database took changes) or "unchanged"

Checks (each one gauge rampart_drift_check_ok{check=...}, 1 ok / 0 drifted or not checkable):
  sshd      `sshd -T` (the settings sshd runs with on its next connection) vs the baseline
  nftables  the loaded firewall table vs the same table loaded from the role's file in a
            scratch network namespace at converge time (hash of the stateless JSON listing,
            handles and the members of dynamic sets left out: they change with traffic)
  sysctl    live /proc/sys values vs the kernel_hardening file (the keys this host can set)
  auditd    rules.d files vs the baseline hashes, audit.rules generated from them, and the
            kernel's loaded rules (`auditctl -l`) vs the baseline where the kernel allows audit
  aide      the last `aide --check` found no difference and is not stale
  upgrades  no security upgrade pending for longer than the grace period
Only the Python standard library: it runs on the managed host.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

DEFAULT_CONFIG = Path("/etc/rampart-drift/config.json")
CHECKS = ("sshd", "nftables", "sysctl", "auditd", "aide", "upgrades")
PROC_SYS = Path("/proc/sys")
Result = tuple[bool, str]
# One reported entry of `aide --check`: "f++++++++++++++++: /etc/x", "f   ...    .C... : /etc/x"
# (report_summarize_changes, the default) or "added: /etc/x" (without it).
_AIDE_ENTRY = re.compile(r"^(?:[fdlbcps?][^:]*|added|removed|changed): /")
# aide's exit code: bit 1 new, bit 2 removed, bit 4 changed entries; 14 and up its own errors.
_AIDE_DIFFERENCES = range(1, 8)
_AIDE_ERRORS = 14


class DriftError(Exception):
    """A check could not run: the check reports 0 with this message."""


def run(argv: list[str], timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except FileNotFoundError as exc:
        raise DriftError(f"{argv[0]} is not installed") from exc
    except subprocess.TimeoutExpired as exc:
        raise DriftError(f"{' '.join(argv)} took longer than {timeout:.0f} s") from exc
    if check and done.returncode != 0:
        raise DriftError(f"{' '.join(argv)} failed ({done.returncode}): "
                         f"{(done.stderr or done.stdout).strip()[-200:]}")
    return done


def sha256(data: str | bytes) -> str:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


def write_atomic(path: Path, text: str, mode: int = 0o644) -> None:
    """Readers (node_exporter) never see a half-written file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def in_container() -> bool:
    return run(["systemd-detect-virt", "--container", "--quiet"], check=False).returncode == 0


# --- sshd ----------------------------------------------------------------------------------


def sshd_settings(output: str | None = None) -> list[str]:
    """`sshd -T`'s lines, sorted (one setting a line; repeated keys such as hostkey kept)."""
    text = run(["sshd", "-T"]).stdout if output is None else output
    return sorted(line.strip() for line in text.splitlines() if line.strip())


def check_sshd(baseline: list[str], live: list[str] | None = None) -> Result:
    live = sshd_settings() if live is None else live
    if not isinstance(baseline, list):
        raise DriftError("the sshd baseline is not a list of settings")
    if live == baseline:
        return True, "sshd -T matches the converged settings"
    changed = sorted(set(live) - set(baseline))
    missing = sorted(set(baseline) - set(live))
    return False, f"sshd -T differs: now {changed[:5]}, was {missing[:5]}"


# --- nftables ------------------------------------------------------------------------------


def _strip(value: Any) -> Any:
    """The parts of `nft -s -j` output that say what the rules are, not their runtime state."""
    if isinstance(value, dict):
        out = {k: _strip(v) for k, v in value.items() if k != "handle"}
        flags = out.get("flags", [])
        flags = [flags] if isinstance(flags, str) else flags
        if "elem" in out and ("dynamic" in flags or "timeout" in flags):
            del out["elem"]  # a meter's members come and go with traffic
        return out
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def table_hash(listing: str) -> str:
    items = [i for i in json.loads(listing).get("nftables", []) if "metainfo" not in i]
    return sha256(json.dumps(_strip(items), sort_keys=True))


def nft_listing(cfg: dict[str, Any]) -> list[str]:
    return ["nft", "-s", "-j", "list", "table", cfg["family"], cfg["table"]]


def nftables_expected(cfg: dict[str, Any]) -> str:
    """The table as the role's file defines it, loaded where it cannot touch the host: a fresh
    network namespace (unshare), whose ruleset is empty."""
    done = run(["unshare", "--net", "sh", "-c",
                'nft -f "$0" && exec nft -s -j list table "$1" "$2"',
                cfg["config"], cfg["family"], cfg["table"]])
    return table_hash(done.stdout)


def check_nftables(cfg: dict[str, Any], expected: str) -> Result:
    done = run(nft_listing(cfg), check=False)
    if done.returncode != 0:
        return False, f"table {cfg['family']} {cfg['table']} is not loaded"
    if table_hash(done.stdout) != expected:
        return False, f"table {cfg['family']} {cfg['table']} differs from {cfg['config']}"
    return True, f"table {cfg['family']} {cfg['table']} matches {cfg['config']}"


# --- sysctl --------------------------------------------------------------------------------


def sysctl_file(path: str) -> dict[str, str]:
    values = {}
    for raw in Path(path).read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line[0] in "#;" or "=" not in line:
            continue
        key, value = (part.strip() for part in line.split("=", 1))
        values[key.lstrip("-")] = " ".join(value.split())
    return values


def sysctl_paths(key: str, root: Path = PROC_SYS) -> list[Path]:
    """The /proc/sys files a sysctl.d key sets (sysctl.d(5)): dots separate the levels unless
    the first separator is a slash ("net/ipv4/conf/eth0.1/rp_filter" keeps its dot); a glob
    ("net.ipv4.conf.*.rp_filter") sets every match."""
    first = re.search(r"[./]", key)
    relative = key if first and first.group() == "/" else key.replace(".", "/")
    if any(c in relative for c in "*?["):
        return sorted(root.glob(relative))
    path = root / relative
    return [path] if path.exists() else []


def check_sysctl(expected: dict[str, str], root: Path = PROC_SYS,
                 container: bool | None = None) -> Result:
    # In a container only the host's own network namespace is its to set (the kernel_hardening
    # role sets exactly those keys there); kernel-global keys are the machine's.
    container = in_container() if container is None else container
    wrong, checked = [], 0
    for key, want in sorted(expected.items()):
        for path in sysctl_paths(key, root):
            name = ".".join(path.relative_to(root).parts)
            if container and not (name.startswith("net.") and os.access(path, os.W_OK)):
                continue
            checked += 1
            live = " ".join(path.read_text(encoding="utf-8").split())
            if live != want:
                wrong.append(f"{name}={live} (want {want})")
    if wrong:
        return False, f"{len(wrong)} sysctl(s) drifted: {', '.join(wrong[:5])}"
    return True, f"{checked} sysctls as configured"


# --- auditd --------------------------------------------------------------------------------


def audit_files(rules_dir: str) -> dict[str, str]:
    return {p.name: sha256(p.read_bytes()) for p in sorted(Path(rules_dir).glob("*.rules"))}


def audit_loaded() -> str | None:
    """`auditctl -l`, or None where the kernel refuses audit (a container)."""
    if run(["auditctl", "-s"], check=False).returncode != 0:
        return None
    return run(["auditctl", "-l"]).stdout


def check_auditd(cfg: dict[str, Any], baseline: dict[str, Any]) -> Result:
    files = audit_files(cfg["rules_dir"])
    if files != baseline["files"]:
        changed = sorted(set(files.items()) ^ set(baseline["files"].items()))
        return False, f"rules files changed: {sorted({name for name, _ in changed})}"
    generated = run(["augenrules", "--check"], check=False)
    if "No change" not in generated.stdout + generated.stderr:
        return False, f"{cfg['rules_file']} is not generated from {cfg['rules_dir']}"
    loaded = audit_loaded()
    if loaded is None:
        return True, "rules files as converged (kernel audit unavailable here: files only)"
    if baseline.get("loaded") is None or sha256(loaded) != baseline["loaded"]:
        return False, "the kernel's loaded audit rules differ from the converged ones"
    return True, "rules files and loaded rules as converged"


# --- aide ----------------------------------------------------------------------------------


def aide_entries(stdout: str) -> list[str]:
    """The paths `aide --check` reports as added, removed or changed."""
    return sorted({line.split(": ", 1)[1].strip() for line in stdout.splitlines()
                   if _AIDE_ENTRY.match(line)})


# Summary flags whose change alone leaves a file as AIDE recorded it (times, inode, block and
# link counts, and "=": the size is unchanged; what rewriting identical content does), as
# AIDE 0.18 prints them ("f =.... mci.... . : /etc/x"); any other flag (content hashes "H",
# size "<" ">", mode, owner, link target, ACL, xattrs...) is a change.
_HARMLESS_FLAGS = frozenset("=amcibn")


def aide_entry_kinds(stdout: str) -> list[tuple[str, str, bool]]:
    """(added|removed|changed, path, only_times) per reported entry; only_times: a changed
    entry whose summary flags are all harmless (the file is as recorded). AIDE prints names
    unescaped: the path is everything after the first ": ", trailing spaces included."""
    found = set()
    for line in stdout.splitlines():
        if not _AIDE_ENTRY.match(line):
            continue
        summary, path = line.split(": ", 1)
        flags = summary[1:].replace(".", "").replace(" ", "")
        if summary == "added" or (flags and set(flags) == {"+"}):
            kind = "added"
        elif summary == "removed" or (flags and set(flags) == {"-"}):
            kind = "removed"
        else:
            kind = "changed"
        only_times = (kind == "changed" and summary != "changed"
                      and set(flags) <= _HARMLESS_FLAGS)
        found.add((kind, path, only_times))
    return sorted(found, key=lambda e: (e[1], e[0]))


def relevant_entries(entries: list[str], ignore: list[str]) -> list[str]:
    """The entries outside the ignored prefixes ("/var/tmp/" also covers "/var/tmp")."""
    ignored = tuple(ignore)
    bare = {p.rstrip("/") for p in ignored if p.rstrip("/")}
    return [e for e in entries if not (ignored and e.startswith(ignored)) and e not in bare]


def aide_verdict(rc: int, stdout: str, stderr: str, ignore: list[str]) -> tuple[bool, list[str]]:
    """(ok, summary) of one `aide --check`. Entries under volatile paths (runtime state,
    temporary files) are not drift; nor are those directories themselves ("/var/tmp/" covers
    "/var/tmp"); nor a file as recorded but for its times and inode (written back identically:
    a managed file a converge restored). Anything aide says that cannot be read as such
    entries is not ok."""
    if rc == 0:
        return True, []
    if rc not in _AIDE_DIFFERENCES:
        # aide's own errors (configuration, database, I/O), or killed (negative: a signal).
        what = (f"aide error {rc}" if rc >= _AIDE_ERRORS else
                f"killed by signal {-rc}" if rc < 0 else f"unknown exit code {rc}")
        tail = [x.strip() for x in (stderr or stdout).splitlines() if x.strip()][-5:]
        return False, [what, *tail]
    entries = aide_entries(stdout)
    if not entries:
        # It found differences but listed none this checker reads: never call that clean.
        return False, [f"aide reported differences (exit {rc}) but listed no entry"]
    as_recorded = {path for kind, path, only_times in aide_entry_kinds(stdout) if only_times}
    relevant = [e for e in relevant_entries(entries, ignore) if e not in as_recorded]
    summary = relevant[:10]
    if len(relevant) > 10:
        summary.append(f"(+{len(relevant) - 10} more)")
    skipped = len(entries) - len(relevant)
    if skipped:
        summary.append(f"({skipped} under ignored paths or only their times changed)")
    return not relevant, summary


@contextlib.contextmanager
def aide_lock(state: Path) -> Any:
    """One AIDE run at a time on this host: the timer's check, the converge's update and
    aideinit (the role runs it under `flock` on the same file). A check started while the
    database is being replaced waits and then reads the new one; its result can never
    overwrite a newer one."""
    with open(state / "aide.lock", "a", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def run_aide(cfg: dict[str, Any], state: Path) -> int:
    with aide_lock(state):
        return _run_aide(cfg, state)


def _run_aide(cfg: dict[str, Any], state: Path) -> int:
    started = time.time()
    try:
        done = run(["aide", "--check", f"--config={cfg['config']}"], timeout=cfg["timeout"],
                   check=False)
        rc = done.returncode
        ok, summary = aide_verdict(rc, done.stdout, done.stderr, cfg["ignore"])
    except DriftError as exc:
        rc, ok, summary = -1, False, [str(exc)]
    write_atomic(state / "aide.json", json.dumps(
        {"time": started, "rc": rc, "ok": ok, "summary": summary}), 0o600)
    print(f"aide --check exited {rc}")
    return 0


def aide_made(state: Path) -> int:
    write_atomic(state / "aide.json", json.dumps(
        {"time": time.time(), "rc": 0, "ok": True,
         "summary": ["(database made from this file system at converge)"]}), 0o600)
    return 0


# Never walked for what a converge changed: kernel and runtime file systems.
_NOT_WALKED = ("/proc", "/sys", "/dev", "/run")
_PSEUDO_FS = {"proc", "sysfs", "devtmpfs", "devpts", "tmpfs", "ramfs", "cgroup", "cgroup2",
              "mqueue", "debugfs", "tracefs", "securityfs", "pstore", "bpf", "fusectl",
              "configfs", "hugetlbfs", "autofs", "nsfs", "binfmt_misc", "efivarfs", "rpc_pipefs",
              "nfsd", "overlay", "squashfs"}
# A converge marker older than this is not a converge's (one that never reached the drift
# role, a --start-at-task run): its window would bless every change made since.
MARKER_MAX_AGE = 6 * 3600


def pseudo_mounts(mountinfo: str = "/proc/self/mountinfo") -> set[str]:
    """Mount points of kernel, runtime and read-only image file systems: not walked (every
    other local file system is: /boot, /var, /home on their own partitions included)."""
    found = set()
    try:
        lines = Path(mountinfo).read_text(encoding="utf-8").splitlines()
    except OSError:
        return found
    for line in lines:
        left, _, right = line.partition(" - ")
        fields, fstype = left.split(), right.split()[:1]
        if len(fields) > 4 and fstype and (fstype[0] in _PSEUDO_FS
                                           or fstype[0].startswith("fuse")):
            found.add(fields[4].replace("\\040", " "))
    return found


def changed_since(since: float, ignore: list[str], root: str = "/",
                  skip: set[str] | None = None) -> set[str]:
    """Paths whose inode changed (ctime) at or after `since`, outside the ignored prefixes
    and the pseudo file systems: what was written, renamed, chmod-ed or installed since (a
    package's files keep its mtime, not their ctime)."""
    ignored = tuple(ignore)
    skip = pseudo_mounts() if skip is None and root == "/" else (skip or set())
    found: set[str] = set()

    def seen(path: str) -> bool:
        """Records `path` when its inode changed since; False when it is gone."""
        try:
            if os.lstat(path).st_ctime >= since:
                found.add(path)
        except OSError:
            return False
        return True

    for top, dirs, files in os.walk(root):
        dirs[:] = [name for name in dirs if (path := os.path.join(top, name)) not in _NOT_WALKED
                   and path not in skip
                   and not (ignored and (path + "/").startswith(ignored)) and seen(path)]
        for name in files:
            path = os.path.join(top, name)
            if not (ignored and path.startswith(ignored)):
                seen(path)
    return found


def _existing_ancestor(path: str) -> str:
    parent = os.path.dirname(path)
    while parent != os.path.dirname(parent) and not os.path.lexists(parent):
        parent = os.path.dirname(parent)
    return parent


def sanctioned(kind: str, path: str, touched: set[str], dirty: set[str],
               only_times: bool = False) -> bool:
    """An AIDE entry the converge explains: a changed path that is as AIDE recorded it but
    for its times and inode (a managed file the converge wrote back); an added or changed
    path that exists and that the converge changed; a removed one whose nearest remaining
    directory it changed. Never otherwise a path that already differed from the database
    before the converge began (`dirty`): a converge that only chmod-s a file someone edited
    must not bless the edit."""
    if only_times and os.path.lexists(path):
        return True
    if kind == "removed":
        if os.path.lexists(path):
            return False
        ancestor = _existing_ancestor(path)
        return ancestor in touched and ancestor not in dirty
    return path not in dirty and os.path.lexists(path) and path in touched


def converge_start(cfg: dict[str, Any], marker: Path, root: str = "/") -> int:
    """At a converge's start: its time, and what already differs from AIDE's database (the
    paths changed since the database was last written), which the converge may not bless."""
    started = time.time()
    try:
        database_in, _out = aide_databases(cfg["config"])
        since = database_in.stat().st_mtime
    except (DriftError, OSError):
        since = 0.0  # no database yet: the role makes one from scratch
    dirty = sorted(changed_since(since, cfg["ignore"], root)) if since else []
    write_atomic(marker, json.dumps({"time": started, "dirty": dirty}), 0o600)
    os.utime(marker, (started, started))
    return 0


def read_marker(marker: Path) -> tuple[float, set[str]]:
    """(start time, paths differing before it) of a converge marker; a marker holding no
    JSON (touched, not written by converge-start) has its mtime and no such paths."""
    since = marker.stat().st_mtime
    try:
        data = json.loads(marker.read_text(encoding="utf-8") or "null")
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("dirty"), list):
        return float(data.get("time", since)), {str(p) for p in data["dirty"]}
    return since, set()


def aide_databases(config: str) -> tuple[Path, Path]:
    """(database_in, database_out) of AIDE's configuration (file: URLs only)."""
    found: dict[str, str] = {}
    for line in Path(config).read_text(encoding="utf-8").splitlines():
        match = re.match(r"\s*(database_in|database_out)\s*=\s*file:(\S+)\s*$", line)
        if match:
            found[match[1]] = match[2]
    missing = [k for k in ("database_in", "database_out") if k not in found]
    if missing:
        raise DriftError(f"{config} sets no file: URL for {' or '.join(missing)}")
    return Path(found["database_in"]), Path(found["database_out"])


def aide_accept(cfg: dict[str, Any], state: Path, marker: Path, root: str = "/") -> int:
    """After a converge: AIDE's database takes the converge's changes, never more."""
    try:
        since, dirty = read_marker(marker)
    except FileNotFoundError:
        print("no converge marker: nothing to accept")
        print("unchanged")
        return 0
    age = time.time() - since
    if not -60 <= age <= MARKER_MAX_AGE:
        marker.unlink(missing_ok=True)
        print(f"the converge marker is {age / 3600:.1f} h old: not this converge's, nothing "
              "accepted (the next AIDE check reports what changed)")
        print("unchanged")
        return 0
    touched = changed_since(since, cfg["ignore"], root)
    if not touched:
        marker.unlink(missing_ok=True)
        print("unchanged")
        return 0
    database_in, database_out = aide_databases(cfg["config"])
    with aide_lock(state):
        return _aide_update(cfg, state, marker, (touched, dirty), database_in, database_out)


def _aide_update(cfg: dict[str, Any], state: Path, marker: Path,
                 changes: tuple[set[str], set[str]], database_in: Path,
                 database_out: Path) -> int:
    touched, dirty = changes
    started = time.time()
    done = run(["aide", "--update", f"--config={cfg['config']}"], timeout=cfg["timeout"],
               check=False)
    rc, entries = done.returncode, aide_entry_kinds(done.stdout)
    marker.unlink(missing_ok=True)  # used: the next converge writes its own
    if rc == 0 or (rc in _AIDE_DIFFERENCES and entries):
        kinds = {path: (kind, only_times) for kind, path, only_times in entries}
        relevant = relevant_entries(sorted(kinds), cfg["ignore"])
        outside = [e for e in relevant if not sanctioned(kinds[e][0], e, touched, dirty,
                                                         kinds[e][1])]
        if not outside:
            os.replace(database_out, database_in)
            write_atomic(state / "aide.json", json.dumps(
                {"time": started, "rc": 0, "ok": True,
                 "summary": [f"(database took {len(relevant)} entries this converge changed)"]}),
                0o600)
            if relevant:
                print(f"AIDE's database took {len(relevant)} entries this converge changed: "
                      + " ".join(relevant[:20]))
            print("changed" if relevant else "unchanged")
            return 0
        summary = [*outside[:10], *([f"(+{len(outside) - 10} more)"] if len(outside) > 10
                                   else []),
                   "(changed outside the converge: database kept; review, then "
                   "drift_aide_accept_changes=true)"]
    else:  # aide's own error, or differences it did not list: never taken as accepted
        _ok, summary = aide_verdict(rc, done.stdout, done.stderr, cfg["ignore"])
    database_out.unlink(missing_ok=True)
    write_atomic(state / "aide.json", json.dumps(
        {"time": started, "rc": rc or 4, "ok": False, "summary": summary}), 0o600)
    print("AIDE: " + "; ".join(summary))
    print("unchanged")  # the database is as it was: the aide check reports the difference
    return 0


def check_aide(cfg: dict[str, Any], state: Path, now: float | None = None) -> Result:
    path = state / "aide.json"
    if not path.exists():
        return False, "no AIDE check has run yet"
    result = json.loads(path.read_text(encoding="utf-8"))
    now = time.time() if now is None else now
    age = now - result["time"]
    if age > cfg["max_age"]:
        return False, f"the last AIDE check is {age:.0f} s old (stale)"
    if age < -60:  # the clock was stepped back, or the file was written by hand
        return False, f"the last AIDE check is dated {-age:.0f} s in the future"
    if not result.get("ok"):
        return False, f"aide --check exited {result['rc']}: {'; '.join(result['summary'])}"
    return True, f"AIDE found no difference outside the ignored paths {' '.join(result['summary'])}"


# --- upgrades ------------------------------------------------------------------------------


# "Inst openssl [3.0.11-1~deb12u1] (3.0.13-1~deb12u1 Debian-Security:12/stable-security [amd64])"
_APT_INST = re.compile(
    r"^Inst (?P<name>\S+) (?:\[[^\]]*\] )?\((?P<version>\S+) (?P<archives>[^)]*)\)")


def parse_upgrades(output: str) -> tuple[list[str], list[str]]:
    """(every package, those from a security archive) in `apt-get -s dist-upgrade` output.
    Only the archive names count ("bookworm-security", "jammy-security"), never the package
    name: libapache2-mod-security2 from the main archive is not a security upgrade."""
    every, security = [], []
    for line in output.splitlines():
        match = _APT_INST.match(line)
        if not match:
            continue
        every.append(match["name"])
        archives = [a.split("/", 1)[1] for a in match["archives"].split(", ") if "/" in a]
        if any(a.split()[0].endswith("-security") for a in archives if a.split()):
            security.append(match["name"])
    return every, security


def pending_upgrades() -> tuple[list[str], list[str]]:
    done = run(["apt-get", "-s", "-o", "Debug::NoLocking=1", "dist-upgrade"], timeout=120)
    return parse_upgrades(done.stdout)


def check_upgrades(cfg: dict[str, Any], state: Path, pending: tuple[list[str], list[str]] |
                   None = None, now: float | None = None) -> tuple[Result, int, int]:
    every, security = pending_upgrades() if pending is None else pending
    seen_path = state / "security-upgrades.json"
    seen = json.loads(seen_path.read_text(encoding="utf-8")) if seen_path.exists() else {}
    if not isinstance(seen, dict):
        raise DriftError(f"{seen_path} is not a JSON object")
    now = time.time() if now is None else now
    seen = {name: seen.get(name, now) for name in security}  # first seen, while pending
    write_atomic(seen_path, json.dumps(seen), 0o600)
    overdue = sorted(n for n, first in seen.items() if now - first > cfg["grace_seconds"])
    if overdue:
        return ((False, f"security upgrades pending longer than {cfg['grace_seconds']} s: "
                 f"{overdue[:5]}"), len(every), len(security))
    return (True, f"{len(every)} upgrades pending, {len(security)} security (within grace)"), \
        len(every), len(security)


# --- record / check ------------------------------------------------------------------------


def record(cfg: dict[str, Any]) -> int:
    checks = cfg["checks"]
    baseline: dict[str, Any] = {}
    if "sshd" in checks:
        baseline["sshd"] = sshd_settings()
    if "nftables" in checks:
        baseline["nftables"] = nftables_expected(cfg["nftables"])
    if "sysctl" in checks:
        baseline["sysctl"] = sysctl_file(cfg["sysctl_file"])
    if "auditd" in checks:
        loaded = audit_loaded()
        baseline["auditd"] = {"files": audit_files(cfg["auditd"]["rules_dir"]),
                              "loaded": sha256(loaded) if loaded is not None else None}
    path = Path(cfg["state_dir"]) / "baseline.json"
    text = json.dumps(baseline, indent=1, sort_keys=True) + "\n"
    if path.exists() and path.read_text(encoding="utf-8") == text:
        print("unchanged")
        return 0
    write_atomic(path, text, 0o600)
    print("changed")
    return 0


def metrics(results: dict[str, Result], pending: int | None, security: int | None,
            now: float | None = None) -> str:
    lines = [
        "# HELP rampart_drift_check_ok 1 when the check finds the host as the last converge "
        "left it, 0 when it drifted or could not be checked.",
        "# TYPE rampart_drift_check_ok gauge",
        *(f'rampart_drift_check_ok{{check="{name}"}} {int(ok)}'
          for name, (ok, _) in results.items()),
        "# HELP rampart_drift_last_run_timestamp_seconds When the drift checks last ran.",
        "# TYPE rampart_drift_last_run_timestamp_seconds gauge",
        f"rampart_drift_last_run_timestamp_seconds {time.time() if now is None else now:.3f}",
    ]
    if pending is not None and security is not None:
        lines += [
            "# HELP rampart_drift_pending_upgrades Package upgrades apt would install.",
            "# TYPE rampart_drift_pending_upgrades gauge",
            f"rampart_drift_pending_upgrades {pending}",
            "# HELP rampart_drift_pending_security_upgrades Of those, from a security archive.",
            "# TYPE rampart_drift_pending_security_upgrades gauge",
            f"rampart_drift_pending_security_upgrades {security}",
        ]
    return "\n".join(lines) + "\n"


# What `record` writes for each check that compares with the converged state.
_BASELINE_SHAPE: dict[str, type] = {"sshd": list, "nftables": str, "sysctl": dict,
                                    "auditd": dict}


def check(cfg: dict[str, Any]) -> int:
    state = Path(cfg["state_dir"])
    path = state / "baseline.json"
    baseline: dict[str, Any] = {}
    unreadable = None
    try:
        baseline = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        if not isinstance(baseline, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as exc:
        # Every check that needs it reports 0 and why; the others and the metrics still run.
        baseline, unreadable = {}, f"the baseline {path} is unreadable ({exc}): converge again"
    results: dict[str, Result] = {}
    pending = security = None
    for name in cfg["checks"]:
        try:
            if name in _BASELINE_SHAPE and name not in baseline:
                raise DriftError(unreadable or
                                 "no baseline recorded: converge the host (playbooks/site.yml)")
            if name in _BASELINE_SHAPE and not isinstance(baseline[name], _BASELINE_SHAPE[name]):
                raise DriftError(f"the {name} baseline in {path} has the wrong shape: "
                                 "converge again")
            if name == "sshd":
                results[name] = check_sshd(baseline["sshd"])
            elif name == "nftables":
                results[name] = check_nftables(cfg["nftables"], baseline["nftables"])
            elif name == "sysctl":
                results[name] = check_sysctl(baseline["sysctl"])
            elif name == "auditd":
                results[name] = check_auditd(cfg["auditd"], baseline["auditd"])
            elif name == "aide":
                results[name] = check_aide(cfg["aide"], state)
            elif name == "upgrades":
                results[name], pending, security = check_upgrades(cfg["upgrades"], state)
        except (DriftError, OSError, ValueError, KeyError, TypeError) as exc:
            results[name] = (False, f"could not check: {exc}")
    write_atomic(Path(cfg["textfile_dir"]) / "rampart_drift.prom",
                 metrics(results, pending, security))
    write_atomic(state / "status.json", json.dumps(
        {name: {"ok": ok, "detail": detail} for name, (ok, detail) in results.items()},
        indent=1) + "\n", 0o644)
    for name, (ok, detail) in results.items():
        print(f"{'ok' if ok else 'DRIFT'} {name}: {detail}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rampart-drift", description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["record", "check", "aide", "aide-made",
                                            "aide-accept", "converge-start"])
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    parser.add_argument("--since", "--marker", dest="since", type=Path,
                        help="aide-accept, converge-start: the converge's start marker")
    args = parser.parse_args(argv)
    try:
        cfg = json.loads(args.config.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        print(f"rampart-drift: cannot read {args.config}: {exc}", file=sys.stderr)
        return 2
    if not isinstance(cfg, dict) or not isinstance(cfg.get("checks"), list):
        print(f"rampart-drift: {args.config}: not a configuration object with a 'checks' list",
              file=sys.stderr)
        return 2
    unknown = sorted(set(cfg["checks"]) - set(CHECKS))
    if unknown:
        print(f"rampart-drift: {args.config}: unknown checks {unknown}", file=sys.stderr)
        return 2
    try:
        if args.command == "record":
            return record(cfg)
        if args.command == "aide":
            return run_aide(cfg["aide"], Path(cfg["state_dir"]))
        if args.command == "aide-made":
            return aide_made(Path(cfg["state_dir"]))
        if args.command == "converge-start":
            if args.since is None:
                parser.error("converge-start needs --marker PATH")
            return converge_start(cfg["aide"], args.since)
        if args.command == "aide-accept":
            if args.since is None:
                parser.error("aide-accept needs --since MARKER")
            return aide_accept(cfg["aide"], Path(cfg["state_dir"]), args.since)
        return check(cfg)
    except DriftError as exc:
        print(f"rampart-drift {args.command}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
