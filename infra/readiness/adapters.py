"""Adapters: the outputs Rampart's other tools already write, turned into evidence records.

Each adapter reads one output as its tool writes it today and returns the records
(`evidence.make_record` dictionaries; `collect.py` writes them and keeps a copy of the
output as the cited artefact). An output that is not what the adapter reads is an
`AdapterError` naming the file, never a guess.

Adapters (name: what it reads -> the check ids it writes):

- sarif: `rampart policy check --format sarif` -> `policy:pack`, `policy:<rule>`
- audit: `rampart audit --out F` (JSON) -> `audit:lynis`, `audit:ssh-audit` (per host),
  `audit:waivers`
- promtool: `promtool check config|rules`, `promtool test rules`, `amtool check-config`
  output -> `promtool:check-config`, `promtool:check-rules`, `promtool:test-rules`,
  `amtool:check-config`
- drill: rampart-pg-restore's drill report (JSON) or the restore-drill playbook's log ->
  `restore-drill`
- backup: the backup playbook's log (`RESULT ok: full backup ... verified`) -> `backup`
- secrets-check: `rampart secrets check` output -> `secrets-check`
- drills: `rampart drill run --json F` -> `drill:<name>` per drill, `drills:all`
- benchmark: benchmarks/*.py `--json` files -> `bench:render`, `bench:k8s-render`,
  `bench:policy-check`, `bench:edge-load`, `bench:backup-restore`, `bench:converge`,
  `bench:converge-times`
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from infra.readiness.evidence import Context, make_record, timestamp

Records = list[dict[str, Any]]


class AdapterError(Exception):
    """The file is not the output this adapter reads; the message names it."""


def _mtime(path: Path) -> str:
    return timestamp(dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC))


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise AdapterError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise AdapterError(f"{path}: unreadable ({type(exc).__name__})") from None


def _text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise AdapterError(f"{path}: unreadable ({exc.strerror or exc})") from None


def _installed(distribution: str) -> dict[str, str]:
    """The version of a tool that runs from this virtualenv (ssh-audit), when installed. Tools
    that run on the hosts (Lynis, pgBackRest) do not report theirs in today's outputs, so
    their records carry none rather than a guess."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return {distribution: version(distribution)}
    except PackageNotFoundError:
        return {}


def _m(name: str, value: float, unit: str = "", target: str | None = None) -> dict[str, Any]:
    return {"name": name, "value": float(value), "unit": unit, "target": target}


# --- rampart policy check (SARIF) -------------------------------------------------------------


def sarif(path: Path, ctx: Context, stack: str | None = None, host: str | None = None
          ) -> Records:
    doc = _json(path)
    if not isinstance(doc, dict) or doc.get("version") != "2.1.0" or not doc.get("runs"):
        raise AdapterError(f"{path}: not a SARIF 2.1.0 log (version/runs missing)")
    run = doc["runs"][0]
    driver = run.get("tool", {}).get("driver", {})
    stack = stack or (run.get("properties") or {}).get("stack")
    tools = {driver.get("name", "rampart-policy"): str(driver.get("version", "?"))}
    at = _mtime(path)
    by_rule: dict[str, dict[str, int]] = {
        r["id"]: {"error": 0, "warning": 0, "waived": 0} for r in driver.get("rules", [])
        if isinstance(r, dict) and "id" in r}
    for result in run.get("results", []):
        counts = by_rule.setdefault(result.get("ruleId", "?"),
                                    {"error": 0, "warning": 0, "waived": 0})
        if result.get("suppressions"):
            counts["waived"] += 1
        elif result.get("level") == "error":
            counts["error"] += 1
        else:
            counts["warning"] += 1
    records = []
    for rule, counts in sorted(by_rule.items()):
        records.append(make_record(
            ctx, check=f"policy:{rule}", kind="policy", stack=stack, host=host, at=at,
            outcome="failed" if counts["error"] else "passed", tools=tools,
            measurements=[_m("mandatory_findings", counts["error"], "", "== 0"),
                          _m("advisory_findings", counts["warning"]),
                          _m("waived_findings", counts["waived"])],
            message=(f"{counts['error']} mandatory finding(s) of {rule}" if counts["error"]
                     else "")))
    invocations = run.get("invocations") or [{}]
    code = invocations[0].get("exitCode")
    mandatory = sum(c["error"] for c in by_rule.values())
    records.append(make_record(
        ctx, check="policy:pack", kind="policy", stack=stack, host=host, at=at, tools=tools,
        outcome="passed" if code == 0 and not mandatory else "failed",
        measurements=[_m("mandatory_findings", mandatory, "", "== 0"),
                      _m("rules", len(by_rule))],
        message=f"exit {code}, {mandatory} mandatory finding(s)"))
    return records


# --- rampart audit (JSON) ---------------------------------------------------------------------


def audit(path: Path, ctx: Context, stack: str | None = None, host: str | None = None
          ) -> Records:
    doc = _json(path)
    if not isinstance(doc, dict) or not isinstance(doc.get("hosts"), dict):
        raise AdapterError(f"{path}: not a `rampart audit` report (no `hosts` mapping)")
    at = _mtime(path)
    records = []
    for name, entry in sorted(doc["hosts"].items()):
        if host and name != host:
            continue
        lynis, ssh = entry.get("lynis"), entry.get("ssh_audit")
        if lynis or entry.get("lynis_error"):
            records.append(make_record(
                ctx, check="audit:lynis", kind="audit", host=name, stack=stack, at=at,
                outcome="passed" if lynis else "error",
                measurements=[_m("hardening_index", lynis["hardening_index"]),
                              _m("points_earned", lynis["points_earned"]),
                              _m("points_possible", lynis["points_possible"]),
                              _m("suggestions", lynis["suggestions"]),
                              _m("waivers_applied", len(lynis["waivers_applied"]))]
                if lynis else [],
                message="" if lynis else f"Lynis failed: {entry['lynis_error']}"))
        if ssh or entry.get("ssh_audit_error"):
            findings = (ssh or {}).get("findings") or []
            bad = bool(ssh and (ssh["failures"] or ssh["warnings"]))
            records.append(make_record(
                ctx, check="audit:ssh-audit", kind="audit", host=name, stack=stack, at=at,
                outcome="error" if not ssh else "failed" if bad else "passed",
                tools=_installed("ssh-audit"),
                measurements=[_m("failures", ssh["failures"], "", "== 0"),
                              _m("warnings", ssh["warnings"], "", "== 0")] if ssh else [],
                message=(f"ssh-audit failed: {entry['ssh_audit_error']}" if not ssh
                         else "; ".join(findings[:3]))))
    expired = doc.get("waivers_expired") or []
    records.append(make_record(
        ctx, check="audit:waivers", kind="audit", stack=stack, at=at,
        outcome="failed" if expired else "passed",
        measurements=[_m("expired_waivers", len(expired), "", "== 0")],
        message=f"expired waivers: {', '.join(expired)}" if expired else ""))
    return records


# --- promtool / amtool ------------------------------------------------------------------------

_SECTION = re.compile(r"^(Checking|Unit Testing:)\s+'?(?P<file>[^'\s]+)'?(?P<rest>.*)$")


def promtool(path: Path, ctx: Context, stack: str | None = None, host: str | None = None
             ) -> Records:
    """`promtool check config|rules`, `promtool test rules`, `amtool check-config` output:
    one record per command (all its files), failed when any file is not SUCCESS."""
    text = _text(path)
    files: dict[str, dict[str, str]] = {}
    current: tuple[str, str] | None = None
    for line in text.splitlines():
        match = _SECTION.match(line.strip())
        if match:
            name = match["file"]
            if line.strip().startswith("Unit Testing:"):
                check = "promtool:test-rules"
            elif name.endswith("alertmanager.yml") or "alertmanager" in name.split("/")[-1]:
                check = "amtool:check-config"
            elif name.endswith("prometheus.yml"):
                check = "promtool:check-config"
            else:
                check = "promtool:check-rules"
            current = (check, name)
            files.setdefault(check, {})[name] = "unknown"
            rest = match["rest"]
            if "SUCCESS" in rest or "FAILED" in rest:
                files[check][name] = "ok" if "SUCCESS" in rest else "failed"
            continue
        if current is None:
            continue
        check, name = current
        if "FAILED" in line:
            files[check][name] = "failed"
        elif "SUCCESS" in line and files[check][name] == "unknown":
            files[check][name] = "ok"
    if not files:
        raise AdapterError(f"{path}: no `Checking FILE` or `Unit Testing: FILE` section (not "
                           "promtool or amtool output)")
    at = _mtime(path)
    records = []
    for check, results in sorted(files.items()):
        bad = sorted(n for n, r in results.items() if r != "ok")
        records.append(make_record(
            ctx, check=check, kind="promtool", stack=stack, host=host, at=at,
            outcome="failed" if bad else "passed",
            measurements=[_m("files", len(results)), _m("files_failed", len(bad), "", "== 0")],
            message=f"not SUCCESS: {', '.join(Path(b).name for b in bad)}" if bad else ""))
    return records


# --- restore drill ----------------------------------------------------------------------------

_DRILL_LINE = re.compile(r"RTO=(?P<rto>[\d.]+)s RPO=(?P<rpo>[\d.]+)s report=(?P<report>\S+?)"
                         r"[\"']?$", re.M)
_DRILL_FAILED = re.compile(r"RESULT failed report=(\S+)|restore drill failed", re.M)
_ANSIBLE_HOST = re.compile(r"^(?:ok|changed|fatal|failed): \[(?P<host>[^\]]+)\]", re.M)


def drill(path: Path, ctx: Context, stack: str | None = None, host: str | None = None
          ) -> Records:
    """rampart-pg-restore's JSON report, or the restore-drill playbook's log."""
    text = _text(path)
    if text.lstrip().startswith("{"):
        doc = _json(path)
        if not isinstance(doc, dict) or doc.get("status") not in ("passed", "failed"):
            raise AdapterError(f"{path}: not a restore drill report (no status)")
        measurements = []
        for key, name in (("rto_seconds", "rto_seconds"), ("rpo_seconds", "rpo_seconds")):
            if isinstance(doc.get(key), int | float):
                measurements.append(_m(name, doc[key], "s"))
        sanity = doc.get("sanity") or {}
        if sanity.get("databases"):
            measurements.append(_m("databases_restored", len(sanity["databases"])))
        finished = doc.get("finished")
        return [make_record(
            ctx, check="restore-drill", kind="restore-drill", host=host, stack=stack,
            outcome=doc["status"], at=timestamp(dt.datetime.fromisoformat(finished))
            if isinstance(finished, str) else _mtime(path),
            measurements=measurements,
            message=str(doc.get("error") or f"backup set {doc.get('backup_set', '?')}, mode "
                                                f"{doc.get('mode', '?')}"))]
    found = _ANSIBLE_HOST.search(text)
    host = host or (found["host"] if found else None)
    lines = list(_DRILL_LINE.finditer(text))
    if lines:
        line = lines[-1]
        return [make_record(
            ctx, check="restore-drill", kind="restore-drill", host=host, stack=stack,
            outcome="passed", at=_mtime(path),
            measurements=[_m("rto_seconds", float(line["rto"]), "s"),
                          _m("rpo_seconds", float(line["rpo"]), "s")],
            message=f"report {line['report']}")]
    if _DRILL_FAILED.search(text):
        return [make_record(ctx, check="restore-drill", kind="restore-drill", host=host,
                            stack=stack, outcome="failed", at=_mtime(path),
                            message="the restore drill failed (see the cited log)")]
    raise AdapterError(f"{path}: no `RTO=...s RPO=...s report=...` line and no failure "
                       "(not a restore drill log)")


# --- backup -----------------------------------------------------------------------------------

_BACKUP_OK = re.compile(r"RESULT ok: (?P<type>\w+) backup (?P<label>\S+) of stanza (?P<stanza>\S+)"
                        r" verified \((?P<bytes>\d+) bytes in the repository, (?P<s>\d+) s\)")
_BACKUP_FAILED = re.compile(r"RESULT failed: (?P<what>[^\"\]]+)")


def backup(path: Path, ctx: Context, stack: str | None = None, host: str | None = None
           ) -> Records:
    text = _text(path)
    found = _ANSIBLE_HOST.search(text)
    host = host or (found["host"] if found else None)
    ok = list(_BACKUP_OK.finditer(text))
    if ok:
        last = ok[-1]
        return [make_record(
            ctx, check="backup", kind="backup", host=host, stack=stack, outcome="passed",
            at=_mtime(path),
            measurements=[_m("backup_seconds", int(last["s"]), "s"),
                          _m("repository_bytes", int(last["bytes"]), "B")],
            message=f"{last['type']} backup {last['label']} of stanza {last['stanza']} "
                    "verified")]
    failed = _BACKUP_FAILED.search(text)
    if failed or "backup failed after its retry" in text:
        return [make_record(ctx, check="backup", kind="backup", host=host, stack=stack,
                            outcome="failed", at=_mtime(path),
                            message=(failed["what"] if failed else
                                     "backup failed after its retry"))]
    raise AdapterError(f"{path}: no `RESULT ok: ... verified` or `RESULT failed` line (not a "
                       "backup log)")


# --- rampart secrets check --------------------------------------------------------------------

_SECRETS_OK = re.compile(r"^ok: all (?P<n>\d+) secrets of stack (?P<stack>\S+) present and strong",
                         re.M)
_SECRETS_FAIL = re.compile(r"^FAIL (?P<label>\S+) ", re.M)
_SECRETS_SUMMARY = re.compile(r"(?P<bad>\d+) of (?P<n>\d+) secrets of stack (?P<stack>\S+) "
                              "failing")


def secrets_check(path: Path, ctx: Context, stack: str | None = None,
                  host: str | None = None) -> Records:
    text = _text(path)
    ok = _SECRETS_OK.search(text)
    # A FAIL line or the failing summary anywhere outweighs an "ok" line (a log holding two
    # runs, or a label that contains the phrase).
    if ok and not _SECRETS_FAIL.search(text) and not _SECRETS_SUMMARY.search(text):
        return [make_record(ctx, check="secrets-check", kind="secrets-check",
                            stack=stack or ok["stack"], host=host, outcome="passed",
                            at=_mtime(path),
                            measurements=[_m("secrets", int(ok["n"])),
                                          _m("failing", 0, "", "== 0")])]
    failing = [m["label"] for m in _SECRETS_FAIL.finditer(text)]
    summary = _SECRETS_SUMMARY.search(text)
    if failing or summary:
        measurements = [_m("failing", len(failing) or int(summary["bad"]) if summary else
                           len(failing), "", "== 0")]
        if summary:
            measurements.append(_m("secrets", int(summary["n"])))
        return [make_record(ctx, check="secrets-check", kind="secrets-check",
                            stack=stack or (summary["stack"] if summary else None), host=host,
                            outcome="failed", at=_mtime(path), measurements=measurements,
                            message="failing: " + ", ".join(failing))]
    raise AdapterError(f"{path}: neither `ok: all N secrets ...` nor `FAIL ...` lines (not "
                       "`rampart secrets check` output)")


# --- benchmarks -------------------------------------------------------------------------------


def _bench(ctx: Context, check: str, ok: bool, measurements: list[dict[str, Any]], at: str,
           stack: str | None, host: str | None, message: str = "") -> dict[str, Any]:
    return make_record(ctx, check=check, kind="benchmark", outcome="passed" if ok else "failed",
                       measurements=measurements, at=at, stack=stack, host=host,
                       message=message)


def benchmark(path: Path, ctx: Context, stack: str | None = None, host: str | None = None
              ) -> Records:
    doc = _json(path)
    at = _mtime(path)
    if not isinstance(doc, dict):
        raise AdapterError(f"{path}: not a benchmark JSON object")
    if "erp_within_3s" in doc:  # benchmarks/render_scale.py
        erp = doc["results"]["erp"]
        ms = [_m("erp_render_s", erp["render_s"], "s", "<= 3")]
        ratio = next((v for k, v in doc.items() if k.startswith("ratio_")), None)
        if ratio is not None:
            ms.append(_m("growth_ratio", ratio, "x", "<= 10"))
        ok = bool(doc["erp_within_3s"]) and doc.get("linear_within_10x", True)
        return [_bench(ctx, "bench:render", ok, ms, at, stack, host)]
    if "erp_within_5s" in doc:  # benchmarks/k8s_scale.py
        erp = doc["results"]["erp"]
        ms = [_m(f"{name.replace('-', '_')}_s", erp[name]["wall_s"], "s", "<= 5")
              for name in ("k8s-dev", "k8s-prod") if name in erp]
        ok = bool(doc["erp_within_5s"]) and doc.get("linear", True)
        return [_bench(ctx, "bench:k8s-render", ok, ms, at, stack, host)]
    if "check_within_5s" in doc:  # benchmarks/policy_scale.py
        walls = sorted(r["wall_s"] for r in doc.get("command", []))
        ms = [_m("check_wall_s", walls[len(walls) // 2], "s", "<= 5")] if walls else []
        return [_bench(ctx, "bench:policy-check", bool(doc["check_within_5s"]), ms, at, stack,
                       host)]
    if "verdicts" in doc and "phases" in doc:  # benchmarks/edge_load.py
        edge = [p for p in doc["phases"] if p.get("path") == "edge"]
        top = max(edge, key=lambda p: p["offered_rps"]) if edge else None
        ms = []
        if top is not None:
            ms += [_m("offered_rps", top["offered_rps"], "req/s"),
                   _m("achieved_rps", top["achieved_rps"], "req/s"),
                   _m("p99_ms", top["p99_ms"], "ms", "< 500"),
                   _m("error_rate_pct", 100.0 * top["error_rate"], "%", "< 0.1")]
        limiter = doc.get("limiter") or {}
        if limiter.get("allowed_rps") is not None:
            ms.append(_m("limiter_allowed_rps", limiter["allowed_rps"], "req/s"))
        verdicts = doc["verdicts"]
        ok = (bool(verdicts.get("edge_1000_p99_under_500ms"))
              and bool(verdicts.get("edge_1000_errors_under_0.1pct"))
              and bool(verdicts.get("limiter_within_10pct")))
        return [_bench(ctx, "bench:edge-load", ok, ms, at, stack or doc.get("edge", {}).get(
            "stack"), host, "" if ok else "a target of the edge load benchmark was missed")]
    if "drill_rto_seconds" in doc:  # benchmarks/backup_restore.py
        ms = [_m("rto_seconds", doc["drill_rto_seconds"], "s", "<= 120"),
              _m("rpo_seconds", doc["drill_rpo_seconds"], "s", "<= 60")]
        if "database_bytes" in doc:
            ms.append(_m("database_gib", doc["database_bytes"] / 2**30, "GiB"))
        if "restore_mib_s" in doc:
            ms.append(_m("restore_mib_s", doc["restore_mib_s"], "MiB/s"))
        targets = doc.get("targets") or {}
        return [_bench(ctx, "bench:backup-restore", all(targets.values()) if targets else True,
                       ms, at, stack, host or "db1")]
    if isinstance(doc.get("median"), dict) and "mitogen_wall_s" in doc["median"]:
        median = doc["median"]  # benchmarks/converge.py
        ms = [_m("idempotent_rerun_s", median["mitogen_wall_s"], "s"),
              _m("plain_rerun_s", median["plain_wall_s"], "s")]
        if isinstance(doc.get("first_converge"), dict):
            ms.append(_m("first_converge_s", doc["first_converge"]["wall_s"], "s"))
        return [_bench(ctx, "bench:converge", True, ms, at, stack, host)]
    if "idempotent_run_seconds" in doc:  # out/converge-times.json
        changed = sum((doc.get("first_run_changed") or {}).values())
        ms = [_m("idempotent_run_s", doc["idempotent_run_seconds"], "s"),
              _m("first_run_s", doc.get("first_run_seconds", 0), "s")]
        return [_bench(ctx, "bench:converge-times", True, ms, at, stack, host,
                       f"{changed} change(s) on the first run")]
    raise AdapterError(f"{path}: not the JSON of a known benchmark (benchmarks/*.py --json)")


# Every check id an adapter writes; `policy:<rule>` for each rule of the pack as well.
CHECK_IDS = frozenset({
    "policy:pack", "audit:lynis", "audit:ssh-audit", "audit:waivers", "promtool:check-config",
    "promtool:check-rules", "promtool:test-rules", "amtool:check-config", "restore-drill",
    "backup", "secrets-check", "bench:render", "bench:k8s-render", "bench:policy-check",
    "bench:edge-load", "bench:backup-restore", "bench:converge", "bench:converge-times",
    "drills:all",
})
POLICY_PREFIX = "policy:"

# --- rampart drill run --json (issue 16) ------------------------------------------------------


def drills(path: Path, ctx: Context, stack: str | None = None, host: str | None = None
           ) -> Records:
    """`rampart drill run [--all] --json F`: a list of drill results (drill, host,
    started_at, arrivals [{alert, time_to_alert_s, bound_s}], time_to_resolve_s, passed,
    error). One record per drill (`drill:<name>`) and `drills:all` over the file."""
    doc = _json(path)
    if not isinstance(doc, list) or not doc or not all(
            isinstance(d, dict) and "drill" in d and "passed" in d for d in doc):
        raise AdapterError(f"{path}: not `rampart drill run --json` output (a list of drill "
                           "results)")
    at = _mtime(path)
    records = []
    for result in doc:
        arrivals = [a for a in result.get("arrivals") or [] if isinstance(a, dict)]
        ms = []
        alerted = [a["time_to_alert_s"] for a in arrivals
                   if isinstance(a.get("time_to_alert_s"), int | float)]
        if alerted:
            ms.append(_m("time_to_alert_s", max(alerted), "s"))
        if isinstance(result.get("time_to_resolve_s"), int | float):
            ms.append(_m("time_to_resolve_s", result["time_to_resolve_s"], "s"))
        late = [a["alert"] for a in arrivals if a.get("time_to_alert_s") is None
                or a["time_to_alert_s"] > a.get("bound_s", float("inf"))]
        outcome = ("passed" if result["passed"] else
                   "error" if result.get("exit_code") == 3 else "failed")
        started = result.get("started_at")
        records.append(make_record(
            ctx, check=f"drill:{result['drill']}", kind="drill",
            host=result.get("host") or host, stack=stack, outcome=outcome,
            at=timestamp(dt.datetime.fromisoformat(started.replace("Z", "+00:00")))
            if isinstance(started, str) else at, measurements=ms,
            message=str(result.get("error") or (f"late or missing: {', '.join(late)}"
                                                 if late else ""))))
    failed = [r["check"] for r in records if r["outcome"] != "passed"]
    records.append(make_record(
        ctx, check="drills:all", kind="drill", stack=stack, at=at,
        outcome="failed" if failed else "passed",
        measurements=[_m("drills", len(records)), _m("drills_failed", len(failed), "", "== 0")],
        message=f"not passed: {', '.join(failed)}" if failed else ""))
    return records


ADAPTERS: dict[str, Callable[..., Records]] = {
    "sarif": sarif, "audit": audit, "promtool": promtool, "drill": drill, "backup": backup,
    "secrets-check": secrets_check, "benchmark": benchmark, "drills": drills,
}
