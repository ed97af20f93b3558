"""`rampart secrets check`: every declared secret present, strong and not shared.

Reads through any token that can read the stack (the deployer AppRole is enough). Also used by
the Pulumi provider before anything is deployed. Findings name secrets, never values.
"""

from __future__ import annotations

from dataclasses import dataclass

from .plan import SecretSpec, context_words
from .strength import Candidate, evaluate
from .tls import set_reasons, tls_role, tls_sets
from .vault import Vault


@dataclass(frozen=True)
class Finding:
    label: str  # service/NAME
    path: str  # stack/service/name inside the mount
    reasons: tuple[str, ...]

    def line(self, mount: str) -> str:
        return f"FAIL {self.label} ({mount}/{self.path}): {'; '.join(self.reasons)}"


def judge(stack: str, specs: tuple[SecretSpec, ...],
          stored: dict[SecretSpec, tuple[dict[str, str] | None, int | None]]) -> list[Finding]:
    """Pure part: `stored` maps spec -> (current data or None, metadata max_versions)."""
    findings: dict[str, list[str]] = {}
    candidates: list[Candidate] = []
    for spec in specs:
        data, max_versions = stored.get(spec, (None, None))
        if data is None:
            findings[spec.label] = ["is missing (run `rampart secrets bootstrap`)"]
            continue
        if max_versions == 1:
            findings.setdefault(spec.label, []).append(
                "keeps only 1 version, so rotation would drop the previous value")
        candidates.append(Candidate(label=spec.label, kind=spec.kind,
                                    value=data.get("value", ""), password=data.get("password"),
                                    context=context_words(spec), name=spec.name))
    for label, reasons in evaluate(candidates).items():
        findings.setdefault(label, []).extend(reasons)
    for members in tls_sets(specs).values():
        values = {tls_role(m.name): (stored.get(m, (None, None))[0] or {}).get("value")
                  for m in members}
        present = {role: v for role, v in values.items() if v}
        reasons = set_reasons(present)
        if reasons:
            # Reported on the certificate (else the first member): that is what gets replaced.
            anchor = next((m for m in members if tls_role(m.name) == "cert"), members[0])
            findings.setdefault(anchor.label, []).extend(reasons)
    return [Finding(label=spec.label, path=spec.path(stack), reasons=tuple(findings[spec.label]))
            for spec in specs if spec.label in findings]


def check(vault: Vault, stack: str, specs: tuple[SecretSpec, ...]) -> list[Finding]:
    stored: dict[SecretSpec, tuple[dict[str, str] | None, int | None]] = {}
    for spec in specs:
        path = spec.path(stack)
        current = vault.read(path)
        meta = vault.metadata(path) if current is not None else None
        stored[spec] = (dict(current.data) if current else None,
                        meta.max_versions if meta else None)
    return judge(stack, specs, stored)
