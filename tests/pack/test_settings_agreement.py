"""The program and the policy pack see one stack alike.

Every shipped stack, and variants that once split them (a prod stack without
`requireDigests`: the program pinned by digest while the gate judged it as dev), is rendered
by the real program under the recording engine while the pack's settings are read the way
the analyzer reads them under `pulumi preview --policy-pack` (from the engine's config) and
the way `rampart policy check` reads them (from the file). All three must agree on every
figure both sides use."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import yaml

from infra import program
from infra import stack as stacks
from infra.offline.engine import run_program
from infra.secrets.provider import RenderSecretsProvider

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted(p.name[len("Pulumi."):-len(".yaml")] for p in ROOT.glob("Pulumi.*.yaml"))


def _variants() -> list[tuple[str, str, dict]]:
    out = []
    for name in SHIPPED:
        config = yaml.safe_load((ROOT / f"Pulumi.{name}.yaml").read_text())["config"]
        out.append((name, "as shipped", config))
        without = {k: v for k, v in config.items() if not k.endswith("requireDigests")}
        out.append((name, "without requireDigests", without))
        if stacks.load(name, ROOT).environment == "dev":
            for spelling in (True, "true", "false", False):
                out.append((name, f"requireDigests={spelling!r}",
                            {**without, "rampart:requireDigests": spelling}))
        narrowed = {**without, "rampart:adminAllowlistMaxShare": 0.05}
        out.append((name, "narrowed allowlist bounds", narrowed))
    return out


def _engine_pack_settings() -> tuple[object, bool]:
    """What the pack judges with under the engine (the provider policies/__main__.py hands
    it), and whether its digest rule, run as the analyzer runs it, demands a digest."""
    import pulumi_policy as pp
    from policy_harness import container, engine_args

    from policies.images import image_digest
    from policies.pack import build_policies

    provider = stacks.engine_policy_provider()
    (policy,) = build_policies(provider, rules=[image_digest.RULE])
    found: list[str] = []
    assert isinstance(policy, pp.ResourceValidationPolicy)
    policy.validate(engine_args(container(image="postgres:15.8")),
                    lambda message, urn=None: found.append(message))
    return provider(), bool(found)


def _seen_by_both(tmp_path: Path, name: str, config: dict) -> tuple[object, object, object]:
    (tmp_path / "Pulumi.yaml").write_text((ROOT / "Pulumi.yaml").read_text())
    path = tmp_path / f"Pulumi.{name}.yaml"
    path.write_text(yaml.safe_dump({"config": config}))
    offline = stacks.load(name, tmp_path)
    seen: dict[str, object] = {}

    def run() -> None:
        # As under `pulumi up`: the program reads the engine's config ...
        engine = stacks.from_engine(tmp_path)
        seen["platform"] = program.platform_of(engine)
        program.run(engine, RenderSecretsProvider())
        # ... and as under `pulumi preview --policy-pack`: the pack's own provider reads it.
        seen["pack"], seen["pack_demands_digest"] = _engine_pack_settings()

    run_program(run, stack=name, config=stacks.engine_config(offline))
    assert seen["pack_demands_digest"] == seen["platform"].require_digests  # type: ignore
    return seen["platform"], seen["pack"], offline.policy


@pytest.mark.parametrize(("name", "case", "config"), _variants(),
                         ids=[f"{n}-{c}" for n, c, _ in _variants()])
def test_program_and_pack_see_the_same_settings(tmp_path, name, case, config):
    platform, pack, offline = _seen_by_both(tmp_path, name, config)
    for judged in (pack, offline):
        assert judged.require_digests == platform.require_digests, case
        assert judged.allowlist_min_prefix == platform.edge.admin_allowlist_min_prefix, case
        assert judged.allowlist_max_share == platform.edge.admin_allowlist_max_share, case
    if stacks.load(name, ROOT).environment == "prod":
        assert platform.require_digests, "a prod stack always pins by digest"


def test_the_variants_cover_both_environments_and_both_answers():
    environments = {stacks.load(n, ROOT).environment for n in SHIPPED}
    assert environments == {"dev", "prod"}
    answers = {(stacks.load(n, ROOT).environment,
                str(c.get("rampart:requireDigests")).lower() == "true") for n, _, c in _variants()}
    assert set(itertools.product(["dev"], [True, False])) <= answers
