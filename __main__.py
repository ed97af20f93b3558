"""Rampart's Pulumi program: read stack config, build the model, hand it to the target.

Kept thin on purpose; `rampart render` runs this very file under a recording mock engine.
"""

from infra import config, observability
from infra.model import DEFAULT_CATALOG, build_platform
from infra.model.errors import ValidationError
from infra.secrets import provider
from infra.targets import docker

# Targets by the name stack config uses (`rampart:target`); kubernetes joins later.
TARGETS = {"docker": docker.deploy}

stack = config.load()
if stack.target not in TARGETS:
    raise ValidationError(stack.source, f"target '{stack.target}' is not built yet "
                          f"(available: {', '.join(sorted(TARGETS))})", field="rampart:target")
platform = build_platform(stack.catalog or DEFAULT_CATALOG, stack.settings,
                          settings_source=stack.source)
# Prometheus, Alertmanager and Grafana configuration generated from the same model.
monitoring = observability.settings_from_stack(stack.settings, stack.source)
TARGETS[stack.target](
    platform,
    provider.for_stack(platform, stack.stack, stack.secrets_settings),
    config_files=observability.container_files(observability.build_files(platform, monitoring)),
    secret_files={"alertmanager": observability.secret_files(monitoring)},
)
