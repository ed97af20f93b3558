"""Rampart's policy pack: one rule per module, assembled in `policies.pack`.

Runs under `pulumi preview --policy-pack policies` (see `__main__.py`) and offline through
`rampart policy check` (infra/offline); both evaluate the same wrapped policies. Shipped in
the `rampart` distribution; its version is the distribution's.

May import: `infra.model` (defaults, errors), `infra.secrets.literals` (the one literal-secret
detector) and `infra.stack` (the stack's settings); never the targets, the CLI or the
offline engine, which import the pack.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("rampart")
except PackageNotFoundError:  # a checkout that was never installed (`make setup` installs it)
    __version__ = "0+unknown"
