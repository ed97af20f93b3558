"""Secrets: values come from Vault at deploy time, never from code or config literals.

May import: policies.core and infra.secrets.literals (the one literal-secret detector).
"""
