"""Shared by the two strategy shims beside it: Mitogen's strategy mix-in over one of
Ansible's own strategies.

Mitogen keeps one Python interpreter per host (and per become user) alive for the whole
run and sends it each module in-process, instead of starting a new interpreter over SSH for
every task; on an idempotent site.yml run that interpreter start-up is most of the cost
(docs/benchmarks.md, "Converge"). The mitogen package comes from requirements.lock. When it
cannot be imported (Ansible run from another environment) the plain strategy runs, with a
warning, so the playbooks never depend on it for correctness. RAMPART_MITOGEN=0 in the
environment runs the plain strategy on purpose (to rule Mitogen out while debugging a run,
or as the baseline of benchmarks/converge.py).
"""

from __future__ import annotations

import os

from ansible.plugins.loader import strategy_loader
from ansible.utils.display import Display


def strategy_class(base_name: str) -> type:
    base = strategy_loader.get(base_name, class_only=True)
    if os.environ.get("RAMPART_MITOGEN", "1") == "0":
        return base
    try:
        import ansible_mitogen.strategy  # noqa: PLC0415 (optional at import time)
    except ImportError as exc:
        Display().warning(
            f"mitogen is not importable ({exc}); running the plain {base_name} strategy "
            "(install requirements.lock for the faster runs)"
        )
        return base
    return type("StrategyModule", (ansible_mitogen.strategy.StrategyMixin, base), {})
