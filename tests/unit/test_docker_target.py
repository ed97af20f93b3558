"""The Docker target carries every hardening decision of the model, for every service.

Most cases run against the real program for the dev stack (`__main__.py` under the recording
engine), parametrised by catalog service; a few use a small hand-built platform."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pytest

from infra import backups
from infra.model import defaults
from infra.model.types import DUAL_VERSION_KINDS, Network, Platform
from infra.offline.engine import REDACTED, Record, Recording
from infra.targets import docker as target

pytestmark = pytest.mark.unit

CONTAINER = "docker:index/container:Container"
IMAGE = "docker:index/remoteImage:RemoteImage"
NETWORK = "docker:index/network:Network"
VOLUME = "docker:index/volume:Volume"
MIB = 1024**2


def container(rec: Recording, platform: Platform, service: str) -> Record:
    return rec.get(CONTAINER, f"{platform.name}-{service}-container")


def inputs(rec: Recording, platform: Platform, service: str) -> dict[str, Any]:
    return dict(container(rec, platform, service).inputs)


# -- per service ---------------------------------------------------------------------------


def test_limits_and_reservations(dev_recording, dev_platform, dev_service):
    svc = dev_platform.service(dev_service)
    got = inputs(dev_recording, dev_platform, dev_service)
    urn = container(dev_recording, dev_platform, dev_service).urn
    assert got.get("cpus") == f"{svc.resources.cpu_limit:g}", f"{urn}: CPU limit"
    assert got.get("memory") == svc.resources.memory_limit // MIB, f"{urn}: memory limit"
    assert got.get("memoryReservation") == svc.resources.memory_reservation // MIB, \
        f"{urn}: memory reservation"
    assert got.get("memorySwap") == got.get("memory"), f"{urn}: swap beyond the memory limit"
    assert got.get("cpuShares", 0) >= 2, f"{urn}: no CPU weight for the reservation"


def test_health_check(dev_recording, dev_platform, dev_service):
    svc = dev_platform.service(dev_service)
    got = inputs(dev_recording, dev_platform, dev_service)
    urn = container(dev_recording, dev_platform, dev_service).urn
    if svc.health is None:
        assert "healthcheck" not in got, f"{urn}: a health check the model did not ask for"
        return
    h = svc.health
    assert got.get("healthcheck") == {
        "tests": list(h.command), "interval": f"{h.interval_s}s", "timeout": f"{h.timeout_s}s",
        "retries": h.retries, "startPeriod": f"{h.start_period_s}s",
    }, f"{urn}: health check differs from the model"


def test_security_options(dev_recording, dev_platform, dev_service):
    svc = dev_platform.service(dev_service)
    got = inputs(dev_recording, dev_platform, dev_service)
    urn = container(dev_recording, dev_platform, dev_service).urn
    sec = svc.security
    assert got.get("readOnly", False) == sec.read_only_root, f"{urn}: read-only root"
    assert got.get("capabilities") == {"drops": list(sec.cap_drop), "adds": list(sec.cap_add)}, \
        f"{urn}: capabilities"
    assert got["capabilities"]["drops"] == ["ALL"], f"{urn}: capabilities not all dropped"
    assert "no-new-privileges:true" in got.get("securityOpts", []), \
        f"{urn}: no-new-privileges missing"
    assert got.get("user") == sec.user, f"{urn}: user"
    assert got.get("privileged") is False, f"{urn}: privileged"
    assert "networkMode" not in got, f"{urn}: network mode {got.get('networkMode')}"
    labels = {item["label"]: item["value"] for item in got.get("labels", [])}
    if not got.get("readOnly"):
        # A writable root is a decision the catalog explains, never a default.
        assert labels.get("rampart.writable-root"), \
            f"{urn}: writable root without a `writable_root` reason"
    if sec.user is not None:
        assert sec.user.split(":")[0] not in ("0", "root"), f"{urn}: runs as root"


def test_writable_paths_are_tmpfs_or_volumes(dev_recording, dev_platform, dev_service):
    svc = dev_platform.service(dev_service)
    got = inputs(dev_recording, dev_platform, dev_service)
    urn = container(dev_recording, dev_platform, dev_service).urn
    if not svc.security.read_only_root:
        return
    mounted = [v["containerPath"] for v in got.get("volumes", [])]
    tmpfs = got.get("tmpfs", {})
    for path in svc.security.writable_paths:
        on_volume = any(path == m or path.startswith(m.rstrip("/") + "/") for m in mounted)
        assert on_volume or path in tmpfs, f"{urn}: writable path {path} is neither tmpfs nor "\
                                           "a volume on a read-only root"
    for path, options in tmpfs.items():
        assert "nosuid" in options and "nodev" in options, f"{urn}: tmpfs {path} options"


def test_logs_restart_and_shutdown(dev_recording, dev_platform, dev_service):
    svc = dev_platform.service(dev_service)
    got = inputs(dev_recording, dev_platform, dev_service)
    urn = container(dev_recording, dev_platform, dev_service).urn
    assert got.get("logDriver") == svc.logs.driver, f"{urn}: log driver"
    assert got.get("logOpts") == {"max-size": svc.logs.max_size,
                                  "max-file": str(svc.logs.max_file)}, f"{urn}: log rotation"
    assert got.get("restart") == svc.restart, f"{urn}: restart policy"
    assert got.get("stopSignal") == "SIGTERM", f"{urn}: stop signal"
    assert got.get("stopTimeout") == svc.stop_grace_s, f"{urn}: stop grace"
    assert got.get("destroyGraceSeconds") == svc.stop_grace_s, f"{urn}: destroy grace"
    # The owners' figures (DESIGN §1), not only "whatever the model said".
    assert got["logOpts"] == {"max-size": "10m", "max-file": "3"}, f"{urn}: not 10 MiB x 3"
    # A one-shot job runs once per deploy and is never restarted (restarting would loop).
    expected_restart = "no" if svc.one_shot else "unless-stopped"
    assert got["logDriver"] == "json-file" and got["restart"] == expected_restart, urn
    if svc.one_shot:
        assert got.get("attach") is True and got.get("mustRun") is False, \
            f"{urn}: the engine does not wait for the one-shot job to exit"
    else:
        assert "attach" not in got and "mustRun" not in got, f"{urn}: long-running service " \
                                                            "declared as a one-shot"


def test_health_and_resource_figures(dev_recording, dev_platform, dev_service):
    """The DESIGN §1 defaults hold unless the catalog states another figure for the service."""
    from infra.model import DEFAULT_CATALOG
    from infra.model.source import parse_yaml

    declared = parse_yaml(DEFAULT_CATALOG.read_text(), "erp.yaml")["services"][dev_service]
    got = inputs(dev_recording, dev_platform, dev_service)
    urn = container(dev_recording, dev_platform, dev_service).urn
    health = declared.get("health") or {}
    if declared.get("one_shot"):
        # exits by design: the model refuses a health check for it
        assert "healthcheck" not in got and "health" not in declared, urn
    else:
        _health_timings(got, health, urn)
    assert got["stopTimeout"] == declared.get("stop_grace_s", defaults.STOP_GRACE_S), urn
    resources = declared.get("resources") or {}
    if "cpu_limit" not in resources:
        assert got["cpus"] == "1", f"{urn}: default CPU limit is 1 core"
    if "memory_limit" not in resources:
        assert got["memory"] == 1024, f"{urn}: default memory limit is 1 GiB"
    if "memory_reservation" not in resources:
        assert got["memoryReservation"] == 512, f"{urn}: default reservation is 512 MiB"
    if "cpu_reservation" not in resources:
        assert got["cpuShares"] == 512, f"{urn}: default CPU reservation is 0.5 core"


def _health_timings(got: dict[str, Any], health: dict[str, Any], urn: str) -> None:
    expected = {"interval": f"{health.get('interval_s', defaults.HEALTH_INTERVAL_S)}s",
                "timeout": f"{health.get('timeout_s', defaults.HEALTH_TIMEOUT_S)}s",
                "retries": health.get("retries", defaults.HEALTH_RETRIES),
                "startPeriod": f"{health.get('start_period_s', defaults.HEALTH_START_PERIOD_S)}s"}
    assert {k: got["healthcheck"][k] for k in expected} == expected, f"{urn}: health timings"


def test_labels(dev_recording, dev_platform, dev_service):
    svc = dev_platform.service(dev_service)
    got = inputs(dev_recording, dev_platform, dev_service)
    urn = container(dev_recording, dev_platform, dev_service).urn
    assert got.get("labels", []) == [{"label": k, "value": v} for k, v in svc.labels], \
        f"{urn}: labels differ from the model"


def test_image_is_the_pinned_remote_image(dev_recording, dev_platform, dev_service):
    svc = dev_platform.service(dev_service)
    image = dev_recording.get(IMAGE, f"{dev_platform.name}-{dev_service}-image")
    assert image.inputs["name"] == svc.image.ref, f"{image.urn}: not the model's pinned ref"
    assert not image.inputs["name"].endswith(":latest"), f"{image.urn}: latest tag"
    got = container(dev_recording, dev_platform, dev_service)
    assert image.urn in got.dependencies, f"{got.urn}: container does not use its RemoteImage"
    assert got.inputs["image"].startswith("sha256:"), f"{got.urn}: image is not an image id"


def test_network_placement(dev_recording, dev_platform, dev_service):
    svc = dev_platform.service(dev_service)
    got = inputs(dev_recording, dev_platform, dev_service)
    urn = container(dev_recording, dev_platform, dev_service).urn
    attached = sorted(n["name"] for n in got.get("networksAdvanced", []))
    assert attached == sorted(f"{dev_platform.name}-{n.value}" for n in svc.networks), \
        f"{urn}: networks differ from the model"
    for net in got.get("networksAdvanced", []):
        assert net.get("aliases") == [svc.name], f"{urn}: DNS alias on {net['name']}"


def test_data_stores_only_on_backend(dev_recording, dev_platform, dev_data_store):
    got = inputs(dev_recording, dev_platform, dev_data_store)
    urn = container(dev_recording, dev_platform, dev_data_store).urn
    assert [n["name"] for n in got["networksAdvanced"]] == [f"{dev_platform.name}-backend"], \
        f"{urn}: a database/cache/broker is reachable outside the backend network"


def test_only_traefik_publishes_ports(dev_recording, dev_platform, dev_service):
    got = inputs(dev_recording, dev_platform, dev_service)
    urn = container(dev_recording, dev_platform, dev_service).urn
    assert not got.get("publishAllPorts"), f"{urn}: publishes all ports"
    if dev_service == "traefik":
        assert sorted((p["internal"], p["external"]) for p in got["ports"]) == \
            [(80, 80), (443, 443)], f"{urn}: the edge must publish exactly 80 and 443"
    else:
        assert not got.get("ports"), f"{urn}: publishes ports; only Traefik may"


def test_secrets_are_files_never_env_values(dev_recording, dev_platform, dev_service):
    svc = dev_platform.service(dev_service)
    got = inputs(dev_recording, dev_platform, dev_service)
    urn = container(dev_recording, dev_platform, dev_service).urn
    uploads = {u["file"]: u for u in got.get("uploads", [])}
    raw_envs = got.get("envs", [])
    assert isinstance(raw_envs, list) and REDACTED not in raw_envs, \
        f"{urn}: a secret value is in the environment"
    envs = dict(e.split("=", 1) for e in raw_envs)
    # The environment is exactly the catalog's plain settings plus secret *file paths*.
    assert sorted(raw_envs) == sorted([f"{k}={v}" for k, v in svc.environment]
                                      + target.secret_env(svc.secrets)), \
        f"{urn}: environment differs from the model"
    for ref in svc.secrets:
        assert ref.file in uploads, f"{urn}: secret {ref.name} is not delivered as a file"
        assert uploads[ref.file]["content"] == REDACTED, f"{urn}: {ref.name} is not secret"
        assert ref.name not in envs, f"{urn}: {ref.name} is set as an environment variable"
        assert ref.file.startswith("/run/secrets/"), f"{urn}: {ref.name} outside /run/secrets"
        if ref.env:
            assert envs.get(ref.env) == ref.file, f"{urn}: {ref.env} does not name the file"
        if ref.kind in DUAL_VERSION_KINDS:
            assert uploads[ref.file + "_previous"]["content"] == REDACTED, \
                f"{urn}: {ref.name} has no previous version file (rotation)"
        if svc.security.user is not None:
            assert uploads[ref.file]["permissions"] == "0400", f"{urn}: {ref.file} mode"
    for name, value in envs.items():
        assert "render-placeholder" not in value, f"{urn}: env {name} carries a secret value"
        if value.startswith("/run/secrets/"):  # a delivered file, or the directory of one
            assert any(f == value or f.startswith(value.rstrip("/") + "/") for f in uploads), \
                f"{urn}: {name} points at {value}, which is not delivered"


def test_entrypoint_and_command_follow_the_model(dev_recording, dev_platform, dev_service):
    svc = dev_platform.service(dev_service)
    got = inputs(dev_recording, dev_platform, dev_service)
    urn = container(dev_recording, dev_platform, dev_service).urn
    assert got.get("entrypoints") == (list(svc.entrypoint) or None), f"{urn}: entrypoint"
    # the model's command, plus PostgreSQL's WAL archiving from the backup policy
    extra = backups.command_arguments(dev_platform, backups.load_policy()).get(svc.name, ())
    assert got.get("command") == ([*svc.command, *extra] or None), f"{urn}: command"


ES_EXPORTER = "elasticsearch-exporter"


def _run_entrypoint(got: dict[str, Any], tmp_path, secret: str | None) -> tuple[int, str, str]:
    """Run the container's recorded entrypoint and command with this machine's /bin/sh (the
    image's is busybox ash; the script uses POSIX sh only). The program (`$0`) is a stand-in
    that writes what it was given; the secret file is a temporary file."""
    import os
    import subprocess

    entrypoint, command = got["entrypoints"], got["command"]
    assert entrypoint[:2] == ["/bin/sh", "-c"] and len(entrypoint) == 4, entrypoint
    seen = tmp_path / "seen"
    program = tmp_path / "elasticsearch_exporter"
    program.write_text('#!/bin/sh\nprintf "%s\\n" "$ES_PASSWORD" "$@" > "$SEEN"\n')
    program.chmod(0o755)
    env = dict(e.split("=", 1) for e in got["envs"])
    secret_file = tmp_path / "elastic_password"
    if secret is not None:
        secret_file.write_text(secret)
    env.update(ES_PASSWORD_FILE=str(secret_file), SEEN=str(seen), PATH=os.environ["PATH"])
    done = subprocess.run(["/bin/sh", "-c", entrypoint[2], str(program), *command], env=env,
                          capture_output=True, text=True, timeout=30, check=False)
    return done.returncode, seen.read_text() if seen.exists() else "", done.stderr


def test_elasticsearch_exporter_reads_its_password_from_the_file(
        dev_recording, dev_platform, tmp_path):
    svc = dev_platform.service(ES_EXPORTER)
    got = inputs(dev_recording, dev_platform, ES_EXPORTER)
    urn = container(dev_recording, dev_platform, ES_EXPORTER).urn
    (ref,) = svc.secrets
    envs = dict(e.split("=", 1) for e in got["envs"])
    # The spec carries the file's path only; the value is an upload marked secret.
    assert "ES_PASSWORD" not in envs and envs["ES_PASSWORD_FILE"] == ref.file, \
        f"{urn}: {sorted(envs)}"
    uploads = {u["file"]: u for u in got["uploads"]}
    assert uploads[ref.file]["content"] == REDACTED, f"{urn}: password file not secret"
    assert uploads[ref.file]["owner"] == svc.security.user.split(":")[0], urn
    # The image's entrypoint is the binary; the override runs the same binary through sh.
    assert got["entrypoints"][0] == "/bin/sh" and \
        got["entrypoints"][-1] == "/bin/elasticsearch_exporter", f"{urn}: {got['entrypoints']}"
    assert "render-placeholder" not in json.dumps(got["entrypoints"] + got["command"]), urn

    value = "fake-from-vault"  # noqa: S105 - a stand-in value for the temporary file
    code, seen, stderr = _run_entrypoint(got, tmp_path, value + "\n")
    assert code == 0, stderr
    exported, *args = seen.splitlines()
    assert exported == value, f"{urn}: ES_PASSWORD not exported from the file"
    assert args == list(svc.command), f"{urn}: the binary did not get its arguments"


@pytest.mark.parametrize("secret", [None, ""], ids=["missing-file", "empty-file"])
def test_elasticsearch_exporter_refuses_to_start_without_its_password(
        dev_recording, dev_platform, tmp_path, secret):
    got = inputs(dev_recording, dev_platform, ES_EXPORTER)
    code, seen, stderr = _run_entrypoint(got, tmp_path, secret)
    assert code != 0 and seen == "", "the exporter started without a password"
    assert "elastic_password" in stderr, stderr


def test_uploads_land_on_volumes(dev_recording, dev_platform, dev_service):
    # Docker refuses `cp` into a read-only root outside volumes: every upload needs one.
    got = inputs(dev_recording, dev_platform, dev_service)
    urn = container(dev_recording, dev_platform, dev_service).urn
    mounted = [v["containerPath"] for v in got.get("volumes", [])]
    for upload in got.get("uploads", []):
        assert any(upload["file"].startswith(m.rstrip("/") + "/") for m in mounted), \
            f"{urn}: {upload['file']} is not on a volume"


# -- platform-wide -------------------------------------------------------------------------


def test_backend_network_is_internal(dev_recording, dev_platform):
    nets = {r.inputs["name"]: r for r in dev_recording.of_type(NETWORK)}
    backend = nets[f"{dev_platform.name}-backend"]
    edge = nets[f"{dev_platform.name}-edge"]
    assert backend.inputs.get("internal") is True, f"{backend.urn}: backend must be internal"
    assert edge.inputs.get("internal") is False, f"{edge.urn}: edge must route out"
    assert len(nets) == 2, f"unexpected networks: {sorted(nets)}"


VOLUME_INIT = {"label": "rampart.role", "value": "volume-init"}


def test_every_service_has_one_container(dev_recording, dev_platform):
    # one-shot volume inits (checked below) are not services
    names = sorted(r.name for r in dev_recording.of_type(CONTAINER)
                   if VOLUME_INIT not in r.inputs.get("labels", []))
    assert names == sorted(f"{dev_platform.name}-{s.name}-container"
                           for s in dev_platform.services)


def test_dependencies_start_first(dev_recording, dev_platform):
    for svc in dev_platform.services:
        got = container(dev_recording, dev_platform, svc.name)
        for dep in svc.depends_on:
            dep_urn = container(dev_recording, dev_platform, dep).urn
            assert dep_urn in got.dependencies, f"{got.urn}: does not wait for {dep}"


def test_named_volumes_are_shared_by_name(dev_recording, dev_platform):
    declared = {v.name for s in dev_platform.services for v in s.volumes if v.host_path is None}
    created = {r.inputs["name"] for r in dev_recording.of_type(VOLUME)}
    for name in declared:
        assert f"{dev_platform.name}-{name}" in created, f"volume {name} was not created"


def _mode_bits(command: str, path: str) -> int:
    """The octal mode an init's script gives `path` (`... chmod 0755 <path> ...`)."""
    words = command.split()
    index = next(i for i, w in enumerate(words) if w == "chmod" and words[i + 2] == path)
    return int(words[index + 1], 8)


def test_backup_metrics_volume_is_handed_to_its_writer(dev_recording, dev_platform):
    """pg-backup (uid 999) writes rampart_backup.prom into `backup-metrics`; node-exporter
    (uid 65534) reads it read-only. Docker creates the fresh volume root-owned, so a one-shot
    init hands the directory to the writer with 0755 before either starts."""
    writer = dev_platform.service("pg-backup")
    reader = dev_platform.service("node-exporter")
    path = next(v.path for v in writer.volumes if v.name == "backup-metrics")
    assert next(v for v in reader.volumes if v.name == "backup-metrics").read_only
    init = dev_recording.get(CONTAINER, f"{dev_platform.name}-backup-metrics-init")
    got = init.inputs
    assert got["volumes"] == [{"volumeName": f"{dev_platform.name}-backup-metrics",
                               "containerPath": path}], f"{init.urn}: volume"
    assert got["entrypoints"] == ["/bin/sh", "-c"] and len(got["command"]) == 1, init.urn
    script = got["command"][0]
    assert f"chown {writer.security.user} {path} &&" in script, f"{init.urn}: owner: {script}"
    mode = _mode_bits(script, path)
    assert mode == 0o755, f"{init.urn}: mode {mode:o}"
    # The reader is neither the owner nor in its group: it needs the "other" r and x bits,
    # and must not be able to write.
    assert reader.security.user is not None
    assert reader.security.user.split(":")[0] != writer.security.user.split(":")[0]
    assert mode & 0o005 == 0o005 and not mode & 0o022, f"{init.urn}: {mode:o}"
    assert got["user"] == "0:0" and got["capabilities"] == {"drops": ["ALL"],
                                                            "adds": ["CHOWN", "FOWNER"]}
    assert got["networkMode"] == "none" and got["readOnly"] is True, init.urn
    assert got["attach"] is True and got["restart"] == "no", f"{init.urn}: not a one-shot"
    labels = {item["label"]: item["value"] for item in got["labels"]}
    assert labels["rampart.role"] == "volume-init", init.urn
    image = dev_recording.get(IMAGE, f"{dev_platform.name}-backup-metrics-init-image")
    assert image.inputs["name"] == writer.image.ref, f"{init.urn}: not the writer's image"
    for svc in (writer, reader):
        c = container(dev_recording, dev_platform, svc.name)
        assert init.urn in c.dependencies, f"{c.urn}: starts before the volume is handed over"


def test_only_hand_off_and_shared_volumes_get_an_init(dev_recording, dev_platform):
    """Private data volumes keep what the image gives them (PGDATA is read by pg-backup as the
    same uid); the dev stack (self-signed edge) has no ACME store to prepare. Volumes that
    postgres and pg-backup both write (socket directory, WAL spool) go to uid 999."""
    inits = sorted(c.name for c in dev_recording.of_type(CONTAINER)
                   if VOLUME_INIT in c.inputs.get("labels", []))
    assert inits == [f"{dev_platform.name}-{v}-init"
                     for v in ("backup-metrics", "postgres-run", "postgres-wal-spool")]
    assert [h.volume for h in target.hand_off_volumes(dev_platform.services)] == \
        ["backup-metrics"]
    assert [v.volume for v in target.shared_volumes(dev_platform.services)] == \
        ["postgres-run", "postgres-wal-spool"]


def test_wal_spool_is_shared_and_private_to_the_database_user(dev_recording, dev_platform):
    init = dev_recording.get(CONTAINER, f"{dev_platform.name}-postgres-wal-spool-init")
    path = init.inputs["volumes"][0]["containerPath"]
    assert init.inputs["volumes"][0]["volumeName"] == f"{dev_platform.name}-postgres-wal-spool"
    script = init.inputs["command"][0]
    assert f"chown 999:999 {path} &&" in script and _mode_bits(script, path) == 0o700, script
    for name in ("postgres", "pg-backup"):
        c = container(dev_recording, dev_platform, name)
        mounts = {v["containerPath"]: v for v in c.inputs["volumes"]}
        assert mounts[path]["volumeName"] == f"{dev_platform.name}-postgres-wal-spool", c.urn
        assert not mounts[path].get("readOnly"), f"{c.urn}: spool mounted read-only"
        assert init.urn in c.dependencies, f"{c.urn}: starts before the spool is handed over"


def test_prod_keeps_the_acme_store_private_beside_the_hand_off(prod_recording):
    modes = {}
    for name in ("erp-traefik-acme-init", "erp-backup-metrics-init"):
        init = prod_recording.get(CONTAINER, name)
        path = init.inputs["volumes"][0]["containerPath"]
        modes[name] = _mode_bits(init.inputs["command"][0], path)
    assert modes == {"erp-traefik-acme-init": 0o700, "erp-backup-metrics-init": 0o755}


def test_prod_pulls_every_image_by_digest(prod_recording):
    for image in prod_recording.of_type(IMAGE):
        assert "@sha256:" in image.inputs["name"], f"{image.urn}: prod image without digest"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_no_container_escapes_the_baseline(stack, dev_recording, prod_recording):
    """Every container of a stack, one-shot helpers included: never privileged, never on the
    host network, all capabilities dropped, no-new-privileges, log limits, ports only on the
    edge, no secret in environment, labels or command."""
    rec = dev_recording if stack == "dev" else prod_recording
    for c in rec.of_type(CONTAINER):
        got = c.inputs
        assert got.get("privileged") is False, f"{c.urn}: privileged"
        assert got.get("networkMode") in (None, "none"), f"{c.urn}: {got.get('networkMode')}"
        assert got["capabilities"]["drops"] == ["ALL"], f"{c.urn}: capabilities"
        assert "no-new-privileges:true" in got["securityOpts"], f"{c.urn}: no-new-privileges"
        assert got["logOpts"] == {"max-size": "10m", "max-file": "3"}, f"{c.urn}: log limits"
        if c.name != "erp-traefik-container":
            assert not got.get("ports"), f"{c.urn}: publishes ports"
        for key in ("envs", "labels", "command", "entrypoints"):
            assert REDACTED not in json.dumps(got.get(key, [])), f"{c.urn}: secret in {key}"


# -- small platform: secrets provider behaviour ---------------------------------------------


class DictProvider:
    """Known values, wrapped as secrets like the Vault provider does (no Vault in this tier)."""

    def __init__(self, values: dict[tuple[str, str], str]) -> None:
        self.values = values
        self.asked: list[tuple[str, str]] = []

    def get(self, service: str, name: str) -> pulumi.Output[str]:
        self.asked.append((service, name))
        return pulumi.Output.secret(self.values[(service, name.removesuffix("_previous"))])


def test_secret_values_never_reach_the_recording(small, record_platform):
    values = {("postgres", "POSTGRES_PASSWORD"): "pg-value-9f2c",
              ("auth", "JWT_SECRET"): "jwt-value-77aa",
              ("grafana", "GRAFANA_ADMIN_PASSWORD"): "gf-value-1b3d",
              ("traefik", "TRAEFIK_ADMIN_HTPASSWD"): "admin:$2y$05$hash-value-c0de"}
    provider = DictProvider(values)
    rec = record_platform(small, secrets=provider)
    dumped = json.dumps([r.inputs for r in rec])
    for key, value in values.items():
        assert value not in dumped, f"{key}: value leaked into the recorded inputs"
    assert dumped.count(REDACTED) >= len(values), "secret uploads are not marked secret"
    # Shared secrets are asked of their owner; signing keys also for the previous version.
    assert ("postgres", "POSTGRES_PASSWORD") in provider.asked
    assert ("auth", "POSTGRES_PASSWORD") not in provider.asked
    assert ("auth", "JWT_SECRET_previous") in provider.asked


def test_upload_dirs_cover_every_file():
    assert target.upload_dirs(["/run/secrets/a", "/etc/traefik/traefik.yml",
                               "/etc/traefik/dynamic/edge.yml", "/run/secrets/b"]) == \
        ["/etc/traefik", "/run/secrets"]


def test_small_platform_places_services_on_model_networks(small, record_platform):
    rec = record_platform(small)
    for svc in small.services:
        got = rec.get(CONTAINER, f"erp-{svc.name}-container").inputs
        assert sorted(n["name"] for n in got["networksAdvanced"]) == \
            sorted(f"erp-{n.value}" for n in svc.networks), svc.name
    assert small.service("postgres").networks == (Network.BACKEND,)


def test_monitoring_configuration_is_uploaded(dev_recording, dev_platform):
    from infra import observability
    from infra import stack as config

    settings = config.load("dev").observability
    expected = observability.container_files(observability.build_files(dev_platform, settings))
    assert expected["prometheus"], "observability produced no Prometheus files"
    for service, files in expected.items():
        got = container(dev_recording, dev_platform, service)
        uploads = {u["file"]: u for u in got.inputs.get("uploads", [])}
        for path, content in files.items():
            assert path in uploads, f"{got.urn}: {path} not uploaded"
            assert uploads[path]["content"] == content, f"{got.urn}: {path} differs"
            assert uploads[path]["permissions"] == "0444", f"{got.urn}: {path} mode"
    prometheus = container(dev_recording, dev_platform, "prometheus").inputs
    assert "--config.file=/etc/prometheus/prometheus.yml" in prometheus["command"]


def test_configuration_for_an_unknown_service_is_refused(small):
    from infra.secrets.provider import RenderSecretsProvider

    with pytest.raises(ValueError, match="'prometheus', which the catalog does not deploy"):
        record_platform_files(small, {"prometheus": {"/etc/prometheus/prometheus.yml": "x"}},
                              RenderSecretsProvider())


def record_platform_files(platform, files, provider):
    from infra.offline.engine import run_program

    return run_program(lambda: target.deploy(platform, provider, config_files=files),
                       stack="test")


# -- backups: PostgreSQL's WAL archiving and the pg-backup job (infra/backups) ----------------


def _flags(command: list[str]) -> dict[str, str]:
    """`-c name=value` pairs of a postgres command line."""
    return dict(command[i + 1].split("=", 1) for i, a in enumerate(command) if a == "-c")


def test_postgres_archives_into_the_spool(dev_recording, dev_platform):
    policy = backups.load_policy()
    c = container(dev_recording, dev_platform, "postgres")
    flags = _flags(c.inputs["command"])
    spool = dict(dev_platform.service("pg-backup").environment)["RAMPART_WAL_SPOOL"]
    assert flags["archive_mode"] == "on", c.urn
    assert flags["archive_timeout"] == str(policy.archive_timeout_s) == "60", c.urn
    assert flags["archive_command"] == backups.archive_command(spool), c.urn
    assert f"{spool}/%f" in flags["archive_command"] and "sync" in flags["archive_command"]
    # pgBackRest's backup refuses an archive_command that does not name it
    assert "pgbackrest" in flags["archive_command"]
    # the model's own settings stay in front
    assert flags["password_encryption"] == "scram-sha-256", c.urn  # noqa: S105 - a method


def test_backup_job_gets_its_script_and_the_policy(dev_recording, dev_platform):
    policy = backups.load_policy()
    c = container(dev_recording, dev_platform, "pg-backup")
    uploads = {u["file"]: u for u in c.inputs["uploads"]}
    script = uploads[backups.SCRIPT_PATH]
    assert script["content"] == backups.SCRIPT.read_text(encoding="utf-8"), c.urn
    assert script["permissions"] == "0444", c.urn
    assert c.inputs["command"] == ["sh", backups.SCRIPT_PATH], c.urn
    env = uploads[backups.POLICY_PATH]["content"]
    assert env == backups.policy_env(policy, "pg-backup"), c.urn
    for line in ("export PGBACKREST_REPO1_RETENTION_FULL_TYPE='time'",
                 f"export PGBACKREST_REPO1_RETENTION_FULL='{policy.retention_full_days}'",
                 "export RAMPART_FULL_HOURS='1'", "export RAMPART_FULL_MINUTE='0'",
                 "export RAMPART_INCR_HOURS='0 6 12 18'", "export RAMPART_INCR_MINUTE='30'",
                 f"export RAMPART_RETRY_DELAY_S='{policy.retry_delay_s}'",
                 "export PGBACKREST_REPO1_CIPHER_TYPE='aes-256-cbc'"):
        assert line in env, f"{c.urn}: {line}"
    envs = dict(e.split("=", 1) for e in c.inputs["envs"])
    assert envs["PGBACKREST_REPO1_S3_ENDPOINT"] == "http://minio:9000"
    assert envs["PGBACKREST_REPO1_S3_URI_STYLE"] == "path" and envs["TZ"] == "UTC"


@pytest.mark.parametrize("name, path", [
    ("REPO_CIPHER_PASS", "/run/secrets/repo_cipher_pass"),
    ("BACKUP_S3_SECRET_KEY", "/run/secrets/backup_s3_secret_key"),
])
def test_backup_secrets_are_files_not_values(dev_recording, dev_platform, name, path):
    """The repository passphrase and the S3 secret key are uploaded from the provider as
    secret files owned by the job's user; the environment holds only their paths, and no
    PGBACKREST_* variable carries a value (the script exports them at start)."""
    c = container(dev_recording, dev_platform, "pg-backup")
    uploads = {u["file"]: u for u in c.inputs["uploads"]}
    assert uploads[path]["content"] == REDACTED, f"{c.urn}: {path} not a secret upload"
    assert uploads[path]["permissions"] == "0400" and uploads[path]["owner"] == "999", c.urn
    envs = dict(e.split("=", 1) for e in c.inputs["envs"])
    assert envs[f"{name}_FILE"] == path, c.urn
    for key in ("PGBACKREST_REPO1_CIPHER_PASS", "PGBACKREST_REPO1_S3_KEY_SECRET",
                "PGBACKREST_REPO1_S3_KEY"):
        assert key not in envs, f"{c.urn}: {key} in the container's environment"


def test_backup_secret_lives_where_the_role_reads_it(dev_platform):
    """secret/<stack>/pg-backup/repo_cipher_pass: the Docker target's passphrase and the
    role's Vault lookup (pgbackrest_vault_path under pgbackrest_vault_stack) are one secret."""
    import yaml

    from infra.secrets.plan import secret_specs

    defaults = yaml.safe_load(backups.ROLE_DEFAULTS.read_text(encoding="utf-8"))
    spec = next(s for s in secret_specs(dev_platform) if s.name == "REPO_CIPHER_PASS")
    assert spec.path("dev") == f"dev/{defaults['pgbackrest_vault_path']}"
    assert defaults["pgbackrest_vault_mount"] == "secret"
