"""The program: one `Stack` in, the platform's resources declared by its target.

`__main__.py` (what `pulumi up`/`preview` run) calls `run(stack.from_engine())`; the offline
engine (`rampart render`, `rampart policy check`, tests, benchmarks) calls the same `run` under
its recording engine with its stand-in secrets provider. Everything that can refuse the stack
(the catalog, the settings, the edge, every secret read and checked in Vault) runs before the
target declares its first resource.

May import: the model, the edge, observability, backups, secrets and the targets; imported by
`__main__.py`, infra.offline and the demo.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from infra import backups, observability
from infra.edge.traefik import EdgeConfigError
from infra.model import build_platform
from infra.model.errors import ValidationError
from infra.model.types import Platform
from infra.observability.rules import CNPG as CNPG_BACKUPS
from infra.observability.rules import PGBACKREST as PGBACKREST_BACKUPS
from infra.secrets import provider
from infra.secrets.errors import SecretsError
from infra.secrets.vault import DEFAULT_MOUNT
from infra.stack import Stack
from infra.targets import docker

CNPG_IMAGE = "cnpg-postgres"  # the versions file's pin of the Kubernetes target's PostgreSQL
# What `run` raises for a stack that must not be deployed (one line each; exit code 2 or 3).
REFUSALS = (ValidationError, EdgeConfigError, SecretsError)


def platform_of(stack: Stack) -> Platform:
    """The validated model of the stack's catalog under its settings."""
    try:
        return build_platform(stack.catalog, stack.model, settings_source=stack.source)
    except ValidationError as exc:
        raise stack.located(exc) from None


def run(stack: Stack, secrets: provider.SecretsProvider | None = None) -> Any:
    """Declare the stack's resources with its target; `secrets` defaults to the stack's Vault
    (every secret read and checked before the first resource)."""
    if stack.target not in TARGETS:
        raise ValidationError(stack.source, f"target '{stack.target}' is not built yet "
                              f"(available: {', '.join(sorted(TARGETS))})",
                              field="rampart:target")
    platform = platform_of(stack)
    # The backup policy of the pgbackrest role (its defaults file), for the Docker target's
    # backup job, PostgreSQL's WAL archiving and the Kubernetes operator's backups.
    backup_policy = backups.load_policy()
    target = TARGETS[stack.target]
    # What the target needs besides secrets, made once; its refusals come before Vault is read.
    prepared = target.prepare(stack, platform, backup_policy)
    if secrets is None:
        secrets = provider.for_stack(platform, stack.name, stack.secrets)
    return target.deploy(platform, secrets, prepared)


class _Docker:
    @staticmethod
    def prepare(stack: Stack, platform: Platform,
                backup_policy: backups.BackupPolicy) -> dict[str, Any]:
        # Prometheus, Alertmanager and Grafana configuration generated from the same model.
        config_files = observability.container_files(
            observability.build_files(platform, stack.observability))
        for service, files in backups.container_files(platform, backup_policy).items():
            config_files[service] = {**config_files.get(service, {}), **files}
        return {
            "config_files": config_files,
            "secret_files": {"alertmanager": observability.secret_files(stack.observability)},
            "command_arguments": backups.command_arguments(platform, backup_policy),
        }

    @staticmethod
    def deploy(platform: Platform, secrets: provider.SecretsProvider,
               prepared: dict[str, Any]) -> Any:
        return docker.deploy(platform, secrets, **prepared)


class _Kubernetes:
    @staticmethod
    def prepare(stack: Stack, platform: Platform,
                backup_policy: backups.BackupPolicy) -> tuple[Any, Any]:
        # Imported here: a Docker stack never loads pulumi-kubernetes.
        from infra.targets.kubernetes import platform as cluster

        try:
            inputs = _kubernetes_inputs(stack, platform, backup_policy)
            return inputs, cluster.plan(platform, inputs)
        except ValidationError as exc:
            raise stack.located(exc) from None

    @staticmethod
    def deploy(platform: Platform, secrets: provider.SecretsProvider,
               prepared: tuple[Any, Any]) -> Any:
        from infra.targets.kubernetes import platform as cluster

        inputs, plan = prepared
        return cluster.deploy(platform, secrets, inputs, plan)


def _kubernetes_inputs(stack: Stack, platform: Platform,
                       policy: backups.BackupPolicy) -> Any:
    """What the Kubernetes target needs besides the model, from the owners of each part."""
    from infra.targets.kubernetes.monitoring import Monitoring, Scrape
    from infra.targets.kubernetes.platform import KubernetesInputs
    from infra.targets.kubernetes.postgres import BackupPlan

    settings = stack.kubernetes
    assert settings is not None  # the stack reader requires the block for this target
    server = settings.vault_server or stack.secrets.addr
    if not server:
        raise ValidationError(stack.source, "the kubernetes target needs the address pods "
                              "reach Vault at: set rampart:kubernetes.vaultServer (or "
                              "rampart:vaultAddr)", field="rampart:kubernetes.vaultServer")
    obs = stack.observability
    files = observability.build_files(platform, obs)
    containers = observability.container_files(files)
    jobs = backups.pgbackrest_jobs(platform)
    # Monitoring sees the services that run here: the backup job is the operator's on this
    # target (its figures come from CloudNativePG's exporter), omitted services are elsewhere.
    gone = {name for name, _ in settings.omit} | {j.job.name for j in jobs}
    running = replace(platform, services=tuple(
        replace(s, backup=None) if s.backup in gone else s
        for s in platform.services if s.name not in gone))
    scrapes = []
    for t in observability.scrape_targets(running, obs):
        for address in t.addresses:
            host, _, port = address.rpartition(":")
            if host and port.isdigit():
                scrapes.append(Scrape(t.job, t.service, t.tier, host, int(port),
                                      t.metrics_path))
    groups: list[Any] = []
    for rule_file in observability.rule_files(running, obs, backups=CNPG_BACKUPS if jobs
                                              else PGBACKREST_BACKUPS):
        groups += observability.rule_file_document(rule_file, obs)["groups"]
    monitoring = Monitoring(
        scrapes=tuple(scrapes), rule_groups=tuple(groups),
        alertmanager_config=files["alertmanager/alertmanager.yml"],
        grafana_files=containers.get("grafana", {}),
        scrape_interval_s=obs.scrape_interval, evaluation_interval_s=obs.evaluation_interval)
    config_files: dict[str, dict[str, str]] = {"grafana": dict(containers.get("grafana", {}))}
    plan = None
    job = database = None
    if jobs:
        j = jobs[0]
        job, database = j.job.name, j.database.name
        pins = dict(platform.pins)
        image = pins.get(CNPG_IMAGE)
        if image is None or (platform.require_digests and not image.digest):
            raise ValidationError(platform.versions_source, "the kubernetes target runs "
                                  f"{database} under CloudNativePG: pin its operand image "
                                  f"'{CNPG_IMAGE}' (with a digest for this stack)",
                                  field=f"images.{CNPG_IMAGE}")
        env = dict(j.job.environment)
        secret = next(r for r in j.job.secrets if r.env == "BACKUP_S3_SECRET_KEY_FILE")
        repository = j.repository
        schedule = policy.incremental
        plan = BackupPlan(
            image=image.ref, archive_timeout_s=policy.archive_timeout_s,
            retention_days=policy.retention_full_days,
            schedule=f"0 {schedule.minute} {','.join(map(str, schedule.hours))} * * *",
            endpoint=repository.endpoint if repository else env["PGBACKREST_REPO1_S3_ENDPOINT"],
            bucket=repository.bucket if repository else env["PGBACKREST_REPO1_S3_BUCKET"],
            prefix=repository.prefix if repository else "",
            access_key=repository.user if repository else env["BACKUP_S3_ACCESS_KEY_ID"],
            secret_owner=secret.shared_from or j.job.name, secret_name=secret.name)
        for service, content in backups.container_files(platform, policy).items():
            if service != job:
                config_files[service] = {**config_files.get(service, {}), **content}
    return KubernetesInputs(
        stack=stack.name, settings=settings, vault_server=server,
        vault_mount=stack.secrets.mount or os.environ.get("RAMPART_VAULT_MOUNT") or DEFAULT_MOUNT,
        config_files=config_files,
        secret_files={"alertmanager": observability.secret_files(obs)},
        monitoring=monitoring, backup=plan, backup_job=job, database=database,
        stack_source=stack.source, vault_ca=_vault_ca(stack))


MAX_CA_BYTES = 64 * 1024


def _vault_ca(stack: Stack) -> str | None:
    """The PEM of rampart:kubernetes.vaultCaFile (relative to the project), checked to hold
    certificates only: it is embedded in every SecretStore."""
    settings = stack.kubernetes
    if settings is None or settings.vault_ca_file is None:
        return None
    path = Path(settings.vault_ca_file)
    path = path if path.is_absolute() else stack.project_dir / path
    field = "rampart:kubernetes.vaultCaFile"
    try:
        data = path.read_bytes()[: MAX_CA_BYTES + 1]
    except OSError as exc:
        raise ValidationError(stack.source, f"cannot read '{settings.vault_ca_file}': "
                              f"{exc.strerror or exc}", field=field) from None
    text = data.decode("ascii", errors="replace")
    blocks = text.count("-----BEGIN ")
    if len(data) > MAX_CA_BYTES or blocks == 0 or blocks != text.count(
            "-----BEGIN CERTIFICATE-----"):
        raise ValidationError(stack.source, f"'{settings.vault_ca_file}' must hold PEM "
                              "certificates only (the CA of Vault's certificate; never a "
                              "key)", field=field)
    return text


# Targets by the name stack config uses (`rampart:target`).
TARGETS: dict[str, Any] = {"docker": _Docker, "kubernetes": _Kubernetes}
