"""alertmanager.yml: route by severity, group, inhibit, notify.

No credential is ever written into the file: every secret is a `*_file` path under
ALERTMANAGER_SECRETS_DIR that the deploy fills from Vault (`secret_files` lists them).
"""

from __future__ import annotations

from infra.observability.settings import Receiver, Settings

# Labels that identify "the same problem" across severities and across alert instances.
# A label missing on both sides counts as equal, so one list serves every alert.
IDENTITY = ["alertname", "service", "tier", "instance", "mountpoint", "backup", "stanza"]
NULL_RECEIVER = "blackhole"  # used only when the stack configures no receivers at all


def secret_files(settings: Settings) -> dict[str, str]:
    """{container path: Vault secret name} the deploy must write before Alertmanager starts."""
    return {
        r.credential_file: r.secret for r in settings.receivers if r.credential_file and r.secret
    }


def _receiver(r: Receiver) -> dict:
    if r.kind == "webhook":
        cfg: dict = {"url": r.target, "send_resolved": True}
        if r.credential_file:
            cfg["http_config"] = {
                "authorization": {"type": "Bearer", "credentials_file": r.credential_file}
            }
        return {"name": r.name, "webhook_configs": [cfg]}
    if r.kind == "email":
        cfg = {
            "to": r.target,
            "from": r.sender,
            "smarthost": r.smarthost,
            "send_resolved": True,
            "require_tls": True,
        }
        if r.auth_username:
            cfg["auth_username"] = r.auth_username
        if r.credential_file:
            cfg["auth_password_file"] = r.credential_file
        return {"name": r.name, "email_configs": [cfg]}
    # slack: the incoming-webhook URL is the credential
    return {
        "name": r.name,
        "slack_configs": [
            {
                "api_url_file": r.credential_file,
                "channel": r.target,
                "send_resolved": True,
                "title": "[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }}",
                "text": (
                    "{{ range .Alerts }}*{{ .Labels.severity }}* {{ .Annotations.summary }}\n"
                    "{{ .Annotations.runbook_url }}\n{{ end }}"
                ),
            }
        ],
    }


def _receivers_for(names: tuple[str, ...], fallback: str, label: str) -> tuple[str, list[dict]]:
    """Alertmanager routes to one receiver; several targets become a continue chain."""
    if not names:
        return fallback, []
    return names[0], [
        {"matchers": [f'severity="{label}"'], "receiver": n, "continue": True} for n in names[1:]
    ]


def alertmanager_config(settings: Settings) -> dict:
    receivers = [_receiver(r) for r in settings.receivers]
    default = settings.receivers[0].name if settings.receivers else NULL_RECEIVER
    if not settings.receivers:
        # Alerts still show in the Alertmanager UI/API; nobody is notified. The docs say so.
        receivers = [{"name": NULL_RECEIVER}]
    critical, critical_extra = _receivers_for(settings.route_critical, default, "critical")
    warning, warning_extra = _receivers_for(settings.route_warning, default, "warning")
    routes = [
        *critical_extra,
        {
            "matchers": ['severity="critical"'],
            "receiver": critical,
            # Pages: tell someone fast and keep reminding them.
            "group_wait": "10s",
            "repeat_interval": "1h",
        },
        *warning_extra,
        {
            "matchers": ['severity="warning"'],
            "receiver": warning,
            # Tickets: batch them, remind twice a day.
            "group_wait": "1m",
            "repeat_interval": "12h",
        },
    ]
    return {
        "global": {"resolve_timeout": "5m"},
        "route": {
            "receiver": default,
            "group_by": ["alertname", "service", "severity"],
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": "4h",
            "routes": routes,
        },
        "inhibit_rules": [
            {
                # A critical alert silences the warning of the same alert on the same thing
                # (e.g. disk 85 % silences disk 75 %).
                "source_matchers": ['severity="critical"'],
                "target_matchers": ['severity="warning"'],
                "equal": IDENTITY,
            },
        ],
        "receivers": receivers,
    }
