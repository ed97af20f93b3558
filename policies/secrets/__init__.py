"""Secrets: values come from Vault at deploy time, never from code or config literals."""
