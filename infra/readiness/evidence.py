"""Evidence: the JSON records checks write into one directory, read back strictly.

An evidence directory holds one JSON file per run of a tool (a pytest session, one `rampart
audit`, one restore drill report, ...), each:

    {"schema": "rampart-readiness-evidence", "version": 1, "source": "pytest",
     "records": [RECORD, ...]}

and every RECORD is self-contained (docs/readiness.md, "Evidence schema"):

    check         what ran: a pytest node id, or an adapter's check id (`audit:lynis`, ...)
    kind          pytest | policy | audit | promtool | restore-drill | backup |
                  secrets-check | benchmark | drill | attestation
    outcome       passed | failed | skipped | error
    commit        the checked-out commit (40 hex digits, or "unknown")
    dirty         whether the work tree had local changes
    timestamp     ISO 8601 in UTC ("2026-12-05T08:34:10Z")
    run           id of the run (one file's records share it; the report's trend is per run)
    stack, host   the stack and the host the record is about, or null
    tools         {tool: version} of what produced it
    duration_s    seconds, or null
    requirements  requirement ids the check names itself (pytest marker), [] if none
    measurements  [{"name", "value" (a number), "unit", "target" ("<= 500" or null)}]
    message       one line (a failure's first line), redacted
    artefact      path of the report the record cites (SARIF file, audit JSON, ...) or null

Reading never trusts a file: a file that is not valid JSON (truncated), of another schema or
version, and every malformed record are reported as problems naming the file and the record,
and are never evidence. A record that claims "passed" while one of its own measurements
misses its own target is refused the same way.

Secrets: every string a writer puts into a record goes through `Redactor` first: values of
the environment variables whose names name a credential (VAULT_TOKEN, POSTGRES_PASSWORD, ...;
infra.secrets.literals.is_credential_name) are replaced by `[redacted]`, then the detector's
`redact` replaces what is shaped like a secret (URL passwords, credential assignments,
random-looking tokens) by `***`. Measured values are numbers, never text. The reports redact
again when they render (evidence may be written by hand).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import platform
import re
import tempfile
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.secrets.literals import is_credential_name, redact

SCHEMA = "rampart-readiness-evidence"
VERSION = 1
OUTCOMES = ("passed", "failed", "skipped", "error")
KINDS = ("pytest", "policy", "audit", "promtool", "restore-drill", "backup", "secrets-check",
         "benchmark", "drill", "attestation")
ENV_DIR = "RAMPART_EVIDENCE_DIR"
REDACTED = "[redacted]"
# Shorter environment values are not worth hunting for (and would redact ordinary words).
MIN_KNOWN_SECRET = 6
_COMMIT = re.compile(r"[0-9a-f]{40}|unknown")
_NAME = re.compile(r"[A-Za-z0-9_.:/-]{1,80}")
_TARGET = re.compile(r"^\s*(<=|>=|<|>|==)\s*(-?\d+(?:\.\d+)?)\s*$")
MAX_FILE_BYTES = 64 * 1024 * 1024


class EvidenceError(Exception):
    """An evidence directory that cannot be read or written at all."""


# --- Targets ---------------------------------------------------------------------------------


def parse_target(text: str) -> tuple[str, float]:
    """`"<= 500"` -> ("<=", 500.0); ValueError naming the text otherwise."""
    match = _TARGET.match(text)
    if not match:
        raise ValueError(f"target {text!r} is not `<op> <number>` (op one of <= >= < > ==)")
    return match[1], float(match[2])


def meets(value: float, op: str, bound: float) -> bool:
    return {"<=": value <= bound, ">=": value >= bound, "<": value < bound, ">": value > bound,
            "==": value == bound}[op]


# --- Redaction -------------------------------------------------------------------------------


class Redactor:
    """Known secret values -> `[redacted]`, then secret-shaped text -> `***`."""

    def __init__(self, known: Iterable[str] = ()) -> None:
        # Longest first, so a secret that contains another is replaced whole.
        self.known = sorted({k for k in known if len(k) >= MIN_KNOWN_SECRET}, key=len,
                            reverse=True)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Redactor:
        env = os.environ if environ is None else environ
        return cls(value for name, value in env.items() if is_credential_name(name))

    def text(self, value: str) -> str:
        for secret in self.known:
            value = value.replace(secret, REDACTED)
        return redact(value)

    def optional(self, value: str | None) -> str | None:
        return None if value is None else self.text(value)


# --- Records ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Measurement:
    name: str
    value: float
    unit: str = ""
    target: str | None = None  # "<= 500": the record's own target, if it states one

    def misses_own_target(self) -> bool:
        if self.target is None:
            return False
        op, bound = parse_target(self.target)
        return not meets(self.value, op, bound)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "value": self.value, "unit": self.unit,
                "target": self.target}


@dataclass(frozen=True)
class Record:
    check: str
    kind: str
    outcome: str
    commit: str
    timestamp: dt.datetime
    run: str
    file: str  # the evidence file it came from (name inside the evidence directory)
    dirty: bool = False
    stack: str | None = None
    host: str | None = None
    tools: tuple[tuple[str, str], ...] = ()
    duration_s: float | None = None
    requirements: tuple[str, ...] = ()
    measurements: tuple[Measurement, ...] = ()
    message: str = ""
    artefact: str | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        """What a newer record replaces: the same check on the same host and stack."""
        return (self.check, self.host or "", self.stack or "")

    def measurement(self, name: str) -> Measurement | None:
        return next((m for m in self.measurements if m.name == name), None)


@dataclass(frozen=True)
class Problem:
    """Evidence that is not counted, and why (the reports list every one)."""

    file: str
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}{': ' + self.where if self.where else ''}: {self.message}"


@dataclass
class Loaded:
    records: list[Record] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    files: int = 0


def timestamp(moment: dt.datetime | None = None) -> str:
    moment = moment or dt.datetime.now(dt.UTC)
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_timestamp(text: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"timestamp {text!r} has no time zone")
    return moment.astimezone(dt.UTC)


def _str(raw: Mapping[str, Any], key: str, *, optional: bool = False) -> str | None:
    value = raw.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value:
        raise ValueError(f"`{key}` must be a non-empty string")
    return value


def _measurement(raw: Any, index: int) -> Measurement:
    if not isinstance(raw, dict):
        raise ValueError(f"measurements[{index}] is not an object")
    name = raw.get("name")
    value = raw.get("value")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValueError(f"measurements[{index}].name must be a short name")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"measurements[{index}] ({name}): value must be a finite number")
    unit = raw.get("unit") or ""
    target = raw.get("target")
    if not isinstance(unit, str) or (target is not None and not isinstance(target, str)):
        raise ValueError(f"measurements[{index}] ({name}): unit and target must be strings")
    if target is not None:
        parse_target(target)
    return Measurement(name, float(value), unit, target)


def parse_record(raw: Any, file: str) -> Record:
    """One record, validated; ValueError says what is wrong with it (never its values)."""
    if not isinstance(raw, dict):
        raise ValueError("is not an object")
    check = _str(raw, "check")
    kind = _str(raw, "kind")
    outcome = _str(raw, "outcome")
    commit = _str(raw, "commit")
    run = _str(raw, "run")
    assert check and kind and outcome and commit and run
    if kind not in KINDS:
        raise ValueError(f"kind {kind!r} is not one of {', '.join(KINDS)}")
    if outcome not in OUTCOMES:
        raise ValueError(f"outcome {outcome!r} is not one of {', '.join(OUTCOMES)}")
    if not _COMMIT.fullmatch(commit):
        raise ValueError("commit must be 40 hex digits or \"unknown\"")
    try:
        moment = parse_timestamp(_str(raw, "timestamp") or "")
    except ValueError as exc:
        raise ValueError(f"timestamp: {exc}") from None
    tools = raw.get("tools") or {}
    if not isinstance(tools, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                              for k, v in tools.items()):
        raise ValueError("`tools` must map tool names to version strings")
    duration = raw.get("duration_s")
    if duration is not None and (isinstance(duration, bool)
                                 or not isinstance(duration, int | float) or duration < 0):
        raise ValueError("`duration_s` must be a non-negative number or null")
    requirements = raw.get("requirements") or []
    if not isinstance(requirements, list) or not all(isinstance(r, str) for r in requirements):
        raise ValueError("`requirements` must be a list of requirement ids")
    measurements = raw.get("measurements") or []
    if not isinstance(measurements, list):
        raise ValueError("`measurements` must be a list")
    parsed = tuple(_measurement(m, i) for i, m in enumerate(measurements))
    message = raw.get("message") or ""
    if not isinstance(message, str):
        raise ValueError("`message` must be a string")
    dirty = raw.get("dirty", False)
    if not isinstance(dirty, bool):
        raise ValueError("`dirty` must be true or false")
    record = Record(
        check=check, kind=kind, outcome=outcome, commit=commit, timestamp=moment, run=run,
        file=file, dirty=dirty, stack=_str(raw, "stack", optional=True),
        host=_str(raw, "host", optional=True),
        tools=tuple(sorted(tools.items())),
        duration_s=None if duration is None else float(duration),
        requirements=tuple(requirements), measurements=parsed, message=message,
        artefact=_str(raw, "artefact", optional=True),
    )
    if outcome == "passed":
        for m in parsed:
            if m.misses_own_target():
                raise ValueError(f"claims \"passed\" but {m.name} = {m.value:g}{m.unit} misses "
                                 f"its own target {m.target}")
    return record


def load_file(path: Path, loaded: Loaded) -> None:
    name = path.name
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            loaded.problems.append(Problem(name, "", f"larger than {MAX_FILE_BYTES} bytes"))
            return
        doc = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        loaded.problems.append(Problem(name, "", f"not valid JSON (truncated or damaged): "
                                                 f"{exc.msg} at line {exc.lineno}"))
        return
    except (OSError, UnicodeDecodeError) as exc:
        loaded.problems.append(Problem(name, "", f"unreadable: {type(exc).__name__}"))
        return
    loaded.files += 1
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        loaded.problems.append(Problem(name, "", f"not an evidence file (schema is not "
                                                 f"{SCHEMA!r})"))
        return
    if doc.get("version") != VERSION:
        loaded.problems.append(Problem(name, "", f"evidence version {doc.get('version')!r} is "
                                                 f"not {VERSION} (the version this reads)"))
        return
    records = doc.get("records")
    if not isinstance(records, list):
        loaded.problems.append(Problem(name, "", "`records` is not a list"))
        return
    for index, raw in enumerate(records):
        try:
            loaded.records.append(parse_record(raw, name))
        except ValueError as exc:
            check = raw.get("check") if isinstance(raw, dict) else None
            where = f"records[{index}]" + (f" ({check})" if isinstance(check, str) else "")
            loaded.problems.append(Problem(name, where, str(exc)))


def load_dir(directory: Path) -> Loaded:
    """Every `*.json` file at the top of `directory` (artefacts live in subdirectories)."""
    if not directory.is_dir():
        raise EvidenceError(f"{directory}: evidence directory does not exist (run the checks "
                            f"with {ENV_DIR}={directory}, or pass --evidence DIR)")
    loaded = Loaded()
    for path in sorted(directory.glob("*.json")):
        if path.is_file():
            load_file(path, loaded)
    return loaded


# --- Writing ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Context:
    """What every record of one run carries."""

    commit: str
    dirty: bool
    run: str
    timestamp: str
    tools: dict[str, str]
    stack: str | None = None


def context(root: Path, *, stack: str | None = None, tools: Mapping[str, str] | None = None,
            moment: dt.datetime | None = None) -> Context:
    from infra.readiness import git

    commit, dirty = git.head(root)
    moment = moment or dt.datetime.now(dt.UTC)
    run = f"{moment:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"
    return Context(commit=commit, dirty=dirty, run=run, timestamp=timestamp(moment),
                   tools={"python": platform.python_version(), **(tools or {})}, stack=stack)


def make_record(ctx: Context, *, check: str, kind: str, outcome: str,
                host: str | None = None, stack: str | None = None,
                duration_s: float | None = None, requirements: Iterable[str] = (),
                measurements: Iterable[Mapping[str, Any]] = (), message: str = "",
                artefact: str | None = None, tools: Mapping[str, str] | None = None,
                at: str | None = None) -> dict[str, Any]:
    """A record as written (not yet redacted: `write` redacts every string)."""
    return {
        "check": check, "kind": kind, "outcome": outcome, "commit": ctx.commit,
        "dirty": ctx.dirty, "timestamp": at or ctx.timestamp, "run": ctx.run,
        "stack": stack if stack is not None else ctx.stack, "host": host,
        "tools": {**ctx.tools, **(tools or {})},
        "duration_s": None if duration_s is None else round(duration_s, 3),
        "requirements": sorted(set(requirements)),
        "measurements": [dict(m) for m in measurements],
        "message": message.strip().splitlines()[0][:500] if message.strip() else "",
        "artefact": artefact,
    }


def _redacted(record: Mapping[str, Any], redactor: Redactor) -> dict[str, Any]:
    out = dict(record)
    for key in ("check", "message", "host", "stack", "artefact"):
        if isinstance(out.get(key), str):
            out[key] = redactor.text(out[key])
    out["tools"] = {redactor.text(k): redactor.text(v) for k, v in out.get("tools", {}).items()}
    out["requirements"] = [redactor.text(r) for r in out.get("requirements", [])]
    out["measurements"] = [
        {**m, "name": redactor.text(str(m.get("name", ""))),
         "unit": redactor.text(str(m.get("unit") or "")),
         "target": None if m.get("target") is None else redactor.text(str(m["target"]))}
        for m in out.get("measurements", [])]
    return out


def write(directory: Path, source: str, records: Iterable[Mapping[str, Any]], ctx: Context,
          redactor: Redactor | None = None) -> Path:
    """One evidence file for one run of `source`, written atomically (a reader never sees
    half a file), every string redacted. Returns its path."""
    redactor = redactor or Redactor.from_env()
    if not re.fullmatch(r"[a-z0-9-]{1,40}", source):
        raise EvidenceError(f"evidence source {source!r} is not a short kebab-case name")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise EvidenceError(f"{directory}: cannot create the evidence directory: "
                            f"{exc.strerror or exc}") from None
    doc = {"schema": SCHEMA, "version": VERSION, "source": source,
           "records": [_redacted(r, redactor) for r in records]}
    path = directory / f"{source}-{ctx.run}.json"
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{source}-", suffix=".tmp", dir=directory)
        # mkstemp makes the file private; evidence is published (CI artefacts), so give it
        # the mode any other file written here would get.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(doc, out, indent=1, sort_keys=True)
            out.write("\n")
        os.replace(tmp, path)
    except OSError as exc:
        raise EvidenceError(f"{path}: cannot write evidence: {exc.strerror or exc}") from None
    return path
