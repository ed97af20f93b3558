"""Issue 15, item 3: an independent TLS audit of the lab edge. testssl.sh (Debian package
testssl.sh, scripts/system-deps.sh) runs from the controller over the lab bridge against
edge1's HTTPS entry point, SNI = the public host, the lab CA added to its trust stores.

Demanded: no finding rated HIGH or CRITICAL, no protocol below TLS 1.2 offered, forward
secrecy offered and every offered suite with an (EC)DHE key exchange, HSTS detected.

One finding is the lab CA's, not the edge's: `cert_revocation` (HIGH, "Neither CRL nor OCSP URI
provided") for the lab leaf (infra/cli/edge_config.py issues it without a CRL distribution point:
the lab serves no CRL). It is accepted only with exactly that text and only while the issuer
is the lab CA; production's ACME certificates carry their CA's revocation URI.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from testinfra.host import Host

from .support import CA_FILE, EDGE

HOST = "api.erp.localhost"  # the dev stack's public host (traefik_stack: dev in the lab)
LAB_CA = "Rampart lab edge CA"  # infra/cli/edge_config.py lab_ca()
LAB_ONLY = {("cert_revocation", "Neither CRL nor OCSP URI provided")}
OLD_PROTOCOLS = ("SSLv2", "SSLv3", "TLS1", "TLS1_1")
TIMEOUT_S = 300


@pytest.fixture(scope="module")
def findings(hardened: Callable[[str], Host], tmp_path_factory: pytest.TempPathFactory
             ) -> list[dict[str, Any]]:
    testssl = shutil.which("testssl") or shutil.which("testssl.sh")
    assert testssl, "testssl is not installed (scripts/system-deps.sh installs testssl.sh)"
    address = hardened(EDGE).ansible.get_variables()["ansible_host"]
    out = tmp_path_factory.mktemp("testssl") / "edge.json"
    result = subprocess.run(
        [testssl, "--quiet", "--warnings", "off", "--color", "0", "--jsonfile", str(out),
         "--add-ca", str(CA_FILE), "--ip", address, f"https://{HOST}/"],
        capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
    assert out.exists(), f"testssl wrote no JSON (rc {result.returncode}): {result.stdout[-800:]}"
    data = json.loads(out.read_text())
    assert any(f["id"] == "TLS1_2" for f in data), "testssl did not reach the TLS checks"
    return list(data)


def _by_id(findings: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {f["id"]: f for f in findings}


def test_no_high_or_critical_finding(findings: list[dict[str, Any]]) -> None:
    by_id = _by_id(findings)
    assert by_id["cert_caIssuers"]["finding"] == LAB_CA, by_id["cert_caIssuers"]
    bad = [(f["id"], f["severity"], f["finding"]) for f in findings
           if f["severity"] in ("HIGH", "CRITICAL") and (f["id"], f["finding"]) not in LAB_ONLY]
    assert not bad, f"testssl rates these HIGH/CRITICAL: {bad}"


def test_only_tls_1_2_and_1_3_are_offered(findings: list[dict[str, Any]]) -> None:
    by_id = _by_id(findings)
    offered = {p: by_id[p]["finding"] for p in OLD_PROTOCOLS if p in by_id}
    assert set(offered) == set(OLD_PROTOCOLS), f"testssl did not test {OLD_PROTOCOLS}"
    assert all(v.startswith("not offered") for v in offered.values()), offered
    assert by_id["TLS1_2"]["finding"].startswith("offered"), by_id["TLS1_2"]
    assert by_id["TLS1_3"]["finding"].startswith("offered"), by_id["TLS1_3"]


def test_forward_secrecy_on_every_offered_suite(findings: list[dict[str, Any]]) -> None:
    by_id = _by_id(findings)
    fs = by_id.get("FS") or by_id.get("PFS")  # testssl 3.1 renamed PFS to FS
    assert fs is not None and fs["finding"].startswith("offered"), fs
    suites = [f["finding"].split() for f in findings if f["id"].startswith("cipher_x")]
    assert suites, "testssl listed no offered suite"
    # finding: <hex> <OpenSSL name> <key exchange> <bits> <cipher> <bits> <IANA name>
    without_fs = [s[1] for s in suites if s[2] not in ("ECDH", "DH")]
    assert not without_fs, f"suites without an ephemeral key exchange: {without_fs}"


def test_hsts_is_detected(findings: list[dict[str, Any]]) -> None:
    hsts = _by_id(findings).get("HSTS_time")
    assert hsts is not None and hsts["severity"] == "OK", hsts


def test_ca_file_is_the_lab_ca() -> None:
    """The trust anchor handed to testssl is the one the role's generator made."""
    text = subprocess.run(["openssl", "x509", "-noout", "-subject", "-in", str(CA_FILE)],
                          capture_output=True, text=True, check=True).stdout
    assert LAB_CA in text and Path(CA_FILE).is_file()
