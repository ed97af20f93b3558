"""minio-init: the backup repository's bucket, policy and MinIO user, declared as code.

Four layers: the model's one-shot jobs and `completed` dependencies (validation), what the
Docker target declares for the job and for pg-backup (the real program under the recording
engine), the files infra/backups generates for it, and the script itself.

The script runs for real (this machine's sh and dash/bash, the generated settings and policy)
against a stand-in `mc`: no MinIO server can run here. The stand-in keeps MinIO's state
(buckets, policies, users, attachments) in a JSON file and answers the subset of mc the
script uses the way mc does: secret keys read from standard input when the argument is
missing, `policy attach` failing with "already in effect" when nothing changes, admin calls
refused without the root credentials, and `ls` allowed only when the user's attached policy
grants s3:ListBucket on the bucket (the generated policy is evaluated, not assumed)."""

from __future__ import annotations

import asyncio
import copy
import gc
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from infra import backups
from infra.model import build_platform_from_data
from infra.model.errors import ValidationError
from infra.model.types import Condition
from infra.offline import engine, render
from infra.offline.engine import REDACTED
from infra.targets import docker as target

pytestmark = pytest.mark.unit

CONTAINER = "docker:index/container:Container"
ROOT = Path(__file__).resolve().parents[2]

# -- the model: one-shot jobs and `completed` -------------------------------------------------

DIGEST = "sha256:" + "ab" * 32
VERSIONS = {"images": {"app": {"repository": "registry.example/app", "tag": "1.2.3",
                               "digest": DIGEST}}}
CATALOG: dict[str, Any] = {
    "platform": "erp",
    "services": {
        "store": {"group": "infra", "image": "app", "port": 9000,
                  "health": {"command": ["true"]}},
        "init": {"group": "platform", "image": "app", "one_shot": "prepares the store",
                 "depends_on": ["store"]},
        "worker": {"group": "platform", "image": "app",
                   "depends_on": {"store": "started", "init": "completed"}},
    },
}


def build(mutate=None):  # type: ignore[no-untyped-def]
    catalog = copy.deepcopy(CATALOG)
    if mutate is not None:
        mutate(catalog["services"])
    return build_platform_from_data(catalog, VERSIONS, catalog_file="catalog.yaml")


def test_one_shot_job_and_completed_dependency() -> None:
    platform = build()
    init, worker = platform.service("init"), platform.service("worker")
    assert init.one_shot == "prepares the store" and init.restart == "no"
    assert ("rampart.role", "job") in init.labels
    assert ("rampart.one-shot", "prepares the store") in init.labels
    assert worker.depends_on == ("store", "init")
    assert worker.completed_dependencies == ("init",)
    assert platform.service("store").restart == "unless-stopped"
    assert [c.value for c in Condition] == ["started", "completed"]


@pytest.mark.parametrize(("mutate", "service", "field", "words"), [
    (lambda s: s["init"].update(health={"command": ["true"]}), "init", "health",
     "nothing to keep healthy"),
    (lambda s: s["init"].update(port=8080), "init", "port", "serves nothing"),
    (lambda s: s["init"].update(stateful=True), "init", "stateful", "no data of its own"),
    (lambda s: s["init"].update(replicas=2), "init", "replicas", "one instance"),
    (lambda s: s["init"].update(metrics={"port": 9100}), "init", "metrics", "scraped"),
    (lambda s: s["worker"].update(depends_on={"store": "completed", "init": "completed"}),
     "worker", "depends_on.store", "never completes"),
    (lambda s: s["worker"].update(depends_on=["store", "init"]), "worker", "depends_on[1]",
     "init: completed"),
    (lambda s: s["worker"].update(depends_on={"init": "started"}), "worker",
     "depends_on.init", "one-shot job"),
    (lambda s: s["worker"].update(depends_on={"init": "healthy"}), "worker",
     "depends_on.init", "not one of: started, completed"),
    (lambda s: s["worker"].update(depends_on={"ghost": "completed"}), "worker",
     "depends_on.ghost", "unknown dependency"),
    (lambda s: s["worker"].update(depends_on="init"), "worker", "depends_on",
     "list of strings"),
])
def test_one_shot_mistakes_are_one_clear_error(mutate, service, field, words) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError) as info:
        build(mutate)
    err = info.value
    assert (err.file, err.service, err.field) == ("catalog.yaml", service, field), str(err)
    assert words in err.message, str(err)


# -- what the Docker target declares ----------------------------------------------------------


def _container(rec, name: str):  # type: ignore[no-untyped-def]
    return rec.get(CONTAINER, f"erp-{name}-container")


def test_init_is_a_hardened_one_shot_container(dev_recording, dev_platform) -> None:
    svc = dev_platform.service("minio-init")
    c = _container(dev_recording, "minio-init")
    got = c.inputs
    assert got["attach"] is True and got["mustRun"] is False and got["restart"] == "no", c.urn
    assert "healthcheck" not in got, f"{c.urn}: a one-shot job has nothing to keep healthy"
    assert got["entrypoints"] == ["sh", backups.INIT_SCRIPT_PATH], c.urn
    assert got.get("command") is None, c.urn
    assert got["user"] == "1000:1000" and got["readOnly"] is True, c.urn
    assert got["capabilities"] == {"drops": ["ALL"], "adds": []}, c.urn
    assert "no-new-privileges:true" in got["securityOpts"], c.urn
    assert [n["name"] for n in got["networksAdvanced"]] == ["erp-backend"], c.urn
    assert got["image"].startswith("sha256:"), c.urn
    image = dev_recording.get("docker:index/remoteImage:RemoteImage", "erp-minio-init-image")
    assert image.inputs["name"] == dev_platform.service("minio").image.ref, \
        f"{c.urn}: not MinIO's pinned image (the one that ships mc)"
    labels = {item["label"]: item["value"] for item in got["labels"]}
    assert labels["rampart.role"] == "job" and labels["rampart.one-shot"] == svc.one_shot


def test_init_gets_its_script_settings_and_policy(dev_recording, dev_platform) -> None:
    c = _container(dev_recording, "minio-init")
    uploads = {u["file"]: u for u in c.inputs["uploads"]}
    expected = backups.container_files(dev_platform, backups.load_policy())["minio-init"]
    assert sorted(expected) == [backups.INIT_SCRIPT_PATH, backups.INIT_POLICY_PATH,
                                backups.INIT_SETTINGS_PATH]
    for path, content in expected.items():
        assert uploads[path]["content"] == content, f"{c.urn}: {path}"
        assert uploads[path]["permissions"] == "0444", f"{c.urn}: {path} mode"
    assert uploads[backups.INIT_SCRIPT_PATH]["content"] == \
        backups.INIT_SCRIPT.read_text(encoding="utf-8")


@pytest.mark.parametrize(("name", "path", "owner"), [
    ("MINIO_ROOT_PASSWORD", "/run/secrets/minio_root_password", "minio"),
    ("BACKUP_S3_SECRET_KEY", "/run/secrets/backup_s3_secret_key", "pg-backup"),
])
def test_init_secrets_are_files_never_values(dev_recording, dev_platform, name, path,
                                             owner) -> None:
    """The root password and the user's secret key are the owners' secrets from Vault,
    uploaded as files only the job's user reads; the spec holds their paths only."""
    svc = dev_platform.service("minio-init")
    ref = next(r for r in svc.secrets if r.name == name)
    assert ref.shared_from == owner and ref.file == path
    c = _container(dev_recording, "minio-init")
    uploads = {u["file"]: u for u in c.inputs["uploads"]}
    assert uploads[path]["content"] == REDACTED, f"{c.urn}: {path} not a secret upload"
    assert uploads[path]["permissions"] == "0400" and uploads[path]["owner"] == "1000", c.urn
    envs = dict(e.split("=", 1) for e in c.inputs["envs"])
    assert envs[f"{name}_FILE"] == path, c.urn
    assert sorted(envs) == ["BACKUP_S3_SECRET_KEY_FILE", "MINIO_ROOT_PASSWORD_FILE",
                            "MINIO_ROOT_USER"], f"{c.urn}: {sorted(envs)}"
    for key in ("envs", "entrypoints", "labels"):
        assert REDACTED not in json.dumps(c.inputs.get(key)), f"{c.urn}: secret in {key}"


def test_backup_job_waits_for_the_init(dev_recording, dev_platform) -> None:
    job = dev_platform.service("pg-backup")
    assert job.completed_dependencies == ("minio-init",)
    init = _container(dev_recording, "minio-init")
    pg_backup = _container(dev_recording, "pg-backup")
    assert init.urn in pg_backup.dependencies, f"{pg_backup.urn}: starts before minio-init"
    minio = _container(dev_recording, "minio")
    assert minio.urn in init.dependencies, f"{init.urn}: runs before MinIO started"


def test_prod_declares_the_same_init(prod_recording) -> None:
    c = _container(prod_recording, "minio-init")
    assert c.inputs["attach"] is True and c.inputs["restart"] == "no", c.urn
    assert c.urn in _container(prod_recording, "pg-backup").dependencies


@pytest.mark.parametrize("code", [0, 3, None])
def test_completion_check(code) -> None:  # type: ignore[no-untyped-def]
    if code == 0:
        target.check_completed("erp-minio-init", 0)
        return
    with pytest.raises(target.OneShotFailedError) as info:
        target.check_completed("erp-minio-init", code)
    text = str(info.value)
    assert "one-shot container 'erp-minio-init' did not complete" in text
    assert ("exit code 3" if code else "no exit code") in text
    assert "docker logs erp-minio-init" in text


def test_a_failed_init_stops_the_deploy_before_pg_backup(monkeypatch, recordings) -> None:
    """The real program with an engine whose minio-init exits 3: the deploy fails naming
    the container, and pg-backup is never declared."""
    plain = engine.RecordingMocks.new_resource

    def exits_3(self, args):  # type: ignore[no-untyped-def]
        rid, state = plain(self, args)
        if args.typ == CONTAINER and args.name == "erp-minio-init-container":
            state["exitCode"] = 3
        return rid, state

    monkeypatch.setattr(engine.RecordingMocks, "new_resource", exits_3)
    with pytest.raises(Exception, match=r"'erp-minio-init' did not complete \(exit code 3\)"):
        render.record_stack("dev", ROOT)
    (rec,) = recordings
    names = {r.name for r in rec}
    assert "erp-minio-init-container" in names
    assert "erp-pg-backup-container" not in names, "pg-backup declared after a failed init"
    assert "erp-postgres-container" in names  # what does not depend on it is unaffected
    # The SDK resolves every output of the refused container with the error; nobody awaits
    # them, so asyncio would log each as "exception was never retrieved" at interpreter exit.
    # Reading the exception marks it retrieved (only these futures, this error).
    for obj in gc.get_objects():
        if isinstance(obj, asyncio.Future) and obj.done() and not obj.cancelled() and \
                isinstance(getattr(obj, "_exception", None), target.OneShotFailedError):
            obj.exception()


# -- the generated files ------------------------------------------------------------------------


def test_settings_come_from_the_jobs_environment(dev_platform) -> None:
    env = dict(dev_platform.service("pg-backup").environment)
    (job,) = backups.pgbackrest_jobs(dev_platform)
    assert job.repository_init is dev_platform.service("minio-init")
    assert job.repository == backups.Repository(
        endpoint=env["PGBACKREST_REPO1_S3_ENDPOINT"], bucket=env["PGBACKREST_REPO1_S3_BUCKET"],
        user=env["BACKUP_S3_ACCESS_KEY_ID"], prefix=env["PGBACKREST_REPO1_PATH"].strip("/"))
    text = backups.repository_settings(job.repository, "pg-backup")
    for line in ("export RAMPART_S3_ENDPOINT='http://minio:9000'",
                 "export RAMPART_S3_BUCKET='erp-backups'", "export RAMPART_S3_USER='pg-backup'",
                 "export RAMPART_S3_POLICY='pg-backup'", "export RAMPART_S3_PREFIX='pgbackrest'",
                 f"export RAMPART_WAIT_S='{backups.INIT_WAIT_S}'"):
        assert line in text.splitlines(), text


def test_policy_is_least_privilege(dev_platform) -> None:
    """List the bucket; get, put, delete (and abort uploads of) objects under pgBackRest's
    repository path; no wildcard action, no other bucket, no admin action."""
    (job,) = backups.pgbackrest_jobs(dev_platform)
    assert job.repository is not None
    doc = json.loads(backups.repository_policy(job.repository))
    assert doc["Version"] == "2012-10-17"
    granted = {(action, resource) for st in doc["Statement"] for action in st["Action"]
               for resource in st["Resource"]}
    assert all(st["Effect"] == "Allow" for st in doc["Statement"])
    assert granted == {
        ("s3:ListBucket", "arn:aws:s3:::erp-backups"),
        ("s3:GetObject", "arn:aws:s3:::erp-backups/pgbackrest/*"),
        ("s3:PutObject", "arn:aws:s3:::erp-backups/pgbackrest/*"),
        ("s3:DeleteObject", "arn:aws:s3:::erp-backups/pgbackrest/*"),
        ("s3:AbortMultipartUpload", "arn:aws:s3:::erp-backups/pgbackrest/*"),
    }
    root = backups.Repository("http://minio:9000", "erp-backups", "pg-backup", "")
    assert json.loads(backups.repository_policy(root))["Statement"][1]["Resource"] == \
        ["arn:aws:s3:::erp-backups/*"]


def _erp_catalog() -> dict[str, Any]:
    from infra.model import DEFAULT_CATALOG
    from infra.model.source import parse_yaml

    return parse_yaml(DEFAULT_CATALOG.read_text(encoding="utf-8"), "erp.yaml")


@pytest.mark.parametrize(("mutate", "service", "field", "words"), [
    (lambda s: s["pg-backup"]["environment"].update(PGBACKREST_REPO1_S3_BUCKET="Erp_Backups"),
     "pg-backup", "environment.PGBACKREST_REPO1_S3_BUCKET", "not an S3 bucket name"),
    (lambda s: s["pg-backup"]["environment"].update(PGBACKREST_REPO1_S3_ENDPOINT="minio:9000"),
     "pg-backup", "environment.PGBACKREST_REPO1_S3_ENDPOINT", "http(s)://host"),
    (lambda s: s["pg-backup"]["environment"].update(BACKUP_S3_ACCESS_KEY_ID="pg backup'"),
     "pg-backup", "environment.BACKUP_S3_ACCESS_KEY_ID", "MinIO access key"),
    (lambda s: s["pg-backup"]["environment"].update(PGBACKREST_REPO1_TYPE="posix"),
     "pg-backup", "environment.PGBACKREST_REPO1_TYPE", "creates an S3 bucket"),
    (lambda s: s["minio-init"]["secrets"].pop("BACKUP_S3_SECRET_KEY"),
     "minio-init", "secrets", "BACKUP_S3_SECRET_KEY_FILE"),
    (lambda s: s["minio-init"]["secrets"].update(
        BACKUP_S3_SECRET_KEY={"kind": "password", "env": "BACKUP_S3_SECRET_KEY_FILE"}),
     "minio-init", "secrets.BACKUP_S3_SECRET_KEY", "must share the secret key of 'pg-backup'"),
])
def test_repository_mistakes_are_one_clear_error(mutate, service, field, words) -> None:  # type: ignore[no-untyped-def]
    from infra.model.source import parse_yaml

    catalog = _erp_catalog()
    mutate(catalog["services"])
    versions = parse_yaml((ROOT / "infra/catalog/versions.yaml").read_text(), "versions.yaml")
    platform = build_platform_from_data(catalog, versions, {"environment": "dev"},
                                        catalog_file="infra/catalog/erp.yaml")
    with pytest.raises(ValidationError) as info:
        backups.container_files(platform, backups.load_policy())
    err = info.value
    assert (err.service, err.field) == (service, field), str(err)
    assert words in err.message, str(err)


# -- the script, against a stand-in mc -----------------------------------------------------------

FAKE_MC = r'''
import json, os, sys

state_path = os.environ["FAKE_MC_STATE"]
with open(state_path) as f:
    state = json.load(f)
args = sys.argv[1:]
state["calls"].append(list(args))
config = None
as_json = False
rest = []
i = 0
while i < len(args):
    a = args[i]
    if a == "--config-dir":
        config = args[i + 1]
        i += 2
        continue
    if a == "--json":
        as_json = True
    elif a in ("--no-color", "--quiet"):
        pass
    else:
        rest.append(a)
    i += 1


def done(code=0, out=""):
    with open(state_path, "w") as f:
        json.dump(state, f)
    if out:
        print(out, file=sys.stdout if code == 0 else sys.stderr)
    sys.exit(code)


def stdin_line():
    line = sys.stdin.readline()
    return line.rstrip("\n")


if config is None or not os.path.isdir(config):
    done(1, "mc: <ERROR> no usable --config-dir")
aliases = state["aliases"].setdefault(config, {})


def admin(alias):
    a = aliases.get(alias)
    if a is None:
        done(1, f"mc: <ERROR> Unable to initialize admin connection. `{alias}` not found.")
    if state["down_calls"] > 0:
        state["down_calls"] -= 1
        done(1, "mc: <ERROR> Unable to get service status. dial tcp 172.18.0.5:9000: "
                "connect: connection refused")
    if (a["access"], a["secret"]) != (state["root_user"], state["root_password"]):
        done(1, "mc: <ERROR> Unable to get service status. Access Denied.")


cmd = rest
if cmd[:2] == ["alias", "set"]:
    words = [w for w in cmd[2:] if not w.startswith("--")]
    if "--api" in cmd:
        words.remove(cmd[cmd.index("--api") + 1])
    name, url = words[0], words[1]
    access = words[2] if len(words) > 2 else stdin_line()
    secret = words[3] if len(words) > 3 else stdin_line()
    aliases[name] = {"url": url, "access": access, "secret": secret}
    state["urls"].append(url)
    done(0, f"Added `{name}` successfully.")
if cmd[:2] == ["admin", "info"]:
    admin(cmd[2])
    done(0, "●  minio:9000\n   Uptime: 1 minute")
if cmd[0] == "mb":
    alias, bucket = cmd[-1].split("/", 1)
    admin(alias)
    if bucket in state["buckets"] and "--ignore-existing" not in cmd:
        done(1, "mc: <ERROR> Unable to make bucket. Your previous request to create the "
                "named bucket succeeded and you already own it.")
    state["buckets"][bucket] = state["buckets"].get(bucket, {})
    done(0, f"Bucket created successfully `{cmd[-1]}`.")
if cmd[:3] == ["admin", "policy", "create"]:
    admin(cmd[3])
    with open(cmd[5]) as f:
        state["policies"][cmd[4]] = json.load(f)
    done(0, f"Created policy `{cmd[4]}` successfully.")
if cmd[:3] == ["admin", "user", "add"]:
    admin(cmd[3])
    user = cmd[4]
    secret = cmd[5] if len(cmd) > 5 else stdin_line()
    old = state["users"].get(user, {"policies": []})
    state["users"][user] = {"secret": secret, "status": "enabled",
                            "policies": old["policies"]}
    done(0, f"Added user `{user}` successfully.")
if cmd[:3] == ["admin", "policy", "attach"] or cmd[:3] == ["admin", "policy", "detach"]:
    admin(cmd[3])
    policy, user = cmd[4], cmd[cmd.index("--user") + 1]
    if policy not in state["policies"]:
        done(1, "mc: <ERROR> Unable to make user/group policy association. The canned "
                "policy does not exist.")
    attached = state["users"][user]["policies"]
    if (policy in attached) == (cmd[2] == "attach"):
        done(1, "mc: <ERROR> Unable to make user/group policy association. The specified "
                "policy change is already in effect.")
    if cmd[2] == "attach":
        attached.append(policy)
    else:
        attached.remove(policy)
    done(0, f"Attached/detached `{policy}` to `{user}`.")
if cmd[:3] == ["admin", "user", "info"]:
    admin(cmd[3])
    u = state["users"][cmd[4]]
    if not as_json:
        done(0, f"AccessKey: {cmd[4]}")
    body = {"status": "success", "accessKey": cmd[4], "userStatus": u["status"]}
    if u["policies"]:
        body["policyName"] = ",".join(u["policies"])
    done(0, json.dumps(body, indent=1))
if cmd[0] == "ls":
    alias, bucket = cmd[1].split("/", 1)
    a = aliases[alias]
    u = state["users"].get(a["access"])
    if u is None or u["secret"] != a["secret"] or bucket not in state["buckets"]:
        done(1, "mc: <ERROR> Unable to list folder. Access Denied.")
    for name in u["policies"]:
        for st in state["policies"][name]["Statement"]:
            if st["Effect"] == "Allow" and "s3:ListBucket" in st["Action"] and \
                    f"arn:aws:s3:::{bucket}" in st["Resource"]:
                done(0, "")
    done(1, "mc: <ERROR> Unable to list folder. Access Denied.")
done(2, f"fake mc: unexpected command {cmd}")
'''

ROOT_PASSWORD = "RootPasswordFromVault0123456789a"  # noqa: S105 - stand-in values
KEY = "BackupKeyFromVault0123456789abcd"  # noqa: S105
ROTATED = "RotatedKeyFromVault0123456789xyz"  # noqa: S105


class Bench:
    """The init's container in a directory: its uploaded files, its secret files, and a
    stand-in `mc` whose state is MinIO's."""

    def __init__(self, root: Path, shell: str, platform) -> None:  # type: ignore[no-untyped-def]
        self.root, self.shell = root, shell
        files = backups.container_files(platform, backups.load_policy())["minio-init"]
        (root / "etc").mkdir()
        for path, content in files.items():
            (root / "etc" / Path(path).name).write_text(content)
        (root / "secrets").mkdir()
        self.root_password = root / "secrets" / "minio_root_password"
        self.key = root / "secrets" / "backup_s3_secret_key"
        self.root_password.write_text(ROOT_PASSWORD)
        self.key.write_text(KEY + "\n")
        bin_dir = root / "bin"
        bin_dir.mkdir()
        mc = bin_dir / "mc"
        mc.write_text(f"#!{sys.executable}\n{FAKE_MC}")
        mc.chmod(0o755)
        self.state = root / "minio.json"
        self.save({"root_user": "erp-admin", "root_password": ROOT_PASSWORD, "down_calls": 0,
                   "aliases": {}, "buckets": {}, "policies": {}, "users": {}, "calls": [],
                   "urls": []})
        env = dict(dict(platform.service("minio-init").environment))
        env.update({ref.env: str(root / "secrets" / Path(ref.file).name)
                    for ref in platform.service("minio-init").secrets if ref.env})
        self.env = {**env, "PATH": f"{bin_dir}:{os.environ['PATH']}",
                    "FAKE_MC_STATE": str(self.state), "RAMPART_POLL_S": "0",
                    "RAMPART_REPOSITORY_ENV": str(root / "etc" / "repository.env"),
                    "RAMPART_POLICY_FILE": str(root / "etc" / "policy.json")}

    def load(self) -> dict[str, Any]:
        return json.loads(self.state.read_text())

    def save(self, state: dict[str, Any]) -> None:
        self.state.write_text(json.dumps(state))

    def change(self, **changes: Any) -> None:
        self.save({**self.load(), **changes})

    def run(self, **env: str) -> subprocess.CompletedProcess[str]:
        self.change(calls=[])
        return subprocess.run(
            [self.shell, str(self.root / "etc" / "minio-init.sh")],
            env={**self.env, **env}, capture_output=True, text=True, timeout=60, check=False)


SHELLS = [s for s in ("dash", "bash") if shutil.which(s)]


@pytest.fixture(params=SHELLS)
def bench(request, tmp_path, dev_platform) -> Bench:  # type: ignore[no-untyped-def]
    return Bench(tmp_path, shutil.which(request.param) or "", dev_platform)


def _assert_declared(state: dict[str, Any], key: str) -> None:
    assert "erp-backups" in state["buckets"], state["buckets"]
    policy = state["policies"]["pg-backup"]
    assert policy == json.loads(backups.repository_policy(backups.Repository(
        "http://minio:9000", "erp-backups", "pg-backup", "pgbackrest")))
    assert state["users"]["pg-backup"] == {"secret": key, "status": "enabled",
                                           "policies": ["pg-backup"]}


def test_first_run_waits_for_minio_then_declares_everything(bench: Bench) -> None:
    bench.change(down_calls=3)
    result = bench.run()
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "waiting for MinIO at http://minio:9000 (at most 120 s)" in out, out
    assert "minio-init: RESULT ok: bucket erp-backups, policy pg-backup and user pg-backup " \
           "are as declared" in out, out
    state = bench.load()
    _assert_declared(state, KEY)
    assert state["urls"] == ["http://minio:9000", "http://minio:9000"]
    # secrets reached mc on its standard input only
    argv = json.dumps(state["calls"])
    for secret in (ROOT_PASSWORD, KEY):
        assert secret not in argv and secret not in out + result.stderr, "secret leaked"
    # mc's configuration (with the root password) is a private temporary directory, gone
    configs = {c[c.index("--config-dir") + 1] for c in state["calls"]}
    assert len(configs) == 1 and not Path(configs.pop()).exists()


def test_a_rerun_changes_nothing(bench: Bench) -> None:
    assert bench.run().returncode == 0
    before = bench.load()
    result = bench.run()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "policy pg-backup was already attached to user pg-backup" in result.stdout
    after = bench.load()
    for key in ("buckets", "policies", "users"):
        assert after[key] == before[key], key


def test_a_rotated_key_reaches_minio(bench: Bench) -> None:
    assert bench.run().returncode == 0
    bench.key.write_text(ROTATED)
    result = bench.run()
    assert result.returncode == 0, result.stdout + result.stderr
    _assert_declared(bench.load(), ROTATED)  # the user's own login with it listed the bucket


def test_other_policies_are_detached(bench: Bench) -> None:
    assert bench.run().returncode == 0
    state = bench.load()
    state["policies"]["readwrite"] = {"Statement": []}
    state["users"]["pg-backup"]["policies"].insert(0, "readwrite")
    bench.save(state)
    result = bench.run()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "policy readwrite detached from user pg-backup (it gets pg-backup only)" \
        in result.stdout
    assert bench.load()["users"]["pg-backup"]["policies"] == ["pg-backup"]


@pytest.mark.parametrize(("setup", "env", "words"), [
    (lambda b: b.change(down_calls=1000), {"RAMPART_WAIT_S": "3", "RAMPART_POLL_S": "1"},
     "MinIO at http://minio:9000 is not up after 3 s: mc: <ERROR> Unable to get service "
     "status. dial tcp"),
    (lambda b: b.change(root_password="another"), {},  # noqa: S106 - a stand-in value
     "refuses root user erp-admin"),
    (lambda b: b.key.write_text("short"), {}, "has 5 characters; MinIO takes 8..40"),
    (lambda b: b.key.unlink(), {}, "backup_s3_secret_key (the secret key of MinIO user "
                                   "pg-backup) is missing"),
    (lambda b: b.root_password.write_text(""), {}, "minio_root_password (MinIO's root "
                                                   "password) is empty"),
])
def test_failures_are_one_clear_error(bench: Bench, setup, env, words) -> None:  # type: ignore[no-untyped-def]
    setup(bench)
    if "RAMPART_WAIT_S" in env:  # the settings file names it; a shorter bound for the test
        settings = bench.root / "etc" / "repository.env"
        settings.write_text(settings.read_text().replace("RAMPART_WAIT_S='120'",
                                                         f"RAMPART_WAIT_S='{env['RAMPART_WAIT_S']}'"))
    result = bench.run(**{k: v for k, v in env.items() if k != "RAMPART_WAIT_S"})
    assert result.returncode == 1, result.stdout + result.stderr
    assert "minio-init: FATAL: " in result.stderr and words in result.stderr, result.stderr
    assert "RESULT ok" not in result.stdout
    assert not bench.load()["users"], "a user was declared after the failure"
