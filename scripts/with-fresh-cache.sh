#!/usr/bin/env bash
# Runs a command (from the repository root) with the lab's caches — base rootfs and apt proxy
# cache — in a new, empty directory, exactly as on a machine that never ran the lab; then
# brings the lab down and removes that directory. Used by .ci/run and scripts/fresh-check.sh.
#
#   scripts/with-fresh-cache.sh make test
set -euo pipefail
cd "$(dirname "$0")/.."
(($# > 0)) || { echo "usage: $0 COMMAND [ARG...]" >&2; exit 2; }

cache=$(mktemp -d "${TMPDIR:-/var/tmp}/rampart-cache.XXXXXX")
# The apt proxy runs as its own user and must reach its cache below this directory.
chmod 0755 "$cache"
export RAMPART_CACHE_DIR=$cache
echo "with-fresh-cache: lab cache $RAMPART_CACHE_DIR (empty)"

# Whether a lab still uses the cache: host roots mounted on its base rootfs, or a lab's apt
# proxy keeping its packages there.
in_use() {
  grep -qF "$cache" /proc/self/mountinfo \
    || grep -sqF "$cache" /var/lib/rampart/labs/*/apt-cacher-ng/conf/acng.conf
}

cleanup() {
  local status=$?
  # The hosts' roots are overlays on the base rootfs in the cache: down before removing it.
  # A command that never brought a lab up on this cache leaves whatever lab runs alone.
  if ! in_use || { [[ -x .venv/bin/rampart ]] && .venv/bin/rampart lab down; }; then
    rm -rf "$cache"
  else
    echo "with-fresh-cache: lab down failed; left $cache (hosts may still be mounted on it)" >&2
    if ((status == 0)); then status=1; fi
  fi
  exit "$status"
}
trap cleanup EXIT

"$@"
