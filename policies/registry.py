"""Every rule of the pack, in report order. Adding a rule = one module + one line here."""

from __future__ import annotations

from policies.core import Rule
from policies.credentials import no_literal_secret_args, no_literal_secret_env
from policies.images import image_digest, image_pinned
from policies.isolation import (
    capabilities_dropped,
    container_non_root,
    no_host_mounts,
    no_host_namespaces,
    no_new_privileges,
    no_privileged,
    read_only_root,
    run_as_non_root,
    seccomp_profile,
)
from policies.meta import waivers
from policies.network import edge_only_ports
from policies.operations import log_limits, restart_policy
from policies.resources import health_checks, limits_set
from policies.stack import (
    alerts_have_runbooks,
    backups_declared,
    default_deny,
    pdb,
    pod_security_namespace,
    prometheus_scrapes,
    service_account_token,
)
from policies.traefik import (
    allowlist_bounded,
    cors_https,
    cors_not_wildcard,
    http_redirects,
    no_insecure_api,
    routers_hardened,
    tls_minimum,
)

RULES: tuple[Rule, ...] = (
    image_pinned.RULE,
    image_digest.RULE,
    limits_set.RULE,
    health_checks.RULE,
    no_privileged.RULE,
    no_host_namespaces.RULE,
    no_host_mounts.RULE,
    capabilities_dropped.RULE,
    no_new_privileges.RULE,
    seccomp_profile.RULE,
    run_as_non_root.RULE,
    container_non_root.RULE,
    container_non_root.ADVISORY_RULE,
    read_only_root.RULE,
    read_only_root.ADVISORY_RULE,
    no_literal_secret_env.RULE,
    no_literal_secret_args.RULE,
    edge_only_ports.RULE,
    no_insecure_api.RULE,
    routers_hardened.RULE,
    http_redirects.RULE,
    tls_minimum.RULE,
    cors_not_wildcard.RULE,
    cors_https.RULE,
    allowlist_bounded.RULE,
    log_limits.RULE,
    restart_policy.RULE,
    backups_declared.RULE,
    prometheus_scrapes.RULE,
    alerts_have_runbooks.RULE,
    default_deny.RULE,
    pod_security_namespace.RULE,
    service_account_token.RULE,
    pdb.RULE,
    waivers.VALID_RULE,
    waivers.IN_FORCE_RULE,
)


def rule_names() -> frozenset[str]:
    return frozenset(r.name for r in RULES)


def rule(name: str) -> Rule:
    for r in RULES:
        if r.name == name:
            return r
    raise KeyError(name)
