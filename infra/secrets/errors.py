"""Errors of the secrets lifecycle.

Every message is one line that names the secret, address or path at fault and never a
secret value; the CLI prints `str(error)` as is and exits with `exit_code`.
"""

from __future__ import annotations


class SecretsError(Exception):
    """A secrets operation could not be done; the message is safe to print."""

    exit_code = 1


class PlanError(SecretsError):
    """The catalog's secret declarations are inconsistent (unknown owner, clashing kinds)."""


class VaultAccessError(SecretsError):
    """Vault could not be used: down, sealed, forbidden, wrong mount, TLS, insecure address.

    Exit code 2 tells scripts "could not look" apart from "looked and found weak secrets" (1).
    """

    exit_code = 2


class InsecureAddressError(VaultAccessError):
    """A plain-http Vault address that is not loopback, without the explicit insecure flag."""


class RotationConflict(SecretsError):
    """Check-and-set failed: someone else wrote a version between our read and our write."""


class WeakSecretsError(SecretsError):
    """One or more declared secrets are missing or weak (raised before any deployment)."""

    def __init__(self, findings: list[str]) -> None:
        self.findings = findings
        names = ", ".join(findings)
        super().__init__(f"refusing to deploy: {len(findings)} secret(s) missing or weak: {names}")
