"""What makes a value weak, shared by the strength check (infra/secrets/strength.py) and the
literal detector (literals.py): known default credentials, a password's minimum strength and
the entropy estimate. Standard library only, so the detector (which the model uses) imports
no other module.
"""

from __future__ import annotations

import math
import string

# Machine-generated, machine-read passwords: 80 bits is beyond online and offline guessing.
PASSWORD_MIN_BITS = 80

# Exact values (compared lower-cased, trimmed) that are known defaults or classic weak choices.
# The platform's own leaked defaults first, then vendor defaults of every store it runs.
DENYLIST_EXACT: frozenset[str] = frozenset(
    {
        # the ERP's own defaults, found in its compose files and code
        "erpgo-secret-pepper-change-in-production", "minio123", "erpgo", "erpgo-secret",
        "erpgo-jwt-secret", "jwt-secret-change-in-production",
        # generic
        "changeme", "change-me", "change_me", "changeit", "password", "passw0rd", "p@ssw0rd",
        "p@ssword", "password1", "password123", "secret", "secret123", "supersecret",
        "mysecret", "topsecret", "admin", "admin123", "administrator", "root", "toor", "test",
        "testing", "default", "letmein", "welcome", "qwerty", "123456", "12345678",
        "123456789", "1234567890", "abc123", "iloveyou", "dev", "development", "example",
        "jwtsecret", "jwt_secret", "jwt-secret", "secretkey", "secret-key", "secret_key",
        "your-secret-key", "your-256-bit-secret", "your_jwt_secret", "pepper", "apikey",
        "api-key", "api_key",
        # vendor defaults of the platform's stores and admin UIs
        "minioadmin",  # MinIO root user/password
        "guest",  # RabbitMQ guest/guest
        "postgres", "postgresql",  # postgres image examples
        "foobared",  # redis.conf example requirepass
        "elastic",  # Elasticsearch user; "changeme" is its old default password
        "kibana", "kibanaserver",
        "temporal",  # temporal docker-compose DB password
        "zookeeper", "kafka", "kafka-secret", "confluent",
        "grafana", "prometheus", "alertmanager", "traefik",
        "eventstore", "redis", "rabbitmq", "minio",
        "vault", "openbao", "root-token", "s.root",
    }
)


_SYMBOLS = frozenset(string.punctuation + " ")
_HEX_LOWER = frozenset("0123456789abcdef")
_HEX_UPPER = frozenset("0123456789ABCDEF")


def estimated_bits(value: str) -> float:
    """Entropy estimate: length x log2(alphabet), the alphabet being the character classes the
    value uses (hex counts as 16), shrunk to the distinct characters when there are too few."""
    if not value:
        return 0.0
    chars = set(value)
    if chars <= set(string.digits):
        pool = 10
    elif chars <= _HEX_LOWER or chars <= _HEX_UPPER:
        pool = 16
    else:
        pool = 0
        if chars & set(string.ascii_lowercase):
            pool += 26
        if chars & set(string.ascii_uppercase):
            pool += 26
        if chars & set(string.digits):
            pool += 10
        if chars & _SYMBOLS:
            pool += len(_SYMBOLS)
        if any(ord(c) > 127 for c in chars):
            pool += 100
    # A value from a big alphabet that uses far fewer distinct characters than a random draw
    # of its length would ("aAaA1!aA1!...") is not random: count only what it uses.
    expected_distinct = pool * (1 - (1 - 1 / pool) ** len(value))
    if len(chars) < expected_distinct / 2:
        pool = max(len(chars), 2)
    return len(value) * math.log2(pool)
