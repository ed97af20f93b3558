"""checkov (`--framework kubernetes`) over rendered manifests, offline, and its waivers.

checkov lives in its own virtualenv (scripts/checkov-venv.sh, requirements-checkov.lock): its
pins conflict with the project's resolver, so it is run as a program, never imported.

Offline by construction: checkov phones home twice unless told not to — the banner asks PyPI
for a newer release (CKV_SKIP_PACKAGE_UPDATE_CHECK=true) and the platform integration
downloads guidelines and BC id mappings (--skip-download). Without a guideline URL, a finding
points at the check's definition inside the venv. It also reads configuration
from `.checkov.yaml` in the working and home directories and flags from the environment
(BC_API_KEY, HELM_NAMESPACE changes CKV_K8S_21's verdict). So it runs with a minimal
environment, in a fresh temporary home and working directory.

checkov is lenient where a gate must not be, and the runner closes those gaps:
  - a YAML file it cannot parse is skipped without a word, so every file is parsed here first;
  - an object it never evaluated is simply absent from the report, so every object of a kind
    CKV_K8S_21 judges (workloads, Services, Secrets, ...) must appear in the results;
  - `checkov.io/skip*` annotations suppress checks inline; exceptions live in
    waivers/checkov.yml only (CONVENTIONS 16), so an inline suppression is an error.

Waivers: one entry per (check, resource), no wildcards, a reason, and an expiry at most a year
ahead. `apply_waivers` reports every broken, expired or stale entry as a problem.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements-checkov.lock"
VENV_SCRIPT = ROOT / "scripts" / "checkov-venv.sh"
WAIVERS = ROOT / "waivers" / "checkov.yml"
TIMEOUT_S = 900
BUILD_TIMEOUT_S = 1800  # from empty caches it takes about half a minute

# The kinds CKV_K8S_21 (default namespace) judges: checkov reports every such object, pass or
# fail, so one missing from the report was never looked at.
ALWAYS_REPORTED = frozenset({
    "Pod", "Deployment", "DaemonSet", "StatefulSet", "ReplicaSet", "ReplicationController",
    "Job", "CronJob", "Service", "Secret", "ServiceAccount", "Role", "RoleBinding",
    "ConfigMap", "Ingress",
})
MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")

_CHECK_ID = re.compile(r"^CKV2?_K8S_\d+$")
# Resource ids are Kind.namespace.name; names may hold dots, and pods checkov derives from a
# template append their labels (`/`, `-`). Anything pattern-like is refused, not interpreted.
_WILDCARD = re.compile(r"[*?\[\]{}|^$\\\s]")
_WAIVER_KEYS = frozenset({"check", "resource", "reason", "expires"})
_TRIPLE_KEYS = ("kind", "namespace", "name")
MIN_REASON = 20
MAX_WAIVER_DAYS = 366


class CheckovError(RuntimeError):
    """checkov could not give a trustworthy verdict (crash, unparsable input, stale venv)."""


@dataclass(frozen=True)
class Finding:
    check_id: str
    check_name: str
    resource: str  # as checkov names it: Kind.namespace.name (cluster-scoped: namespace "default")
    file: str  # relative to the scanned directory
    guideline: str  # checkov's guideline URL, or (offline) where the check is defined

    def __str__(self) -> str:
        return f"{self.check_id} {self.resource} ({self.file}): {self.check_name}"


@dataclass(frozen=True)
class Waiver:
    check: str
    resource: str
    reason: str
    expires: dt.date


# --- The virtualenv ---------------------------------------------------------------------------


def venv_dir() -> Path:
    configured = Path(os.environ.get("RAMPART_CHECKOV_VENV", ".venv-checkov"))
    return configured if configured.is_absolute() else ROOT / configured


def pinned_version() -> str:
    match = re.search(r"^checkov==(\S+)", LOCK.read_text(encoding="utf-8"), re.MULTILINE)
    if match is None:
        raise CheckovError(f"{LOCK.name} pins no checkov release")
    return match[1]


def ensure_venv() -> Path:
    """Build (or verify) checkov's venv with scripts/checkov-venv.sh; the checkov executable."""
    result = subprocess.run(["bash", str(VENV_SCRIPT)], capture_output=True, text=True,
                            timeout=BUILD_TIMEOUT_S, check=False)
    if result.returncode != 0:
        raise CheckovError(f"scripts/checkov-venv.sh failed (exit {result.returncode}):\n"
                           f"{result.stdout[-2000:]}{result.stderr[-4000:]}")
    return venv_dir() / "bin" / "checkov"


# --- Running checkov --------------------------------------------------------------------------


def checkov_command(directory: Path, checkov: Path) -> list[str]:
    return [str(checkov), "--framework", "kubernetes", "--directory", str(directory.resolve()),
            "--output", "json", "--compact", "--skip-download"]


def checkov_env(home: Path, checkov: Path) -> dict[str, str]:
    """Only what checkov needs, so nothing in the caller's environment changes a verdict."""
    return {
        "PATH": f"{checkov.parent}:/usr/bin:/bin",
        "HOME": str(home),
        "TMPDIR": str(home),
        "LANG": "C.UTF-8",
        "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true",  # the banner's PyPI release check
        "LOG_LEVEL": "WARNING",
    }


def read_manifests(directory: Path) -> list[tuple[Path, dict[str, Any]]]:
    """Every Kubernetes object under `directory`, failing on any file that does not parse."""
    objects: list[tuple[Path, dict[str, Any]]] = []
    files = sorted(p for p in directory.rglob("*") if p.suffix in MANIFEST_SUFFIXES)
    for path in files:
        try:
            documents = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
        except yaml.YAMLError as exc:
            raise CheckovError(f"{path}: not valid YAML, checkov would skip it silently: "
                               f"{exc}") from exc
        for document in documents:
            if isinstance(document, dict) and "kind" in document and "apiVersion" in document:
                objects.append((path, document))
    return objects


def _resource_id(document: dict[str, Any]) -> str:
    metadata = document.get("metadata") or {}
    return f"{document['kind']}.{metadata.get('namespace') or 'default'}.{metadata.get('name')}"


def _guideline(result: dict[str, Any], checkov: Path) -> str:
    if result.get("guideline"):
        return str(result["guideline"])
    # Offline, checkov has no guideline URL: point at the check's own definition instead.
    site = next(iter(sorted(checkov.parent.parent.glob("lib/python3*/site-packages"))), None)
    if site is None:
        return ""
    module = str(result.get("check_class", ""))
    if module.startswith("checkov.kubernetes.checks.resource."):
        source = site / (module.replace(".", "/") + ".py")
        return str(source) if source.is_file() else ""
    for definition in sorted((site / "checkov/kubernetes/checks/graph_checks").glob("*.json")):
        if f'"{result["check_id"]}"' in definition.read_text(encoding="utf-8"):
            return str(definition)
    return ""


def run_checkov(directory: Path, *, checkov: Path | None = None,
                launcher: Sequence[str] = ()) -> list[Finding]:
    """checkov's failed checks for the manifests under `directory`.

    `launcher` runs checkov under another command (e.g. `unshare -n`, `strace -f ...`), which
    is how the tests prove it needs no network.
    """
    directory = directory.resolve()
    checkov = checkov or venv_dir() / "bin" / "checkov"
    if not os.access(checkov, os.X_OK):
        raise CheckovError(f"{checkov} missing: run `make checkov-venv` "
                           "(scripts/checkov-venv.sh)")
    objects = read_manifests(directory)
    with tempfile.TemporaryDirectory(prefix="rampart-checkov-") as home:
        result = subprocess.run(
            [*launcher, *checkov_command(directory, checkov)],
            capture_output=True, text=True, env=checkov_env(Path(home), checkov), cwd=home,
            timeout=TIMEOUT_S, check=False,
        )
    # 0: nothing failed, 1: some check failed; anything else is a crash or a usage error.
    if result.returncode not in (0, 1):
        raise CheckovError(f"checkov exited {result.returncode} on {directory}:\n"
                           f"{result.stderr[-4000:]}")
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError as exc:
        raise CheckovError(f"checkov printed no JSON report ({exc}):\n"
                           f"{result.stdout[:2000]}{result.stderr[-2000:]}") from exc
    reports = report if isinstance(report, list) else [report]
    results: dict[str, list[dict[str, Any]]] = {}
    for part in reports:
        summary = part.get("summary", {})
        if summary.get("checkov_version") != pinned_version():
            raise CheckovError(f"checkov {summary.get('checkov_version')} ran, the lock pins "
                               f"{pinned_version()}: rebuild the venv (make checkov-venv)")
        if summary.get("parsing_errors"):
            raise CheckovError(f"checkov could not parse: {part['results']['parsing_errors']}")
        for key, items in part.get("results", {}).items():
            results.setdefault(key, []).extend(items)

    if skipped := results.get("skipped_checks"):
        listed = "; ".join(f"{s['check_id']} {s['resource']}" for s in skipped)
        raise CheckovError(f"inline checkov.io/skip annotations suppressed: {listed}. "
                           "Exceptions go in waivers/checkov.yml, with a reason and an expiry")
    seen = {r["resource"] for key in ("passed_checks", "failed_checks")
            for r in results.get(key, [])}
    unseen = sorted({
        f"{_resource_id(doc)} ({path.relative_to(directory)})"
        for path, doc in objects if doc["kind"] in ALWAYS_REPORTED and _resource_id(doc) not in seen
    })
    if unseen:
        raise CheckovError(f"checkov did not evaluate: {', '.join(unseen)}")

    findings = {
        Finding(check_id=r["check_id"], check_name=r["check_name"], resource=r["resource"],
                file=str(r.get("file_path", "")).lstrip("/"), guideline=_guideline(r, checkov))
        for r in results.get("failed_checks", [])
    }
    return sorted(findings, key=lambda f: (f.resource, f.check_id))


# --- Waivers ----------------------------------------------------------------------------------


def _waiver_resource(value: object, where: str, problems: list[str]) -> str | None:
    if isinstance(value, dict):
        parts = [value.get(key) for key in _TRIPLE_KEYS]
        extra = set(value) - set(_TRIPLE_KEYS)
        if extra or not all(isinstance(part, str) and part for part in parts):
            problems.append(f"{where}: resource must be a checkov id (Kind.namespace.name) or "
                            "exactly {kind, namespace, name}")
            return None
        resource = ".".join(str(part) for part in parts)
    elif isinstance(value, str) and value.count(".") >= 2:
        resource = value
    else:
        problems.append(f"{where}: resource {value!r} is not a checkov id (Kind.namespace.name)")
        return None
    if _WILDCARD.search(resource):
        problems.append(f"{where}: resource {resource!r} looks like a pattern; a waiver names "
                        "exactly one resource")
        return None
    return resource


def load_waivers(path: Path, today: dt.date) -> tuple[list[Waiver], list[str]]:
    """The usable waivers of `path`, and a problem (naming the entry) for every other one."""
    problems: list[str] = []
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        return [], [f"{path}: {exc}"]
    entries = data.get("waivers") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        return [], [f"{path.name}: top-level `waivers:` list is missing"]
    waivers: list[Waiver] = []
    seen: set[tuple[str, str]] = set()
    for index, entry in enumerate(entries):
        where = f"{path.name}: waivers[{index}]"
        if not isinstance(entry, dict):
            problems.append(f"{where} is not a mapping")
            continue
        if unknown := sorted(set(entry) - _WAIVER_KEYS):
            problems.append(f"{where}: unknown keys {unknown} (allowed: {sorted(_WAIVER_KEYS)})")
        check = str(entry.get("check", ""))
        if not _CHECK_ID.match(check):
            problems.append(f"{where}: check {check!r} is not a checkov Kubernetes check id")
            continue
        where = f"{where} ({check})"
        resource = _waiver_resource(entry.get("resource"), where, problems)
        if resource is None:
            continue
        where = f"{path.name}: waivers[{index}] ({check} {resource})"
        reason = entry.get("reason")
        if not isinstance(reason, str) or len(reason.strip()) < MIN_REASON:
            problems.append(f"{where}: reason is missing or shorter than {MIN_REASON} characters")
            continue
        expires = entry.get("expires")
        if not isinstance(expires, dt.date) or isinstance(expires, dt.datetime):
            problems.append(f"{where}: expires must be a date (YYYY-MM-DD)")
            continue
        if expires < today:
            problems.append(f"{where}: expired on {expires}")
            continue
        if (expires - today).days > MAX_WAIVER_DAYS:
            problems.append(f"{where}: expires {expires}, more than a year ahead")
            continue
        if (check, resource) in seen:
            problems.append(f"{where}: listed twice")
            continue
        seen.add((check, resource))
        waivers.append(Waiver(check, resource, " ".join(reason.split()), expires))
    return waivers, problems


def apply_waivers(
    findings: Sequence[Finding], waivers_file: Path = WAIVERS, *, today: dt.date | None = None,
) -> tuple[list[Finding], list[tuple[Finding, Waiver]], list[str]]:
    """(unwaived findings, waived findings with their waiver, problems).

    Problems: every entry `load_waivers` refuses (an expired or refused waiver waives nothing)
    and every waiver that matches no finding (stale: the exception outlived its cause).
    """
    waivers, problems = load_waivers(waivers_file, today or dt.date.today())
    by_key = {(w.check, w.resource): w for w in waivers}
    unwaived: list[Finding] = []
    waived: list[tuple[Finding, Waiver]] = []
    used: set[tuple[str, str]] = set()
    for finding in findings:
        waiver = by_key.get((finding.check_id, finding.resource))
        if waiver is None:
            unwaived.append(finding)
        else:
            waived.append((finding, waiver))
            used.add((waiver.check, waiver.resource))
    problems += [f"{waivers_file.name}: {w.check} {w.resource} matches no finding (stale: "
                 "remove it)" for w in waivers if (w.check, w.resource) not in used]
    return unwaived, waived, problems
