"""Rampart's Pulumi program: read stack config, build the model, hand it to the target.

Kept thin on purpose; `rampart render` runs this very file under a recording mock engine.
Everything that can refuse the stack (catalog, stack settings, edge, every secret read and
checked in Vault) runs before the target declares its first resource.
"""

import pulumi

from infra import backups, config, observability
from infra.model import DEFAULT_CATALOG, build_platform
from infra.model.errors import ValidationError
from infra.secrets import provider
from infra.secrets.errors import SecretsError
from infra.targets import docker
from infra.traefik import EdgeConfigError

# Targets by the name stack config uses (`rampart:target`); kubernetes joins later.
TARGETS = {"docker": docker.deploy}

try:
    stack = config.load()
    if stack.target not in TARGETS:
        raise ValidationError(stack.source, f"target '{stack.target}' is not built yet "
                              f"(available: {', '.join(sorted(TARGETS))})",
                              field="rampart:target")
    platform = build_platform(stack.catalog or DEFAULT_CATALOG, stack.settings,
                              settings_source=stack.source)
    # Prometheus, Alertmanager and Grafana configuration generated from the same model.
    monitoring = observability.settings_from_stack(stack.settings, stack.source)
    # The backup policy of the pgbackrest role (its defaults file), for the Docker target's
    # backup job and PostgreSQL's WAL archiving.
    backup_policy = backups.load_policy()
    secrets = provider.for_stack(platform, stack.stack, stack.secrets_settings)
    config_files = observability.container_files(observability.build_files(platform,
                                                                            monitoring))
    for service, files in backups.container_files(platform, backup_policy).items():
        config_files[service] = {**config_files.get(service, {}), **files}
    TARGETS[stack.target](
        platform,
        secrets,
        config_files=config_files,
        secret_files={"alertmanager": observability.secret_files(monitoring)},
        command_arguments=backups.command_arguments(platform, backup_policy),
    )
except (ValidationError, EdgeConfigError, SecretsError) as exc:
    # RunError is the SDK's clean exit: `pulumi up` prints this one line, not a traceback.
    # `rampart render` unwraps it and handles the original error (exit 2).
    raise pulumi.RunError(str(exc)) from exc
