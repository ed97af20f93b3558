"""Entry point the Pulumi CLI runs for `pulumi preview --policy-pack policies`."""

import sys
from pathlib import Path

# The CLI runs this file from the pack directory, which Python puts first on sys.path. Swap it
# for the repository root: `policies.*` then resolves to this package, and the pack's area
# packages (`secrets`, `network`, ...) cannot shadow modules of the same top-level name.
_PACK = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _PACK]
sys.path.insert(0, str(_PACK.parent))

from pulumi_policy import EnforcementLevel, PolicyPack  # noqa: E402

from policies.pack import build_policies  # noqa: E402

PolicyPack(
    "rampart",
    policies=build_policies(),
    enforcement_level=EnforcementLevel.MANDATORY,
    description="Rampart hardening rules for the ERP platform (Docker and Kubernetes targets).",
)
