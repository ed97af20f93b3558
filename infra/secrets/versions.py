"""How secrets are versioned in Vault's KV v2, defined once (stdlib only, so `rampart --help`
can show the default without importing the Vault client)."""

# Versions kept per secret: current + previous delivered, three more kept for investigation.
DEFAULT_MAX_VERSIONS = 5
# `<NAME>_previous`: the version before the last rotation, delivered for signing keys and
# peppers until the next one (docs/secrets.md).
PREVIOUS_SUFFIX = "_previous"
