"""The hardened defaults, in one place (DESIGN §1 figures the platform owners set).

Targets never re-derive these: they read the values the model put on each `Service`.
"""

from __future__ import annotations

GIB = 1024**3
MIB = 1024**2

# Resource defaults per app container: limit 1 CPU / 1 GiB, reservation 0.5 CPU / 512 MiB.
CPU_LIMIT = 1.0
MEMORY_LIMIT = 1 * GIB
CPU_RESERVATION = 0.5
MEMORY_RESERVATION = 512 * MIB

# Health checks: interval 30 s, timeout 10 s, retries 3, start period 60 s.
HEALTH_INTERVAL_S = 30
HEALTH_TIMEOUT_S = 10
HEALTH_RETRIES = 3
HEALTH_START_PERIOD_S = 60

# Logs: json-file, 10 MiB x 3 files per container (bounded disk use per container).
LOG_DRIVER = "json-file"
LOG_MAX_SIZE = "10m"
LOG_MAX_FILE = 3

# Graceful shutdown: SIGTERM, then up to 30 s to drain before SIGKILL.
STOP_GRACE_S = 30

# Restart on crash and on daemon restart, but not after an operator stopped the container.
RESTART = "unless-stopped"
# A one-shot job (`one_shot` in the catalog) runs to completion when it is created (or
# replaced because its inputs changed); restarting it would loop, and the deploy reports its
# failure instead.
RESTART_ONE_SHOT = "no"

# Every capability dropped; a service lists the few it needs (`cap_add`).
CAP_DROP = ("ALL",)

# Writable path every read-only-root container gets as tmpfs (runtimes expect a /tmp).
DEFAULT_TMPFS = ("/tmp",)  # noqa: S108 - a per-container tmpfs, not a shared host /tmp

# Where targets mount secret files; `<name lower-cased>` is appended.
SECRETS_DIR = "/run/secrets"

# HTTP readiness probe for services that only declare a path: busybox/alpine `wget` exists in
# our NestJS images (node:*-alpine) and in the Prometheus-family images.
HTTP_PROBE = ("wget", "-q", "-T", "5", "-O", "/dev/null")

# Edge figures (DESIGN §1 "Edge").
RATE_AVERAGE = 100
RATE_BURST = 50
LOGIN_RATE_AVERAGE = 5
LOGIN_RATE_PERIOD_S = 15 * 60
LOGIN_RATE_BURST = 5
INFLIGHT_REQUESTS = 100
HSTS_SECONDS = 365 * 24 * 3600
MIN_TLS_VERSION = "VersionTLS12"
# Admin routers answer only to private and loopback sources unless a stack widens this.
ADMIN_ALLOWLIST = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.1/32")
# How much of the address space an admin allowlist may open (issue 12): no single network
# wider than a /8 (a stack may only narrow this), and the union of the networks at most 1/16
# of an address family (sixteen /8s; the default list above is 0.4 % of IPv4). A stack may set
# a share up to 1/2, never all of it.
ADMIN_ALLOWLIST_MIN_PREFIX = 8
ADMIN_ALLOWLIST_MAX_SHARE = 1 / 16
ADMIN_ALLOWLIST_MAX_SHARE_BOUND = 0.5
DEV_DOMAIN = "erp.localhost"
ACME_CA_PRODUCTION = "https://acme-v02.api.letsencrypt.org/directory"
ACME_CA_STAGING = "https://acme-staging-v02.api.letsencrypt.org/directory"
