"""The `rampart` command line: one entry point for every Rampart job.

Exit codes, every command: 0 ok, 1 a check failed, 2 usage or input error (nothing
changed), 3 an external service (Vault, a lab host) unavailable."""

from __future__ import annotations

import typer

from infra.cli import audit, demo, drill, lab, observability, policy, readiness, render, secrets

# Help text is shown literally (no Rich markup): `[secret]` in a help string is what the
# output shows, not a style tag to be swallowed. Sub-command groups inherit this setting.
app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__,
                  rich_markup_mode=None)
app.add_typer(lab.app, name="lab", help="Lab hosts lifecycle (systemd-nspawn, one netns each).")
app.add_typer(policy.app, name="policy", help="The policy pack, offline: check a stack.")
app.add_typer(secrets.app, name="secrets", help="Vault secrets: bootstrap, check, rotate.")
app.add_typer(
    observability.app, name="observability", help="Prometheus, Alertmanager, Grafana as code."
)
app.add_typer(audit.app, name="audit", help="Lynis index and ssh-audit findings per host.")
app.add_typer(drill.app, name="drill", help="Fault drills on the lab: fault, alert, runbook fix.")
app.command("render")(render.render)
app.command("demo")(demo.demo)
app.command("readiness")(readiness.readiness)


@app.callback()
def main() -> None:
    """Rampart: production hardening for the ERP platform, as code, with proof."""
