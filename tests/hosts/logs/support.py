"""Helpers of the log shipping host tests: the log host's store, and RELP sessions opened by
hand from a shipping host with `openssl s_client` (as an attacker on that host would)."""

from __future__ import annotations

import base64
import shlex

from testinfra.host import Host

LOG_HOST = "mon1"
STORE = "/var/log/remote"
CONFIG = "/etc/rampart-logship"
PORT = 2514


def stored_count(log_host: Host, sender: str, text: str) -> int:
    """Lines of `sender`'s store on the log host containing `text`. Search for the entry as
    stored ("tag: message"): sudo's log of the test's own command also holds the message."""
    out = log_host.run(f"cat {STORE}/{shlex.quote(sender)}/*.log 2>/dev/null"
                       f" | grep -cF -- {shlex.quote(text)}")
    return int(out.stdout.strip() or 0)


def frame(txnr: int, command: str, data: str = "") -> str:
    """One RELP frame: TXNR SP COMMAND SP DATALEN [SP DATA] LF."""
    body = data.encode()
    return f"{txnr} {command} {len(body)}" + (f" {data}" if body else "") + "\n"


OPEN = frame(1, "open", "relp_version=0\nrelp_software=rampart-test\ncommands=syslog")


def relp_session(host: Host, address: str, frames: str, tls_args: str) -> str:
    """Send `frames` over TLS to the log host's RELP port from `host`; what came back.
    The frames travel base64-encoded: sudo logs every command the tests run (and ships the
    log), and a token in that log line would be found where the test looks for the entry."""
    encoded = base64.b64encode(frames.encode()).decode()
    script = (
        f"(echo {encoded} | base64 -d; sleep 2) | timeout 15 openssl s_client -quiet "
        f"-connect {address}:{PORT} -verify_return_error -CAfile {CONFIG}/ca.crt {tls_args}"
        " 2>&1"
    )
    return host.run(script).stdout


def own_certificate() -> str:
    """s_client arguments presenting the host's own certificate (issued by the lab CA)."""
    return f"-cert {CONFIG}/host.crt -key {CONFIG}/host.key"
