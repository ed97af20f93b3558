"""Only the lab CA's shipping hosts get in, and what a host shipped stays as it was: a client
without a certificate or with one of another CA is refused; a host with its valid certificate
can only append, to its own store (a forged sender name lands in its own); the store's files
belong to root on the log host and are sealed append-only."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest
from lab_support import address, wait
from testinfra.host import Host

from .support import LOG_HOST, OPEN, STORE, frame, own_certificate, relp_session, stored_count

SENDER = "app1"
PROBE = "db1"  # another shipping host: the firewall admits it, only TLS can refuse it
ACCEPTED = "200 OK"


@pytest.fixture(scope="module")
def foreign_ca(hardened: Callable[[str], Host]) -> Iterator[str]:
    """s_client arguments with a certificate for PROBE's own name from a CA made up on the
    spot (deleted again afterwards)."""
    host = hardened(PROBE)
    tmp = host.check_output("mktemp -d").strip()
    host.check_output(
        f"cd {tmp} && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
        "-noenc -keyout ca.key -out ca.crt -days 1 -subj '/CN=Foreign CA' 2>/dev/null && "
        "openssl req -x509 -CA ca.crt -CAkey ca.key -newkey ec -pkeyopt "
        f"ec_paramgen_curve:prime256v1 -noenc -keyout c.key -out c.crt -days 1 -subj '/CN={PROBE}'"
        f" -addext extendedKeyUsage=clientAuth -addext subjectAltName=DNS:{PROBE} 2>/dev/null")
    yield f"-cert {tmp}/c.crt -key {tmp}/c.key"
    host.run(f"rm -rf {tmp}")


def test_a_shipping_host_with_its_certificate_is_accepted(
    hardened: Callable[[str], Host]
) -> None:
    # The control for the two refusals below: same host, same command, the right certificate.
    out = relp_session(hardened(PROBE), address(hardened(LOG_HOST)), OPEN, own_certificate())
    assert ACCEPTED in out, f"{PROBE} with its lab certificate was not accepted: {out[-400:]}"


@pytest.mark.parametrize("client", ["no certificate", "another CA's certificate"])
def test_an_unauthenticated_client_is_refused(
    hardened: Callable[[str], Host], foreign_ca: str, client: str
) -> None:
    tls_args = "" if client == "no certificate" else foreign_ca
    out = relp_session(hardened(PROBE), address(hardened(LOG_HOST)), OPEN, tls_args)
    assert ACCEPTED not in out, f"{PROBE} with {client} opened a RELP session: {out[-400:]}"


def test_a_host_cannot_rewrite_or_redirect_what_it_shipped(
    hardened: Callable[[str], Host]
) -> None:
    sender, log_host = hardened(SENDER), hardened(LOG_HOST)
    token = f"rampart-forged-{uuid.uuid4()}"
    sender.check_output(f"logger -t rampart-test {token}-before")
    before = f"rampart-test: {token}-before"
    assert wait(lambda: stored_count(log_host, SENDER, before) >= 1, 10) is not None, (
        f"'{before}' logged on {SENDER} did not reach {LOG_HOST}")
    day_file = log_host.check_output(
        f"grep -lF '{before}' {STORE}/{SENDER}/*.log").strip()
    size = int(log_host.check_output(f"stat -c %s {day_file}"))
    digest = log_host.check_output(f"head -c {size} {day_file} | sha256sum")

    # With its valid certificate, the sender claims to be db1 and asks for commands RELP does
    # not have; the receiver has no command that changes what it stored.
    forged = f"<13>Dec  5 00:00:00 db1 forged: {token}-as-db1"
    frames = (OPEN + frame(2, "syslog", forged) + frame(3, "delete", day_file)
              + frame(4, "truncate", day_file) + frame(5, "close"))
    out = relp_session(sender, address(log_host), frames, own_certificate())
    assert ACCEPTED in out, f"the session itself failed: {out[-400:]}"

    as_db1 = f"forged: {token}-as-db1"
    assert wait(lambda: stored_count(log_host, SENDER, as_db1) == 1, 10) is not None, (
        f"the forged entry is not in {SENDER}'s store")
    assert stored_count(log_host, "db1", as_db1) == 0, (
        f"{SENDER} wrote into db1's store by claiming its name")
    assert log_host.check_output(f"head -c {size} {day_file} | sha256sum") == digest, (
        f"{day_file}: what {SENDER} had shipped changed")

    # The files are root's on the log host, which no shipping host can log in to.
    stat = log_host.check_output(f"stat -c '%U:%G %a' {STORE} {STORE}/{SENDER} {day_file}")
    assert stat.split("\n") == ["root:adm 750", "root:adm 750", "root:adm 640"], stat


def test_the_store_is_sealed_append_only(hardened: Callable[[str], Host]) -> None:
    log_host = hardened(LOG_HOST)
    log_host.check_output("systemctl start rampart-logship-seal.service")
    files = log_host.check_output(f"ls {STORE}/*/*.log").split()
    assert files, f"{LOG_HOST}:{STORE} holds no file"
    flags = {f: log_host.check_output(f"lsattr -d {f}").split()[0] for f in files}
    unsealed = {f: v for f, v in flags.items() if "a" not in v}
    assert not unsealed, f"not append-only (chattr +a): {unsealed}"
    # Even root cannot rewrite a sealed file without removing the attribute first.
    probe = log_host.run(f"truncate -s 0 {files[0]}")
    assert probe.rc != 0, f"{files[0]} could be truncated although sealed"
