#!/usr/bin/python3
"""Re-check a host's hardening against the state the last converge left, as textfile metrics.

    rampart-drift record   the converged state becomes the baseline (run by the drift role,
                           last in playbooks/site.yml); prints "changed" or "unchanged"
    rampart-drift check    compare the live host with the baseline, write the metrics
    rampart-drift aide     run AIDE's database check (slow: its own timer), keep the result
    rampart-drift aide-made  AIDE's database was just made from this file system: nothing
                           differs yet (the role runs it right after aideinit)

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
Result = tuple[bool, str]
_AIDE_ENTRY = re.compile(r"^[fdlbcps?][^:]*: /")


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


def sshd_settings() -> list[str]:
    return sorted(run(["sshd", "-T"]).stdout.splitlines())


def check_sshd(baseline: list[str]) -> Result:
    live = sshd_settings()
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


def check_sysctl(expected: dict[str, str]) -> Result:
    # In a container only the host's own network namespace is its to set (the kernel_hardening
    # role sets exactly those keys there); kernel-global keys are the machine's.
    container = in_container()
    wrong, checked = [], 0
    for key, want in sorted(expected.items()):
        path = Path("/proc/sys") / key.replace(".", "/")
        if not path.exists():
            continue
        if container and not (key.startswith("net.") and os.access(path, os.W_OK)):
            continue
        checked += 1
        live = " ".join(path.read_text(encoding="utf-8").split())
        if live != want:
            wrong.append(f"{key}={live} (want {want})")
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


def run_aide(cfg: dict[str, Any], state: Path) -> int:
    started = time.time()
    try:
        done = run(["aide", "--check", f"--config={cfg['config']}"], timeout=cfg["timeout"],
                   check=False)
        entries = sorted({x.split(": ", 1)[1] for x in done.stdout.splitlines()
                          if _AIDE_ENTRY.match(x)})
        # Entries under volatile paths (runtime state, temporary files) are not drift; nor
        # are those directories themselves ("/var/tmp/" covers "/var/tmp").
        ignored = tuple(cfg["ignore"])
        bare = {p.rstrip("/") for p in ignored}
        relevant = [e for e in entries if not e.startswith(ignored) and e not in bare]
        rc, summary = done.returncode, relevant[:10]
        # aide's exit code: 1 new, 2 removed, 4 changed files (summed); 14 and up: errors.
        ok = rc == 0 or (rc < 14 and not relevant)
        if rc >= 14:  # aide's own errors (configuration, database, I/O)
            summary = [x.strip() for x in (done.stderr or done.stdout).splitlines()][-5:]
        summary = summary + ([f"(+{len(relevant) - 10} more)"] if len(relevant) > 10 else [])
        if len(entries) > len(relevant):
            summary.append(f"({len(entries) - len(relevant)} under ignored paths)")
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


def check_aide(cfg: dict[str, Any], state: Path) -> Result:
    path = state / "aide.json"
    if not path.exists():
        return False, "no AIDE check has run yet"
    result = json.loads(path.read_text(encoding="utf-8"))
    age = time.time() - result["time"]
    if age > cfg["max_age"]:
        return False, f"the last AIDE check is {age:.0f} s old (stale)"
    if not result.get("ok"):
        return False, f"aide --check exited {result['rc']}: {'; '.join(result['summary'])}"
    return True, f"AIDE found no difference outside the ignored paths {' '.join(result['summary'])}"


# --- upgrades ------------------------------------------------------------------------------


def pending_upgrades() -> tuple[list[str], list[str]]:
    done = run(["apt-get", "-s", "-o", "Debug::NoLocking=1", "dist-upgrade"], timeout=120)
    every, security = [], []
    for line in done.stdout.splitlines():
        if line.startswith("Inst "):
            name = line.split()[1]
            every.append(name)
            if "-security" in line:
                security.append(name)
    return every, security


def check_upgrades(cfg: dict[str, Any], state: Path) -> tuple[Result, int, int]:
    every, security = pending_upgrades()
    seen_path = state / "security-upgrades.json"
    seen = json.loads(seen_path.read_text(encoding="utf-8")) if seen_path.exists() else {}
    now = time.time()
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


def metrics(results: dict[str, Result], pending: int | None, security: int | None) -> str:
    lines = [
        "# HELP rampart_drift_check_ok 1 when the check finds the host as the last converge "
        "left it, 0 when it drifted or could not be checked.",
        "# TYPE rampart_drift_check_ok gauge",
        *(f'rampart_drift_check_ok{{check="{name}"}} {int(ok)}'
          for name, (ok, _) in results.items()),
        "# HELP rampart_drift_last_run_timestamp_seconds When the drift checks last ran.",
        "# TYPE rampart_drift_last_run_timestamp_seconds gauge",
        f"rampart_drift_last_run_timestamp_seconds {time.time():.3f}",
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


def check(cfg: dict[str, Any]) -> int:
    state = Path(cfg["state_dir"])
    path = state / "baseline.json"
    baseline = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    results: dict[str, Result] = {}
    pending = security = None
    for name in cfg["checks"]:
        try:
            if name in ("sshd", "nftables", "sysctl", "auditd") and name not in baseline:
                raise DriftError("no baseline recorded: converge the host (playbooks/site.yml)")
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
        except (DriftError, OSError, ValueError, KeyError) as exc:
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
    parser.add_argument("command", choices=["record", "check", "aide", "aide-made"])
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    args = parser.parse_args(argv)
    try:
        cfg = json.loads(args.config.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        print(f"rampart-drift: cannot read {args.config}: {exc}", file=sys.stderr)
        return 2
    unknown = sorted(set(cfg.get("checks", [])) - set(CHECKS))
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
        return check(cfg)
    except DriftError as exc:
        print(f"rampart-drift {args.command}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
