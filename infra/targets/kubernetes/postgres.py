"""PostgreSQL as a CloudNativePG `Cluster`: continuous WAL archiving and base backups to the
platform's object store with Barman Cloud, a ScheduledBackup on the backup policy's rhythm,
retention by time, and `archive_timeout` from the same policy as the Docker target (so the RPO
figure is the same: archive_timeout plus one upload).

On this target the operator does what the catalog's backup job (pg-backup) does on Docker and
on VMs, with the job's object-store credentials; the job itself is not run.

May import: infra.model and this package's objects and workloads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from infra.model.types import Platform, Service
from infra.targets.kubernetes.objects import CNPG, labels, metadata
from infra.targets.kubernetes.workloads import resources

SUPERUSER_SECRET = "postgres-superuser"  # noqa: S105 - a Secret's name
S3_SECRET = "postgres-backup-s3"  # noqa: S105 - a Secret's name
ACCESS_KEY = "ACCESS_KEY_ID"
SECRET_KEY = "ACCESS_SECRET_KEY"  # noqa: S105 - a key name
CLUSTER_LABEL = "cnpg.io/cluster"
PRIMARY_LABEL = "cnpg.io/instanceRole"
STATUS_PORT = 8000  # the instance manager's status endpoint, which the operator polls
METRICS_PORT = 9187  # the instance manager's exporter
METRICS_PORT_NAME = "metrics"


@dataclass(frozen=True)
class BackupPlan:
    """What the backup policy (infra/backups, the pgbackrest role's defaults) gives the
    operator, and where the job's repository is."""

    image: str  # the CloudNativePG operand image (PostgreSQL + Barman Cloud)
    archive_timeout_s: int
    retention_days: int
    schedule: str  # six-field cron (seconds first), the incremental rhythm
    endpoint: str  # the object store as pods reach it, http://minio:9000
    bucket: str
    prefix: str  # the key prefix the job's object-store user may write
    access_key: str  # the job's object-store user (not secret)
    secret_owner: str  # the service owning the secret key in Vault (pg-backup)
    secret_name: str  # BACKUP_S3_SECRET_KEY


def parameters(svc: Service, plan: BackupPlan) -> dict[str, str]:
    """The catalog's `-c name=value` server settings, plus archive_timeout."""
    params: dict[str, str] = {}
    args = list(svc.command)
    for flag, value in zip(args, args[1:], strict=False):
        if flag == "-c" and "=" in value:
            name, _, setting = value.partition("=")
            params[name] = setting
    params["archive_timeout"] = f"{plan.archive_timeout_s}s"
    return dict(sorted(params.items()))


def database(svc: Service) -> str:
    return dict(svc.environment).get("POSTGRES_DB", "app")


def cluster(platform: Platform, svc: Service, namespace: str, plan: BackupPlan,
            storage_class: str, storage_size: str) -> tuple[str, str, dict[str, Any]]:
    db = database(svc)
    destination = f"s3://{plan.bucket}/{plan.prefix.strip('/')}/cnpg".replace("//cnpg", "/cnpg")
    return CNPG, "Cluster", {"metadata": metadata(svc.name, namespace, labels(platform, svc)),
                             "spec": {
        "instances": svc.replicas,
        "imageName": plan.image,
        "enableSuperuserAccess": True,
        "superuserSecret": {"name": SUPERUSER_SECRET},
        "bootstrap": {"initdb": {"database": db, "owner": db, "dataChecksums": True}},
        "postgresql": {"parameters": parameters(svc, plan)},
        "storage": {"storageClass": storage_class, "size": storage_size},
        "resources": resources(svc),
        "primaryUpdateStrategy": "unsupervised",
        # The operator stops PostgreSQL with a smart shutdown first, then a fast one; both
        # must fit the stop grace (its smart default of 180 s would outlast it).
        "stopDelay": svc.stop_grace_s,
        "smartShutdownTimeout": svc.stop_grace_s // 2,
        "inheritedMetadata": {"labels": labels(platform, svc)},
        "backup": {
            "retentionPolicy": f"{plan.retention_days}d",
            "barmanObjectStore": {
                "destinationPath": destination,
                "endpointURL": plan.endpoint,
                "s3Credentials": {
                    "accessKeyId": {"name": S3_SECRET, "key": ACCESS_KEY},
                    "secretAccessKey": {"name": S3_SECRET, "key": SECRET_KEY}},
                "wal": {"compression": "gzip", "maxParallel": 2},
                "data": {"compression": "gzip"}}},
    }}


def scheduled_backup(platform: Platform, svc: Service, namespace: str,
                     plan: BackupPlan) -> tuple[str, str, dict[str, Any]]:
    return CNPG, "ScheduledBackup", {
        "metadata": metadata(svc.name, namespace, labels(platform, svc)), "spec": {
            "schedule": plan.schedule, "cluster": {"name": svc.name},
            "backupOwnerReference": "self", "method": "barmanObjectStore",
            "immediate": True}}


def superuser_template(svc: Service) -> dict[str, Any]:
    """ExternalSecret template: the catalog's database password as the operator's
    basic-auth superuser Secret."""
    return {"engineVersion": "v2", "type": "kubernetes.io/basic-auth",
            "data": {"username": "postgres", "password": "{{ .password }}"}}


def s3_template(plan: BackupPlan) -> dict[str, Any]:
    return {"engineVersion": "v2", "type": "Opaque",
            "data": {ACCESS_KEY: plan.access_key, SECRET_KEY: "{{ .secret }}"}}


def pod_selector(svc: Service) -> dict[str, str]:
    return {CLUSTER_LABEL: svc.name}


def primary_selector(svc: Service) -> dict[str, str]:
    return {CLUSTER_LABEL: svc.name, PRIMARY_LABEL: "primary"}
