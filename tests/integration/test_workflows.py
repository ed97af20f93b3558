"""Every workflow under .github/workflows/, checked statically and run for real.

Static (`unit`, offline): GitHub's workflow schema (check-jsonschema's vendored copy); zizmor's
audit, where a finding passes only when a `# zizmor: ignore[rule]` comment beside it says why;
third-party actions pinned by commit SHA with the version tag in a comment; top-level
`permissions: {}` and an explicit grant per job.

Executed (`integration`): every `run:` step of every job, in order, the way the runner runs it
(bash -e -o pipefail; workflow, job and step `env:`; GITHUB_ENV, GITHUB_OUTPUT, GITHUB_PATH and
GITHUB_STEP_SUMMARY files carried from step to step; the few `${{ }}` expressions the
workflows use), in a copy of the working tree (tracked and untracked-not-ignored files, so
uncommitted edits are what is tested) whose .venv `make setup` builds once per session.
`uses:` steps need GitHub (and the Pulumi CLI) and are skipped with the reason recorded; for
pulumi/actions the environment it would receive is checked instead: it must read the stack's
secrets from the throwaway OpenBao the job started, the way the program reads them; for
actions/upload-artifact, the files it would upload (`if-no-files-found: error`: every path
line must name one).
Mutated copies of the workflows (a renamed flag, a wrong path, a removed function) must fail.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW_DIR = ROOT / ".github" / "workflows"
WORKFLOWS = sorted(p for p in WORKFLOW_DIR.iterdir() if p.suffix in (".yml", ".yaml"))
VENV_BIN = Path(sys.executable).parent
PR_NUMBER = "1"  # github.event.pull_request.number of the simulated pull request
STEP_TIMEOUT_S = 600
SETUP_TIMEOUT_S = 900
# The machine's own state must not reach the steps: the workflows get their Vault, GitHub and
# Pulumi settings only from what they set themselves.
FOREIGN_ENV_PREFIXES = ("VAULT_", "BAO_", "GITHUB_", "RUNNER_", "PULUMI_", "RAMPART_VAULT",
                        "VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def load_workflow(text: str) -> dict[str, Any]:
    doc = yaml.safe_load(text)
    if True in doc:  # YAML 1.1 reads an unquoted `on:` key as the boolean true
        doc["on"] = doc.pop(True)
    return doc


def _uses_sites(doc: Mapping[str, Any]) -> Iterator[tuple[str, str, str]]:
    """(job, step label, action reference) of every `uses:`, job-level ones included."""
    for job_id, job in (doc.get("jobs") or {}).items():
        if "uses" in job:
            yield job_id, "(reusable workflow)", str(job["uses"])
        for index, step in enumerate(job.get("steps") or []):
            if "uses" in step:
                yield job_id, step_label(step, index), str(step["uses"])


def step_label(step: Mapping[str, Any], index: int) -> str:
    return str(step.get("name") or step.get("uses") or f"step {index + 1}")


# --- static checks --------------------------------------------------------------------------

def schema_problems(path: Path) -> list[str]:
    result = subprocess.run(
        [str(VENV_BIN / "check-jsonschema"), "--builtin-schema", "vendor.github-workflows",
         str(path)], capture_output=True, text=True, timeout=120, check=False)
    if result.returncode == 0:
        return []
    return [f"{_rel(path)} does not match GitHub's workflow schema:\n"
            f"{result.stdout}{result.stderr}"]


IGNORE_COMMENT = re.compile(r"#\s*zizmor:\s*ignore\[(?P<rules>[^\]]+)\](?P<why>.*)")


def _explained_ignore(finding: Mapping[str, Any]) -> bool:
    """An ignore comment for this rule that says why, in a few words, after the bracket."""
    for location in finding["locations"]:
        for comment in location["concrete"].get("comments") or []:
            match = IGNORE_COMMENT.search(comment)
            if not match:
                continue
            rules = {rule.strip() for rule in match["rules"].split(",")}
            if finding["ident"] in rules and len(re.findall(r"\w{2,}", match["why"])) >= 3:
                return True
    return False


def _finding_site(finding: Mapping[str, Any], doc: Mapping[str, Any]) -> str:
    """`line N, job J, step S` of the finding's primary location."""
    locations = finding["locations"]
    primary = next((loc for loc in locations if loc["symbolic"].get("kind") == "Primary"),
                   locations[0])
    line = primary["concrete"]["location"]["start_point"]["row"] + 1
    route = [next(iter(part.values())) for part in primary["symbolic"]["route"]["route"]]
    where = f"line {line}"
    if len(route) >= 2 and route[0] == "jobs":
        job = route[1]
        where += f", job {job}"
        if len(route) >= 4 and route[2] == "steps" and isinstance(route[3], int):
            steps = (doc.get("jobs") or {}).get(job, {}).get("steps") or []
            if route[3] < len(steps):
                where += f", step {step_label(steps[route[3]], route[3])!r}"
    return where


def zizmor_problems(path: Path) -> list[str]:
    """zizmor's findings, offline, that no explained ignore comment suppresses.

    --no-ignores reports suppressed findings too (flagged `ignored`), so that an ignore
    comment without an explanation fails; --no-config: no configuration file can silence a
    rule out of sight of the line it concerns."""
    result = subprocess.run(
        [str(VENV_BIN / "zizmor"), "--offline", "--no-config", "--no-ignores", "--no-exit-codes",
         "--format", "json", str(path)], capture_output=True, text=True, timeout=120,
        check=False)
    if result.returncode != 0:
        return [f"zizmor could not audit {_rel(path)} (exit {result.returncode}): "
                f"{result.stderr[-2000:]}"]
    doc = load_workflow(path.read_text(encoding="utf-8"))
    problems = []
    for finding in json.loads(result.stdout):
        if finding.get("ignored") and _explained_ignore(finding):
            continue
        why = ("suppressed by a `# zizmor: ignore[...]` comment that does not say why"
               if finding.get("ignored") else "not suppressed")
        level = finding["determinations"]
        problems.append(
            f"{_rel(path)} {_finding_site(finding, doc)}: zizmor {finding['ident']} "
            f"({level['severity']}, confidence {level['confidence']}): {finding['desc']}; "
            f"{why} ({finding.get('url', '')})")
    return problems


USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>[^\s#]+)\s*(?:#\s*(?P<comment>.*))?$")
FULL_SHA = re.compile(r"[0-9a-f]{40}")
VERSION_TAG = re.compile(r"v\d+(?:\.\d+){0,2}\b")


def pin_problems(path: Path) -> list[str]:
    """Every non-local action by full commit SHA, its version tag in a trailing comment."""
    text = path.read_text(encoding="utf-8")
    # YAML drops comments: pair each `uses:` the parser sees with its line, in file order.
    lines = [(number, match) for number, line in enumerate(text.splitlines(), start=1)
             if (match := USES_LINE.match(line))]
    sites = list(_uses_sites(load_workflow(text)))
    if [m["ref"].strip("'\"") for _, m in lines] != [ref for _, _, ref in sites]:
        return [f"{_rel(path)}: write every `uses:` on a line of its own, "
                "`uses: owner/repo@<sha> # vX.Y.Z`, so that its pin can be checked"]
    problems = []
    for (number, match), (job, step, ref) in zip(lines, sites, strict=True):
        where = f"{_rel(path)}:{number} job {job} step {step!r}: uses {ref}"
        if ref.startswith("./"):
            continue  # this repository's own action or workflow: pinned by the checkout
        if ref.startswith("docker://"):
            if "@sha256:" not in ref:
                problems.append(f"{where}: a container action must be pinned by digest")
            continue
        if not FULL_SHA.fullmatch(ref.partition("@")[2]):
            problems.append(f"{where}: not pinned by a full 40-hex commit SHA")
        if not VERSION_TAG.match((match["comment"] or "").strip()):
            problems.append(f"{where}: no version tag in a trailing comment (`# v4.2.2`)")
    return problems


def permission_problems(path: Path) -> list[str]:
    doc = load_workflow(path.read_text(encoding="utf-8"))
    problems = []
    if doc.get("permissions") != {}:
        problems.append(f"{_rel(path)}: top-level `permissions:` must be {{}} so that a job "
                        "which forgets its own grants gets nothing")
    for job_id, job in (doc.get("jobs") or {}).items():
        if "permissions" not in job:
            problems.append(f"{_rel(path)} job {job_id}: no explicit `permissions:`")
    return problems


def _ids(paths: list[Path]) -> list[str]:
    return [p.name for p in paths]


@pytest.mark.unit
def test_there_are_workflows() -> None:
    assert WORKFLOWS, f"no workflow files in {_rel(WORKFLOW_DIR)}"


@pytest.mark.unit
@pytest.mark.parametrize("workflow", WORKFLOWS, ids=_ids(WORKFLOWS))
def test_workflow_matches_the_github_schema(workflow: Path) -> None:
    assert schema_problems(workflow) == []


@pytest.mark.unit
@pytest.mark.parametrize("workflow", WORKFLOWS, ids=_ids(WORKFLOWS))
def test_zizmor_finds_nothing_unexplained(workflow: Path) -> None:
    problems = zizmor_problems(workflow)
    assert not problems, "\n".join(problems)


@pytest.mark.unit
@pytest.mark.parametrize("workflow", WORKFLOWS, ids=_ids(WORKFLOWS))
def test_actions_are_pinned_by_commit_with_version_comment(workflow: Path) -> None:
    problems = pin_problems(workflow)
    assert not problems, "\n".join(problems)


@pytest.mark.unit
@pytest.mark.parametrize("workflow", WORKFLOWS, ids=_ids(WORKFLOWS))
def test_every_job_grants_its_own_permissions(workflow: Path) -> None:
    problems = permission_problems(workflow)
    assert not problems, "\n".join(problems)


# The checks above must keep failing what they exist to fail (a zizmor or schema update
# could otherwise turn them into no-ops): the shape of preview.yml before issue 11.
UNSAFE_WORKFLOW = """\
name: unsafe
"on":
  pull_request:
permissions:
  contents: read
jobs:
  check:
    runs-on: ubuntu-24.04
    steps:
      - uses: actions/checkout@v4
      - uses: actions/upload-artifact@v4  # zizmor: ignore[unpinned-uses]
        with:
          name: reports
          path: out/
      - id: check
        run: echo "exit=0" >> "$GITHUB_OUTPUT"
      - run: test "${{ steps.check.outputs.exit }}" = 0
"""


@pytest.mark.unit
def test_static_checks_reject_an_unsafe_workflow(tmp_path: Path) -> None:
    path = tmp_path / "unsafe.yml"
    path.write_text(UNSAFE_WORKFLOW, encoding="utf-8")
    zizmor = "\n".join(zizmor_problems(path))
    for expected in ("zizmor artipacked", "zizmor template-injection",
                     "zizmor unpinned-uses", "does not say why"):
        assert expected in zizmor, f"{expected!r} not reported:\n{zizmor}"
    assert "step 'actions/checkout@v4'" in zizmor
    pins = "\n".join(pin_problems(path))
    assert "actions/checkout@v4: not pinned by a full 40-hex commit SHA" in pins, pins
    assert "actions/checkout@v4: no version tag in a trailing comment" in pins, pins
    permissions = "\n".join(permission_problems(path))
    assert "top-level" in permissions and "job check: no explicit" in permissions
    path.write_text(UNSAFE_WORKFLOW.replace("runs-on:", "runs_on:"), encoding="utf-8")
    assert schema_problems(path), "a job without runs-on passed the schema"
    explained = UNSAFE_WORKFLOW.replace(
        "ignore[unpinned-uses]", "ignore[unpinned-uses] a reason in several words")
    path.write_text(explained, encoding="utf-8")
    assert sum("unpinned-uses" in p for p in zizmor_problems(path)) == 1  # checkout's only


# --- the executor ---------------------------------------------------------------------------

class WorkflowError(Exception):
    """The workflow uses something this executor (or the runner) cannot resolve."""


@dataclass
class StepRun:
    name: str
    status: str  # ok | failed | skipped | checked | not run
    reason: str = ""
    returncode: int | None = None
    stdout: str = ""
    stderr: str = ""


@dataclass
class JobRun:
    workflow: str
    job: str
    workspace: Path
    runner_temp: Path
    started: float = field(default_factory=time.time)
    steps: list[StepRun] = field(default_factory=list)
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)
    summary: str = ""
    # Values no log may show: filled by hooks that read secrets (see check_pulumi_preview).
    secret_values: set[str] = field(default_factory=set)

    @property
    def failed(self) -> StepRun | None:
        return next((s for s in self.steps if s.status == "failed"), None)

    def where(self, step: StepRun) -> str:
        return f"{self.workflow} job {self.job} step {step.name!r}"

    def report(self) -> str:
        lines = [f"{self.workflow} job {self.job}:"]
        for step in self.steps:
            code = "" if step.returncode is None else f" exit {step.returncode}"
            lines.append(f"  {step.status:8} {step.name}{code}  {step.reason}".rstrip())
        failed = self.failed
        if failed:
            output = [line for line in (failed.stdout + failed.stderr).splitlines()
                      if not line.startswith("::add-mask::")]
            lines += [f"--- output of {self.where(failed)} (last 40 lines) ---", *output[-40:]]
        return "\n".join(lines)


# A hook stands in for a `uses:` step: (step's `with:`, the env the action would get, the run)
# -> what it verified; an AssertionError fails the step.
UsesHook = Callable[[Mapping[str, str], Mapping[str, str], JobRun], str]

# The runner's command line per `shell:` (GitHub's workflow syntax, "jobs.<job_id>.steps[*].
# shell"): without one it is plain `bash -e`, with `shell: bash` also `-o pipefail`.
SHELLS: dict[str | None, list[str]] = {
    None: ["bash", "-e"],
    "bash": ["bash", "--noprofile", "--norc", "-eo", "pipefail"],
    "sh": ["sh", "-e"],
}

STEP_KEYS = {"name", "id", "if", "uses", "with", "run", "env", "shell", "working-directory",
             "timeout-minutes"}

SKIP_REASONS = {
    "actions/checkout": "the test's copy of the working tree is the checkout",
    "actions/setup-python": "this machine's python3.11 stands in",
    "github/codeql-action/": "uploads to GitHub code scanning",
}


def parse_env_file(text: str, where: str) -> dict[str, str]:
    """GITHUB_ENV/GITHUB_OUTPUT syntax: NAME=value lines and NAME<<DELIMITER blocks."""
    values: dict[str, str] = {}
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if not line.strip():
            continue
        equals, heredoc = line.find("="), line.find("<<")
        if equals > 0 and (heredoc < 0 or equals < heredoc):
            values[line[:equals]] = line[equals + 1:]
            continue
        if heredoc <= 0:
            raise WorkflowError(f"{where}: malformed line in an environment file: {line[:60]!r}")
        name, delimiter = line[:heredoc], line[heredoc + 2:]
        block = []
        while index < len(lines) and lines[index] != delimiter:
            block.append(lines[index])
            index += 1
        if index == len(lines):
            raise WorkflowError(f"{where}: {name}<<{delimiter} is never closed")
        index += 1
        values[name] = "\n".join(block)
    return values


EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}", re.DOTALL)


class Expressions:
    """The `${{ }}` expressions the workflows use; anything else is an error to extend here."""

    def __init__(self, run: JobRun) -> None:
        self.run = run

    def value(self, expr: str, where: str) -> str:
        if expr == "runner.temp":
            return str(self.run.runner_temp)
        if expr == "github.workspace":
            return str(self.run.workspace)
        if expr == "github.event.pull_request.number":
            return PR_NUMBER
        if re.fullmatch(r"secrets\.\w+", expr):
            return ""  # a fork's pull request sees no secrets; these workflows need none
        step_output = re.fullmatch(r"steps\.([\w-]+)\.outputs\.([\w-]+)", expr)
        if step_output:
            step_id, name = step_output.groups()
            if step_id not in self.run.outputs:
                raise WorkflowError(f"{where}: `{expr}`: no earlier step with id {step_id!r}")
            if name not in self.run.outputs[step_id]:
                raise WorkflowError(f"{where}: `{expr}`: step {step_id!r} wrote no output "
                                    f"{name!r} to GITHUB_OUTPUT")
            return self.run.outputs[step_id][name]
        raise WorkflowError(f"{where}: expression `{expr}` is not supported by the executor "
                            "in tests/integration/test_workflows.py; teach it there")

    def substitute(self, text: Any, where: str) -> str:
        if isinstance(text, bool):
            return "true" if text else "false"
        return EXPRESSION.sub(lambda m: self.value(m[1], where), str(text))

    def condition(self, cond: Any, job_ok: bool, where: str) -> bool:
        """`if:` with status functions and `&&` of `a == b` / `a != b` terms."""
        if cond is None:
            return job_ok
        text = str(cond).strip()
        inner = EXPRESSION.fullmatch(text)
        text = inner[1] if inner else text
        if "||" in text or "!(" in text:
            raise WorkflowError(f"{where}: condition `{text}` is not supported by the executor")
        status: bool | None = None
        result = True
        for term in (t.strip() for t in text.split("&&")):
            if term == "always()":
                status = True
            elif term == "success()":
                status = job_ok
            elif term == "failure()":
                status = not job_ok
            elif term == "cancelled()":
                status = False
            else:
                compare = re.fullmatch(r"(.+?)\s*(==|!=)\s*(.+)", term)
                if not compare:
                    raise WorkflowError(f"{where}: condition term `{term}` is not supported")
                left, op, right = compare.groups()
                same = self._operand(left, where) == self._operand(right, where)
                result = result and (same if op == "==" else not same)
        # Without a status function GitHub adds success().
        return (job_ok if status is None else status) and result

    def _operand(self, operand: str, where: str) -> str:
        literal = re.fullmatch(r"'(.*)'", operand)
        if literal:
            return literal[1]
        hash_files = re.fullmatch(r"hashFiles\('([^']+)'\)", operand)
        if hash_files:
            matches = sorted(p for p in self.run.workspace.glob(hash_files[1]) if p.is_file())
            digest = hashlib.sha256()
            for path in matches:
                digest.update(hashlib.sha256(path.read_bytes()).digest())
            return digest.hexdigest() if matches else ""
        return self.value(operand, where)


def _base_env(run: JobRun) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(FOREIGN_ENV_PREFIXES)}
    env.update(CI="true", GITHUB_ACTIONS="true", GITHUB_WORKSPACE=str(run.workspace),
               GITHUB_EVENT_NAME="pull_request", RUNNER_TEMP=str(run.runner_temp),
               RUNNER_OS="Linux")
    return env


def _reset_workspace(workspace: Path, keep: frozenset[str]) -> None:
    """Remove top-level entries an earlier job left (out/, caches): each job starts from a
    checkout with its .venv built."""
    for entry in workspace.iterdir():
        if entry.name not in keep:
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()


def run_job(doc: Mapping[str, Any], workflow: str, job_id: str, workspace: Path,
            runner_temp: Path, hooks: Mapping[str, UsesHook]) -> JobRun:
    """Run one job's steps in order as the runner would; `uses:` steps go to `hooks` (by
    action prefix) or are skipped with the reason recorded."""
    job = doc["jobs"][job_id]
    runs_on = job.get("runs-on", "")
    labels = runs_on if isinstance(runs_on, list) else [runs_on]
    if not any(str(label).startswith("ubuntu") for label in labels):
        pytest.skip(f"{workflow} job {job_id} runs on {runs_on}, not Linux")
    for unsupported in ("strategy", "container", "services", "if", "needs"):
        if unsupported in job:
            pytest.fail(f"{workflow} job {job_id}: `{unsupported}:` is not supported by the "
                        "executor in tests/integration/test_workflows.py; teach it there")
    run = JobRun(workflow, job_id, workspace, runner_temp)
    expressions = Expressions(run)
    files = runner_temp / "_runner_file_commands"
    files.mkdir(parents=True, exist_ok=True)
    job_defaults = (job.get("defaults") or {}).get("run") or {}
    workflow_defaults = (doc.get("defaults") or {}).get("run") or {}

    def default(key: str) -> Any:
        return job_defaults.get(key) or workflow_defaults.get(key)

    carried_env: dict[str, str] = {}
    path_entries: list[str] = []
    for index, step in enumerate(job.get("steps") or []):
        label = step_label(step, index)
        where = f"{workflow} job {job_id} step {label!r}"
        result = StepRun(label, "not run")
        run.steps.append(result)
        job_ok = run.failed is None
        try:
            unknown = set(step) - STEP_KEYS
            if unknown:
                raise WorkflowError(f"{where}: {', '.join(sorted(unknown))} not supported by the "
                                    "executor in tests/integration/test_workflows.py")
            if not expressions.condition(step.get("if"), job_ok, where):
                result.status, result.reason = "skipped", f"if: {step.get('if', 'success()')}"
                continue
            env = _base_env(run)
            env.update(carried_env)
            for scope in (doc.get("env"), job.get("env"), step.get("env")):
                env.update({k: expressions.substitute(v, where) for k, v in (scope or {}).items()})
            if path_entries:
                env["PATH"] = os.pathsep.join([*reversed(path_entries), env["PATH"]])
            if "uses" in step:
                _uses_step(step, env, run, expressions, hooks, result, where)
                continue
            shell = step.get("shell") or default("shell")
            if shell not in SHELLS:
                raise WorkflowError(f"{where}: shell {shell!r} is not supported by the executor")
            command_files = {name: files / f"{index:02d}-{name.lower()}"
                             for name in ("GITHUB_ENV", "GITHUB_OUTPUT", "GITHUB_PATH",
                                          "GITHUB_STEP_SUMMARY")}
            for name, path in command_files.items():
                path.write_text("")
                env[name] = str(path)
            script = files / f"{index:02d}-step.sh"
            script.write_text(expressions.substitute(step["run"], where))
            cwd = workspace / (step.get("working-directory") or default("working-directory")
                               or ".")
            timeout = min(STEP_TIMEOUT_S, 60 * int(step.get("timeout-minutes")
                                                   or job.get("timeout-minutes") or 10))
            try:
                proc = subprocess.run(
                    [*SHELLS[shell], str(script)],
                    cwd=cwd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                    timeout=timeout, check=False)
            except subprocess.TimeoutExpired as exc:
                result.status, result.reason = "failed", f"timed out after {timeout} s"
                result.stdout = (exc.stdout or b"").decode(errors="replace") \
                    if isinstance(exc.stdout, bytes) else (exc.stdout or "")
                continue
            result.returncode, result.stdout, result.stderr = \
                proc.returncode, proc.stdout, proc.stderr
            result.status = "ok" if proc.returncode == 0 else "failed"
            carried_env.update(parse_env_file(command_files["GITHUB_ENV"].read_text(), where))
            if step.get("id"):
                run.outputs[str(step["id"])] = parse_env_file(
                    command_files["GITHUB_OUTPUT"].read_text(), where)
            path_entries += [p for p in command_files["GITHUB_PATH"].read_text().splitlines()
                             if p.strip()]
            run.summary += command_files["GITHUB_STEP_SUMMARY"].read_text()
        except (WorkflowError, AssertionError) as exc:
            result.status, result.reason = "failed", str(exc)
    return run


def _uses_step(step: Mapping[str, Any], env: dict[str, str], run: JobRun,
               expressions: Expressions, hooks: Mapping[str, UsesHook], result: StepRun,
               where: str) -> None:
    action = str(step["uses"])
    hook = next((h for prefix, h in hooks.items() if action.startswith(prefix)), None)
    if hook is None:
        why = next((r for prefix, r in SKIP_REASONS.items() if action.startswith(prefix)),
                   "a `uses:` step runs only on GitHub")
        result.status, result.reason = "skipped", f"uses: not executable here ({why})"
        return
    inputs = {k: expressions.substitute(v, where) for k, v in (step.get("with") or {}).items()}
    result.reason = hook(inputs, env, run)
    result.status = "checked"


def check_pulumi_preview(inputs: Mapping[str, str], env: Mapping[str, str], run: JobRun) -> str:
    """No Pulumi CLI here: check what `pulumi preview` would get instead. Its program must be
    able to read every secret of the stack from the Vault named in the environment, as the
    deployer, and nothing more."""
    from infra import stack as config
    from infra.model import build_platform
    from infra.secrets.errors import VaultAccessError
    from infra.secrets.plan import secret_specs
    from infra.secrets.vault import Vault, VaultSettings

    workdir = run.workspace / inputs.get("work-dir", ".")
    stack = inputs.get("stack-name", "")
    assert inputs.get("command") == "preview", f"command is {inputs.get('command')!r}"
    assert (workdir / f"Pulumi.{stack}.yaml").is_file(), \
        f"stack-name {stack!r}: no Pulumi.{stack}.yaml in {inputs.get('work-dir', '.')}"
    for pack in re.split(r"[\s,]+", inputs.get("policyPacks", "").strip()):
        assert pack and (workdir / pack / "PulumiPolicy.yaml").is_file(), \
            f"policyPacks {pack!r}: no PulumiPolicy.yaml there"
    assert env.get("VAULT_ADDR"), "no VAULT_ADDR handed to the preview"
    approle = bool(env.get("VAULT_ROLE_ID") and env.get("VAULT_SECRET_ID"))
    assert approle or env.get("VAULT_TOKEN"), \
        "no Vault credentials (VAULT_TOKEN or VAULT_ROLE_ID + VAULT_SECRET_ID) handed over"

    # The program's own path: `render --vault` runs __main__.py with the Vault provider and
    # refuses (exit 2, one line) on anything `pulumi up` would refuse.
    rendered = run.runner_temp / "render-vault"
    proc = subprocess.run(
        [str(run.workspace / ".venv" / "bin" / "rampart"), "render", "--stack", stack,
         "--vault", "--out", str(rendered)], cwd=workdir, env=dict(env), capture_output=True,
        text=True, timeout=300, check=False)
    assert proc.returncode == 0, \
        f"the program cannot read stack {stack}'s secrets with the environment handed to " \
        f"the action: render --vault exit {proc.returncode}: {proc.stderr.strip()[-1500:]}"

    specs = secret_specs(build_platform(config.load(stack, run.workspace).catalog))
    vault = Vault(VaultSettings.from_env(env))
    for spec in specs:
        stored = vault.read(spec.path(stack))
        assert stored is not None, f"{spec.path(stack)} missing"
        # Usernames and public certificates are not secret; passwords and keys are.
        run.secret_values.update(v for k, v in stored.data.items()
                                 if k in ("value", "password") and len(v) >= 12)
    # The action is third-party code: the credentials it gets read, never write.
    try:
        vault.write(f"{stack}/workflow-test/write-probe", {"value": "x" * 32}, cas=0)
    except VaultAccessError as exc:
        assert "403" in str(exc), f"write probe refused for another reason: {exc}"
    else:
        raise AssertionError("the credentials handed to the action can write secrets")
    creds = "AppRole" if approle else "a token"
    return (f"checked instead: VAULT_ADDR + {creds} read all {len(specs)} secrets of stack "
            f"{stack} (render --vault ok) and cannot write")


def _artifact_files(workspace: Path, pattern: str, hidden: bool) -> set[Path]:
    """What one `path:` line of upload-artifact names: a file, a directory's files, a glob."""
    matched = sorted(workspace.glob(pattern)) if any(c in pattern for c in "*?[") \
        else [workspace / pattern]
    files = set()
    for path in matched:
        found = path.rglob("*") if path.is_dir() else [path]
        files |= {f for f in found if f.is_file() and (hidden or not any(
            part.startswith(".") for part in f.relative_to(workspace).parts))}
    return files


def check_upload_artifact(inputs: Mapping[str, str], env: Mapping[str, str], run: JobRun) -> str:
    """No GitHub here: check what actions/upload-artifact would upload instead. With
    `if-no-files-found: error`, every `path:` line must name a file: stricter than the action
    (which fails only when no line does), since a line that matches nothing is a mistake."""
    lines = [line.strip() for line in inputs.get("path", "").splitlines() if line.strip()]
    assert lines, "no `path:` to upload"
    mode = inputs.get("if-no-files-found", "warn")
    assert mode in ("warn", "error", "ignore"), f"if-no-files-found: {mode!r} is not one of " \
        "warn, error, ignore"
    hidden = inputs.get("include-hidden-files", "false") == "true"
    files: set[Path] = set()
    for line in (line for line in lines if not line.startswith("!")):
        matched = _artifact_files(run.workspace, line, hidden)
        assert matched or mode != "error", \
            f"if-no-files-found: error, and path {line!r} matches no file in the workspace"
        files |= matched
    for line in (line for line in lines if line.startswith("!")):
        files -= _artifact_files(run.workspace, line[1:], hidden)
    size = sum(f.stat().st_size for f in files)
    return (f"checked instead: artifact {inputs.get('name', 'artifact')!r} would hold "
            f"{len(files)} file(s), {size} bytes")


HOOKS: dict[str, UsesHook] = {"pulumi/actions": check_pulumi_preview,
                              "actions/upload-artifact": check_upload_artifact}


def masked_values(run: JobRun) -> set[str]:
    return {line.removeprefix("::add-mask::").strip()
            for step in run.steps for line in step.stdout.splitlines()
            if line.startswith("::add-mask::") and line.removeprefix("::add-mask::").strip()}


def leaks(run: JobRun) -> list[str]:
    """Steps whose output shows a masked or stored secret value outside ::add-mask:: lines."""
    secrets = masked_values(run) | run.secret_values
    found = []
    for step in run.steps:
        for stream in ("stdout", "stderr"):
            shown = "\n".join(line for line in getattr(step, stream).splitlines()
                              if not line.startswith("::add-mask::"))
            if any(value in shown for value in secrets):
                found.append(f"{run.where(step)}: a secret value in its {stream}")
    if any(value in run.summary for value in secrets):
        found.append(f"{run.workflow} job {run.job}: a secret value in the job summary")
    return found


def _running_since(pid: int, since: float) -> bool:
    """Whether process `pid` is alive and started after `since` (epoch seconds), so that a
    PID the system has since reused for someone else's process is never signalled."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        boot = next(float(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                    if line.startswith("btime "))
    except (OSError, StopIteration):
        return False
    fields = stat.rsplit(")", 1)[1].split()  # after "pid (comm)": state is first
    if fields[0] in ("Z", "X"):
        return False
    return boot + int(fields[19]) / os.sysconf("SC_CLK_TCK") >= since - 1


def stop_started_processes(runner_temp: Path, since: float) -> None:
    """Stop what steps left running, by the PIDs they wrote to *.pid files under runner.temp."""
    for pid_file in runner_temp.glob("*.pid"):
        try:
            pid = int(pid_file.read_text().strip())
        except ValueError:
            continue
        if not _running_since(pid, since):
            continue
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and _running_since(pid, since):
            time.sleep(0.1)
        if _running_since(pid, since):
            os.kill(pid, signal.SIGKILL)


@pytest.fixture
def runner_temp(tmp_path: Path) -> Iterator[Path]:
    """RUNNER_TEMP of one job; servers its steps started are stopped by PID, even on failure."""
    since = time.time()
    temp = tmp_path / "runner-temp"
    temp.mkdir()
    try:
        yield temp
    finally:
        stop_started_processes(temp, since)


@dataclass(frozen=True)
class Worktree:
    path: Path
    top_level: frozenset[str]  # what a checkout plus `make setup` leaves at the top


@pytest.fixture(scope="session")
def worktree(tmp_path_factory: pytest.TempPathFactory) -> Worktree:
    """The working tree as it is now (tracked and untracked-not-ignored files, uncommitted
    edits included; no .venv), with the .venv `make setup` builds from its lock file."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others",
                             "--exclude-standard"], cwd=ROOT, capture_output=True, check=False)
    assert listed.returncode == 0, \
        f"git ls-files in {ROOT} (the copy is made from git's file list): {listed.stderr!r}"
    copy = tmp_path_factory.mktemp("worktree") / ROOT.name
    for name in sorted(set(listed.stdout.decode().split("\0")) - {""}):
        source = ROOT / name
        if name.startswith(".venv/") or not (source.exists() or source.is_symlink()):
            continue  # deleted in the working tree: a checkout of this change has no such file
        target = copy / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            target.symlink_to(os.readlink(source))
        else:
            shutil.copy2(source, target)
    env = {k: v for k, v in os.environ.items() if not k.startswith(FOREIGN_ENV_PREFIXES)}
    setup = subprocess.run(["make", "setup"], cwd=copy, env=env, capture_output=True, text=True,
                           timeout=SETUP_TIMEOUT_S, check=False)
    assert setup.returncode == 0, \
        f"make setup in the working tree copy failed:\n{(setup.stdout + setup.stderr)[-3000:]}"
    return Worktree(copy, frozenset(entry.name for entry in copy.iterdir()))


def execute(doc: Mapping[str, Any], workflow: str, job: str, worktree: Worktree,
            runner_temp: Path) -> JobRun:
    _reset_workspace(worktree.path, worktree.top_level)
    return run_job(doc, workflow, job, worktree.path, runner_temp, HOOKS)


def _job_ids(path: Path) -> list[str]:
    try:
        return list(load_workflow(path.read_text(encoding="utf-8")).get("jobs") or {})
    except (yaml.YAMLError, AttributeError):
        return ["(unreadable: see the schema test)"]


JOBS = [pytest.param(path, job, id=f"{path.name}::{job}")
        for path in WORKFLOWS for job in _job_ids(path)]


@pytest.mark.integration
@pytest.mark.parametrize(("workflow", "job"), JOBS)
def test_job_runs_here_as_on_the_runner(workflow: Path, job: str, worktree: Worktree,
                                        runner_temp: Path) -> None:
    run = execute(load_workflow(workflow.read_text(encoding="utf-8")), _rel(workflow), job,
                  worktree, runner_temp)
    assert run.failed is None, run.report()
    assert any(step.status == "ok" for step in run.steps), f"no step ran:\n{run.report()}"
    uses = [step for step in run.steps if step.status in ("skipped", "checked")]
    assert all(step.reason for step in uses), f"a step skipped without reason:\n{run.report()}"
    found = leaks(run)
    assert not found, "\n".join(found)
    left = [f.name for f in runner_temp.glob("*.pid")
            if f.read_text().strip().isdigit()
            and _running_since(int(f.read_text().strip()), run.started)]
    assert not left, f"{run.workflow} job {job}: still running after the job ({', '.join(left)})" \
        ": its `if: always()` step should stop it"


# Each mutation is a mistake the executor must catch: (workflow, job, text in it, replacement,
# the step that must fail). A case whose text is gone from the workflow fails loudly so that it
# is updated, never silently passes.
MUTATIONS = [
    pytest.param("preview.yml", "offline", "check --stack dev --format markdown",
                 "check --stak dev --format markdown", "Offline policy check",
                 id="renamed-flag"),
    pytest.param("preview.yml", "offline", "cat out/policy-dev.md",
                 "cat out/policy-report.md", "Offline policy check", id="wrong-path"),
    pytest.param("preview.yml", "offline", "CHECK_EXIT: ${{ steps.check.outputs.exit }}",
                 "CHECK_EXIT: ${{ steps.check.outputs.exit_code }}", "Verdict",
                 id="unknown-step-output"),
    # What broke preview.yml before issue 11: it imported a function that had been removed.
    pytest.param("preview.yml", "preview",
                 ".venv/bin/rampart secrets bootstrap --stack dev --create-mount",
                 ".venv/bin/python -c 'from infra.secrets.provider import env_var'",
                 "Dev stack secrets in the throwaway OpenBao", id="removed-function"),
    pytest.param("preview.yml", "preview", "policyPacks: policies", "policyPacks: policy",
                 "pulumi preview with the policy pack", id="wrong-policy-pack-path"),
]


@pytest.mark.integration
@pytest.mark.parametrize(("name", "job", "text", "replacement", "failing_step"), MUTATIONS)
def test_a_broken_workflow_fails(name: str, job: str, text: str, replacement: str,
                                 failing_step: str, worktree: Worktree,
                                 runner_temp: Path) -> None:
    source = (WORKFLOW_DIR / name).read_text(encoding="utf-8")
    assert source.count(text) == 1, \
        f".github/workflows/{name} no longer contains {text!r} once; update this case"
    mutated = load_workflow(source.replace(text, replacement))
    run = execute(mutated, f".github/workflows/{name} (mutated)", job, worktree, runner_temp)
    failed = run.failed
    assert failed is not None, f"the mutation went unnoticed:\n{run.report()}"
    assert failed.name == failing_step, run.report()
    always = [step for step, raw in zip(run.steps, mutated["jobs"][job]["steps"], strict=True)
              if str(raw.get("if", "")).startswith("always()") and "run" in raw]
    assert all(step.status == "ok" for step in always), \
        f"an `if: always()` step did not run cleanly after the failure:\n{run.report()}"


@pytest.mark.integration
def test_a_secret_in_a_log_is_caught(worktree: Worktree, runner_temp: Path) -> None:
    """The leak check itself: a step that prints the deployer's secret id besides masking it."""
    source = (WORKFLOW_DIR / "preview.yml").read_text(encoding="utf-8")
    text = 'echo "::add-mask::${secret_id}"\n'
    assert source.count(text) == 1, \
        f".github/workflows/preview.yml no longer contains {text!r} once; update this case"
    indent = source[:source.index(text)].rsplit("\n", 1)[1]
    mutated = load_workflow(source.replace(text, f'{text}{indent}echo "id: ${{secret_id}}"\n'))
    run = execute(mutated, ".github/workflows/preview.yml (mutated)", "preview", worktree,
                  runner_temp)
    assert run.failed is None, run.report()
    assert leaks(run) == [".github/workflows/preview.yml (mutated) job preview step "
                          "'Dev stack secrets in the throwaway OpenBao': a secret value in "
                          "its stdout"]
