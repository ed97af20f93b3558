#!/usr/bin/env bash
# Installs every Debian package the test tiers need (idempotent: a no-op when all are present).
# Run as root; `make test` calls it before pytest so a fresh CI machine needs nothing else.
set -euo pipefail

PACKAGES=(
  # lab: rootfs build, hosts, their network and their package proxy
  debootstrap systemd-container apt-cacher-ng iproute2 nftables openssh-client
  # integration tier: real daemons and their checkers
  prometheus prometheus-alertmanager postgresql pgbackrest
  # independent hardening audit of the lab hosts
  lynis
  # the edge probes name TLS suites as OpenSSL does (`openssl ciphers -stdname`)
  openssl
  # independent TLS audit of the lab edge (tests/hosts/traefik/test_tls_audit.py)
  testssl.sh
  # the readiness report's browser test renders the HTML in headless Chromium
  # (tests/readiness/test_browser.py)
  chromium
)

if [[ $(id -u) -ne 0 ]]; then
  echo "system-deps.sh: must run as root (installs Debian packages: ${PACKAGES[*]})" >&2
  exit 1
fi

missing=()
for pkg in "${PACKAGES[@]}"; do
  # dpkg-query prints "install ok installed" only for fully configured packages
  if [[ $(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null) != "install ok installed" ]]; then
    missing+=("$pkg")
  fi
done

if ((${#missing[@]} == 0)); then
  exit 0
fi

echo "system-deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

# Daemons that come with these packages are tools for us, not services of this machine: the
# lab runs its own apt-cacher-ng bound to its bridge address (infra/lab/proxy.py), and tests
# start prometheus/alertmanager on loopback themselves. Under systemd the packages start their
# services (on every address), so stop and disable the ones this run just installed.
if [[ -d /run/systemd/system ]]; then
  for unit in apt-cacher-ng prometheus prometheus-alertmanager prometheus-node-exporter; do
    if [[ " ${missing[*]} " == *" ${unit} "* ]]; then
      systemctl disable --now "${unit}.service" >/dev/null 2>&1 || true
    fi
  done
fi
