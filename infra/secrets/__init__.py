"""Secrets lifecycle in Vault/OpenBao (KV v2 via hvac): bootstrap, strength checks, rotation,
per-service least privilege, and the deploy-time provider. See docs/secrets.md."""
