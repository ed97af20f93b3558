"""Entry point the Pulumi CLI runs for `pulumi preview --policy-pack policies`.

The CLI starts this file with the pack directory first on sys.path. Nothing here edits the
path: `policies` is part of the installed `rampart` distribution (`make setup` installs the
checkout into the virtualenv PulumiPolicy.yaml names), and no package of the pack has the
top-level name of a module it or its dependencies import (tests/pack/test_pack_imports.py).
"""

from pulumi_policy import EnforcementLevel, PolicyPack

from infra import stack
from policies import __version__
from policies.pack import build_policies

PolicyPack(
    "rampart",
    # The stack as the program parses it (infra/stack), from the config the engine hands the
    # analyzer: the gate judges the stack the program deploys.
    policies=build_policies(stack.engine_policy_provider()),
    enforcement_level=EnforcementLevel.MANDATORY,
    description=f"Rampart hardening rules for the ERP platform, version {__version__} "
                "(Docker and Kubernetes targets).",
)
