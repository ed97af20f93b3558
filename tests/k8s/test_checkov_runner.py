"""The checkov runner (tests/k8s/checkov.py) against the real checkov in its own venv.

Deliberately bad manifests must fail the checks that name their faults; a hardened
Deployment passes every check, and each hardening property removed from it fails exactly the
check that demands it (the list the Kubernetes target renders against). checkov must run with
no network at all and attempt no connection. The waiver file's rules hold, and the venv
script is idempotent and rebuilds a venv holding another checkov release.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from k8s.checkov import (
    LOCK,
    VENV_SCRIPT,
    WAIVERS,
    CheckovError,
    Finding,
    apply_waivers,
    checkov_command,
    checkov_env,
    ensure_venv,
    load_waivers,
    pinned_version,
    run_checkov,
    venv_dir,
)

pytestmark = pytest.mark.integration

Manifest = dict[str, Any]
DIGEST = "sha256:" + "0123456789abcdef" * 4
TODAY = dt.date.today()


@pytest.fixture(scope="session")
def checkov_bin() -> Path:
    """checkov from its own venv, built by scripts/checkov-venv.sh when missing or stale."""
    return ensure_venv()


def write(directory: Path, manifests: list[Manifest], name: str = "manifests.yaml") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_text(yaml.safe_dump_all(manifests, sort_keys=False))
    return directory


def by_resource(findings: list[Finding]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for finding in findings:
        found.setdefault(finding.resource, set()).add(finding.check_id)
    return found


# --- Deliberately bad manifests -------------------------------------------------------------

BAD: list[Manifest] = [
    {   # privileged, secret in an env var, the Docker socket from the host, untagged image
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "privileged", "namespace": "shop"},
        "spec": {
            "containers": [{
                "name": "app", "image": "nginx",
                "securityContext": {"privileged": True},
                "env": [{"name": "DB_PASSWORD",
                         "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}],
                "volumeMounts": [{"name": "docker", "mountPath": "/var/run/docker.sock"}],
            }],
            "volumes": [{"name": "docker",
                         "hostPath": {"path": "/var/run/docker.sock", "type": "Socket"}}],
        },
    },
    {   # no requests or limits, image by tag, no namespace (the default one)
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "nolimits"},
        "spec": {
            "selector": {"matchLabels": {"app": "nolimits"}},
            "template": {
                "metadata": {"labels": {"app": "nolimits"}},
                "spec": {"containers": [{"name": "web", "image": "registry.example.com/web:2.0"}]},
            },
        },
    },
]

BAD_EXPECTED = [
    ("Pod.shop.privileged", "CKV_K8S_16", "privileged container"),
    ("Pod.shop.privileged", "CKV_K8S_27", "hostPath mount of the Docker socket"),
    ("Pod.shop.privileged", "CKV_K8S_14", "image without a tag"),
    ("Pod.shop.privileged", "CKV_K8S_35", "secret as an environment variable"),
    ("Pod.shop.privileged", "CKV_K8S_38", "service account token mounted"),
    ("Deployment.default.nolimits", "CKV_K8S_11", "no CPU limit"),
    ("Deployment.default.nolimits", "CKV_K8S_13", "no memory limit"),
    ("Deployment.default.nolimits", "CKV_K8S_10", "no CPU request"),
    ("Deployment.default.nolimits", "CKV_K8S_12", "no memory request"),
    ("Deployment.default.nolimits", "CKV_K8S_43", "image by tag, not digest"),
    ("Deployment.default.nolimits", "CKV_K8S_15", "tag without imagePullPolicy Always"),
    ("Deployment.default.nolimits", "CKV_K8S_21", "default namespace"),
]


@pytest.fixture(scope="module")
def bad_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write(tmp_path_factory.mktemp("bad"), BAD)


@pytest.fixture(scope="module")
def bad_findings(checkov_bin: Path, bad_dir: Path) -> list[Finding]:
    return run_checkov(bad_dir, checkov=checkov_bin)


@pytest.mark.parametrize(("resource", "check", "fault"), BAD_EXPECTED,
                         ids=[f"{c}-{r}" for r, c, _ in BAD_EXPECTED])
def test_bad_manifest_fails_the_check_for_its_fault(
    bad_findings: list[Finding], resource: str, check: str, fault: str
) -> None:
    found = by_resource(bad_findings).get(resource, set())
    assert check in found, f"{resource} ({fault}): {check} not reported; got {sorted(found)}"


def test_findings_carry_name_file_and_guideline(bad_findings: list[Finding]) -> None:
    privileged = next(f for f in bad_findings if f.check_id == "CKV_K8S_16")
    assert privileged.check_name == "Container should not be privileged"
    assert privileged.file == "manifests.yaml"
    assert Path(privileged.guideline).name == "PrivilegedContainers.py"
    assert Path(privileged.guideline).is_file(), privileged.guideline


# --- The hardened Deployment and what each property is worth -----------------------------------


def hardened(name: str = "api", namespace: str = "erp-core") -> list[Manifest]:
    """The shape the Kubernetes target renders, with every property checkov asks for."""
    labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "erp"}
    return [
        {"apiVersion": "v1", "kind": "Namespace",
         "metadata": {"name": namespace,
                      "labels": {"pod-security.kubernetes.io/enforce": "restricted"}}},
        {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
         "metadata": {"name": "default-deny", "namespace": namespace},
         "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}},
        {"apiVersion": "v1", "kind": "ServiceAccount",
         "metadata": {"name": name, "namespace": namespace, "labels": labels},
         "automountServiceAccountToken": False},
        {"apiVersion": "v1", "kind": "Service",
         "metadata": {"name": name, "namespace": namespace, "labels": labels},
         "spec": {"selector": labels,
                  "ports": [{"name": "http", "port": 8080, "targetPort": "http"}]}},
        {"apiVersion": "apps/v1", "kind": "Deployment",
         "metadata": {"name": name, "namespace": namespace, "labels": labels},
         "spec": {
             "replicas": 2,
             "selector": {"matchLabels": labels},
             "template": {
                 "metadata": {"labels": labels},
                 "spec": {
                     "serviceAccountName": name,
                     "automountServiceAccountToken": False,
                     "securityContext": {
                         "runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001,
                         "fsGroup": 10001, "seccompProfile": {"type": "RuntimeDefault"},
                     },
                     "containers": [{
                         "name": name,
                         "image": f"registry.example.com/erp/{name}:1.2.3@{DIGEST}",
                         "imagePullPolicy": "IfNotPresent",
                         "ports": [{"name": "http", "containerPort": 8080}],
                         "resources": {"requests": {"cpu": "250m", "memory": "256Mi"},
                                       "limits": {"cpu": "1", "memory": "512Mi"}},
                         "securityContext": {
                             "allowPrivilegeEscalation": False, "privileged": False,
                             "readOnlyRootFilesystem": True, "runAsNonRoot": True,
                             "capabilities": {"drop": ["ALL"]},
                         },
                         "readinessProbe": {"httpGet": {"path": "/health/ready", "port": "http"}},
                         "livenessProbe": {"httpGet": {"path": "/health/live", "port": "http"}},
                         "volumeMounts": [
                             {"name": "tmp", "mountPath": "/tmp"},  # noqa: S108 (in the pod)
                             {"name": "secrets", "mountPath": "/run/secrets", "readOnly": True},
                         ],
                     }],
                     "volumes": [{"name": "tmp", "emptyDir": {}},
                                 {"name": "secrets", "secret": {"secretName": name}}],
                 },
             },
         }},
    ]


def _pod(manifests: list[Manifest]) -> dict[str, Any]:
    deployment = next(m for m in manifests if m["kind"] == "Deployment")
    return deployment["spec"]["template"]["spec"]


def _container(manifests: list[Manifest]) -> dict[str, Any]:
    return _pod(manifests)["containers"][0]


def _without_network_policy(manifests: list[Manifest]) -> None:
    manifests[:] = [m for m in manifests if m["kind"] != "NetworkPolicy"]


# One property removed at a time -> the checks that fail: what the target must render.
MUTATIONS: dict[str, tuple[Callable[[list[Manifest]], object], set[str]]] = {
    "uid-below-10000": (lambda m: _pod(m)["securityContext"].update(runAsUser=1000),
                        {"CKV_K8S_40"}),
    "image-by-tag": (lambda m: _container(m).update(image="registry.example.com/erp/api:1.2.3"),
                     {"CKV_K8S_43", "CKV_K8S_15"}),
    "image-by-tag-pull-always": (
        lambda m: _container(m).update(image="registry.example.com/erp/api:1.2.3",
                                       imagePullPolicy="Always"),
        {"CKV_K8S_43"}),
    "capability-added": (
        lambda m: _container(m)["securityContext"]["capabilities"].update(
            add=["NET_BIND_SERVICE"]),
        {"CKV_K8S_25"}),
    "capabilities-not-dropped": (lambda m: _container(m)["securityContext"].pop("capabilities"),
                                 {"CKV_K8S_28", "CKV_K8S_37"}),
    "secret-as-env": (
        lambda m: _container(m).update(env=[{"name": "PW", "valueFrom": {
            "secretKeyRef": {"name": "api", "key": "password"}}}]),
        {"CKV_K8S_35"}),
    "token-automount-only-on-serviceaccount": (
        lambda m: _pod(m).pop("automountServiceAccountToken"), {"CKV_K8S_38"}),
    "writable-root": (
        lambda m: _container(m)["securityContext"].update(readOnlyRootFilesystem=False),
        {"CKV_K8S_22"}),
    "privilege-escalation": (
        lambda m: _container(m)["securityContext"].pop("allowPrivilegeEscalation"),
        {"CKV_K8S_20"}),
    "no-probes": (lambda m: [_container(m).pop(p) for p in ("readinessProbe", "livenessProbe")],
                  {"CKV_K8S_8", "CKV_K8S_9"}),
    "no-seccomp": (lambda m: _pod(m)["securityContext"].pop("seccompProfile"), {"CKV_K8S_31"}),
    "no-network-policy": (_without_network_policy, {"CKV2_K8S_6"}),
}


@pytest.fixture(scope="module")
def hardened_findings(checkov_bin: Path, tmp_path_factory: pytest.TempPathFactory
                      ) -> list[Finding]:
    return run_checkov(write(tmp_path_factory.mktemp("hardened"), hardened()),
                       checkov=checkov_bin)


def test_hardened_deployment_passes_every_check(hardened_findings: list[Finding]) -> None:
    assert hardened_findings == [], "\n".join(map(str, hardened_findings))


@pytest.fixture(scope="module")
def mutation_findings(checkov_bin: Path, tmp_path_factory: pytest.TempPathFactory
                      ) -> dict[str, set[str]]:
    """Each mutated copy in its own namespace; two checkov runs: checkov ties a NetworkPolicy
    to matching pods in any namespace, so the case without one needs a directory to itself."""
    root = tmp_path_factory.mktemp("mutations")
    for case, (mutate, _) in MUTATIONS.items():
        manifests = hardened(name=case, namespace=f"ns-{case}")
        mutate(manifests)
        alone = case == "no-network-policy"
        write(root / ("alone" if alone else "shared"), manifests, name=f"{case}.yaml")
    found: dict[str, set[str]] = {}
    for directory in ("shared", "alone"):
        found.update(by_resource(run_checkov(root / directory, checkov=checkov_bin)))
    return found


@pytest.mark.parametrize("case", MUTATIONS)
def test_each_hardening_property_is_demanded_by_a_check(
    mutation_findings: dict[str, set[str]], case: str
) -> None:
    expected = MUTATIONS[case][1]
    got = {check for resource, checks in mutation_findings.items()
           if resource.split(".")[1] == f"ns-{case}" for check in checks}
    assert got == expected, f"{case}: checkov reported {sorted(got)}, expected {sorted(expected)}"


# --- Offline --------------------------------------------------------------------------------


def test_runs_with_no_network_at_all(checkov_bin: Path, bad_dir: Path,
                                     bad_findings: list[Finding]) -> None:
    """In a new network namespace (no interface up), the verdict is the same."""
    assert run_checkov(bad_dir, checkov=checkov_bin, launcher=["unshare", "-n"]) == bad_findings


def _inet_calls(log: Path) -> list[str]:
    return [line for line in log.read_text().splitlines() if re.search(r"AF_INET6?\b", line)]


def _strace(log: Path) -> list[str]:
    return ["strace", "-f", "-qq", "-e", "trace=connect,sendto,sendmsg", "-o", str(log)]


def test_attempts_no_connection(checkov_bin: Path, bad_dir: Path, bad_findings: list[Finding],
                                tmp_path: Path) -> None:
    """strace sees every socket call of checkov and its workers: none leaves the machine."""
    log = tmp_path / "strace.log"
    assert run_checkov(bad_dir, checkov=checkov_bin,
                       launcher=["unshare", "-n", *_strace(log)]) == bad_findings
    assert log.stat().st_size > 0, "strace wrote nothing: the trace did not run"
    assert _inet_calls(log) == []


def test_strace_would_see_checkov_calling_home(checkov_bin: Path, bad_dir: Path,
                                               tmp_path: Path) -> None:
    """The control: without the runner's settings, checkov does try to connect (in a network
    namespace with no interface up, so nothing leaves)."""
    log = tmp_path / "strace.log"
    env = checkov_env(tmp_path, checkov_bin)
    env.pop("CKV_SKIP_PACKAGE_UPDATE_CHECK", None)
    command = [a for a in checkov_command(bad_dir, checkov_bin) if a != "--skip-download"]
    subprocess.run(["unshare", "-n", *_strace(log), *command], env=env, cwd=tmp_path,
                   capture_output=True, check=False, timeout=300)
    assert _inet_calls(log), "checkov made no connection attempt even when allowed to"


# --- The runner's own guards ----------------------------------------------------------------


def test_unparsable_file_is_an_error_not_a_silent_skip(checkov_bin: Path, tmp_path: Path) -> None:
    write(tmp_path, hardened())
    (tmp_path / "broken.yaml").write_text("kind: Deployment\nspec: [unclosed\n")
    with pytest.raises(CheckovError, match="broken.yaml: not valid YAML"):
        run_checkov(tmp_path, checkov=checkov_bin)


def test_inline_suppression_is_refused(checkov_bin: Path, tmp_path: Path) -> None:
    manifests = hardened()
    manifests[-1]["metadata"]["annotations"] = {"checkov.io/skip1": "CKV_K8S_21=because"}
    write(tmp_path, manifests)
    with pytest.raises(CheckovError, match=r"inline .* CKV_K8S_21 Deployment\.erp-core\.api"):
        run_checkov(tmp_path, checkov=checkov_bin)


def test_missing_venv_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(CheckovError, match="make checkov-venv"):
        run_checkov(tmp_path, checkov=tmp_path / "bin" / "checkov")


# --- Waivers --------------------------------------------------------------------------------


def waivers_file(tmp_path: Path, *entries: dict[str, Any]) -> Path:
    path = tmp_path / "checkov.yml"
    path.write_text(yaml.safe_dump({"waivers": list(entries)}, sort_keys=False))
    return path


REASON = "Pulled by digest in prod; dev images are built locally and tagged."


def entry(check: str = "CKV_K8S_43", resource: object = "Deployment.default.nolimits",
          reason: str = REASON, expires: dt.date = TODAY + dt.timedelta(days=90)
          ) -> dict[str, Any]:
    return {"check": check, "resource": resource, "reason": reason, "expires": expires}


def test_good_waiver_moves_its_finding_to_waived(bad_findings: list[Finding],
                                                 tmp_path: Path) -> None:
    unwaived, waived, problems = apply_waivers(bad_findings, waivers_file(tmp_path, entry()),
                                               today=TODAY)
    assert problems == []
    assert [(f.check_id, f.resource, w.reason) for f, w in waived] == [
        ("CKV_K8S_43", "Deployment.default.nolimits", REASON)]
    assert len(unwaived) == len(bad_findings) - 1
    assert all((f.check_id, f.resource) != ("CKV_K8S_43", "Deployment.default.nolimits")
               for f in unwaived)


def test_waiver_by_kind_namespace_name(bad_findings: list[Finding], tmp_path: Path) -> None:
    triple = {"kind": "Pod", "namespace": "shop", "name": "privileged"}
    _, waived, problems = apply_waivers(
        bad_findings, waivers_file(tmp_path, entry("CKV_K8S_16", triple)), today=TODAY)
    assert problems == []
    assert [(f.check_id, f.resource) for f, _ in waived] == [("CKV_K8S_16", "Pod.shop.privileged")]


@pytest.mark.parametrize("resource", [
    "Deployment.default.*",
    "*.default.nolimits",
    "Deployment.default.no?imits",
    {"kind": "Deployment", "namespace": "*", "name": "nolimits"},
])
def test_wildcard_waiver_is_refused(bad_findings: list[Finding], tmp_path: Path,
                                    resource: object) -> None:
    unwaived, waived, problems = apply_waivers(
        bad_findings, waivers_file(tmp_path, entry(resource=resource)), today=TODAY)
    assert waived == []
    assert len(unwaived) == len(bad_findings)
    assert len(problems) == 1 and "looks like a pattern" in problems[0], problems


def test_expired_waiver_is_a_problem_and_waives_nothing(bad_findings: list[Finding],
                                                        tmp_path: Path) -> None:
    yesterday = TODAY - dt.timedelta(days=1)
    unwaived, waived, problems = apply_waivers(
        bad_findings, waivers_file(tmp_path, entry(expires=yesterday)), today=TODAY)
    assert waived == [] and len(unwaived) == len(bad_findings)
    assert problems == [f"checkov.yml: waivers[0] (CKV_K8S_43 Deployment.default.nolimits): "
                        f"expired on {yesterday}"]


def test_stale_waiver_is_a_problem(bad_findings: list[Finding], tmp_path: Path) -> None:
    # The Deployment is not privileged: a waiver for CKV_K8S_16 there outlived its cause.
    _, waived, problems = apply_waivers(
        bad_findings, waivers_file(tmp_path, entry(check="CKV_K8S_16")), today=TODAY)
    assert waived == []
    assert problems == ["checkov.yml: CKV_K8S_16 Deployment.default.nolimits matches no "
                        "finding (stale: remove it)"]


@pytest.mark.parametrize(("change", "problem"), [
    ({"reason": "because"}, "reason is missing or shorter than 20 characters"),
    ({"reason": None}, "reason is missing or shorter than 20 characters"),
    ({"expires": TODAY + dt.timedelta(days=400)}, "more than a year ahead"),
    ({"expires": "soon"}, "expires must be a date"),
    ({"check": "CKV_AWS_20"}, "is not a checkov Kubernetes check id"),
    ({"resource": "nolimits"}, "is not a checkov id"),
    ({"resource": {"kind": "Deployment", "name": "nolimits"}}, "exactly {kind, namespace, name}"),
])
def test_malformed_waiver_is_a_problem(bad_findings: list[Finding], tmp_path: Path,
                                       change: dict[str, Any], problem: str) -> None:
    unwaived, waived, problems = apply_waivers(
        bad_findings, waivers_file(tmp_path, {**entry(), **change}), today=TODAY)
    assert waived == [] and len(unwaived) == len(bad_findings)
    assert len(problems) == 1 and problem in problems[0], problems


def test_duplicate_and_unknown_keys_are_problems(bad_findings: list[Finding],
                                                 tmp_path: Path) -> None:
    _, waived, problems = apply_waivers(
        bad_findings, waivers_file(tmp_path, entry(), {**entry(), "hosts": ["x"]}), today=TODAY)
    assert len(waived) == 1
    assert any("unknown keys ['hosts']" in p for p in problems), problems
    assert any("listed twice" in p for p in problems), problems


def test_repository_waiver_file_is_well_formed() -> None:
    """The committed file parses and every entry in it is usable (staleness is judged against
    the real renders, where the target's tests run checkov)."""
    waivers, problems = load_waivers(WAIVERS, TODAY)
    assert problems == []
    assert all(w.expires >= TODAY for w in waivers)


# --- The venv script ------------------------------------------------------------------------


def test_venv_holds_the_locked_release(checkov_bin: Path) -> None:
    version = subprocess.run([str(checkov_bin), "--version"], capture_output=True, text=True,
                             check=True, env={"CKV_SKIP_PACKAGE_UPDATE_CHECK": "true"})
    assert version.stdout.strip() == pinned_version()
    assert re.search(rf"^checkov=={re.escape(pinned_version())} --hash=sha256:[0-9a-f]{{64}}$",
                     LOCK.read_text(), re.MULTILINE)


def test_venv_script_does_nothing_when_the_venv_is_right(checkov_bin: Path) -> None:
    stamp = venv_dir() / ".rampart-lock-sha256"
    before = stamp.stat().st_mtime_ns
    result = subprocess.run(["bash", str(VENV_SCRIPT)], capture_output=True, text=True,
                            check=True, timeout=60)
    assert result.stdout == ""
    assert stamp.stat().st_mtime_ns == before


def test_venv_script_rebuilds_a_venv_with_another_release(checkov_bin: Path,
                                                          tmp_path: Path) -> None:
    """A copy of the venv whose checkov claims another release is removed and rebuilt."""
    venv = tmp_path / "venv"
    shutil.copytree(venv_dir(), venv, symlinks=True)
    metadata = next(venv.glob("lib/python3*/site-packages/checkov-*.dist-info/METADATA"))
    metadata.write_text(re.sub(r"^Version: .*$", "Version: 0.0.1", metadata.read_text(),
                               count=1, flags=re.MULTILINE))
    env = {**os.environ, "RAMPART_CHECKOV_VENV": str(venv)}
    result = subprocess.run(["bash", str(VENV_SCRIPT)], capture_output=True, text=True, env=env,
                            timeout=900, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"building {venv} with checkov {pinned_version()}" in result.stdout
    assert f"checkov {pinned_version()} ready" in result.stdout
    assert "Version: 0.0.1" not in next(
        venv.glob("lib/python3*/site-packages/checkov-*.dist-info/METADATA")).read_text()


def test_venv_script_fails_loudly_without_its_python(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHON": str(tmp_path / "python3.11"),
           "RAMPART_CHECKOV_VENV": str(tmp_path / "venv")}
    result = subprocess.run(["bash", str(VENV_SCRIPT)], capture_output=True, text=True, env=env,
                            timeout=60, check=False)
    assert result.returncode == 1
    assert "python3.11 not found" in result.stderr
    assert not (tmp_path / "venv").exists()


def test_venv_script_never_replaces_a_directory_that_is_not_a_venv(tmp_path: Path) -> None:
    precious = tmp_path / "not-a-venv"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    env = {**os.environ, "RAMPART_CHECKOV_VENV": str(precious)}
    result = subprocess.run(["bash", str(VENV_SCRIPT)], capture_output=True, text=True, env=env,
                            timeout=60, check=False)
    assert result.returncode == 1
    assert "is not a virtualenv; refusing to replace it" in result.stderr
    assert (precious / "notes.txt").read_text() == "keep me"
