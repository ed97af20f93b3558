"""Rampart's policy pack: one rule per module, assembled in `policies.pack`.

Runs under `pulumi preview --policy-pack policies` (see `__main__.py`) and offline through
`rampart policy check` (infra/policy_check.py); both evaluate the same wrapped policies.
"""
