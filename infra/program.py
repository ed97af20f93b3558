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

from collections.abc import Callable
from typing import Any

from infra import backups, observability
from infra.edge.traefik import EdgeConfigError
from infra.model import build_platform
from infra.model.errors import ValidationError
from infra.model.types import Platform
from infra.secrets import provider
from infra.secrets.errors import SecretsError
from infra.stack import Stack
from infra.targets import docker

# Targets by the name stack config uses (`rampart:target`).
TARGETS: dict[str, Callable[..., Any]] = {"docker": docker.deploy}
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
    # backup job and PostgreSQL's WAL archiving.
    backup_policy = backups.load_policy()
    if secrets is None:
        secrets = provider.for_stack(platform, stack.name, stack.secrets)
    # Prometheus, Alertmanager and Grafana configuration generated from the same model.
    config_files = observability.container_files(
        observability.build_files(platform, stack.observability))
    for service, files in backups.container_files(platform, backup_policy).items():
        config_files[service] = {**config_files.get(service, {}), **files}
    return TARGETS[stack.target](
        platform,
        secrets,
        config_files=config_files,
        secret_files={"alertmanager": observability.secret_files(stack.observability)},
        command_arguments=backups.command_arguments(platform, backup_policy),
    )
