"""Secrets lifecycle in Vault/OpenBao (KV v2 via hvac): bootstrap, strength checks, rotation,
per-service least privilege, and the deploy-time provider. See docs/secrets.md.

Owns every secret's lifecycle and the stack's secrets section (settings.py). May import:
infra.model (types, errors); literals.py and weak.py import nothing of infra (the model and
the policy pack import the detector on its own).
"""
