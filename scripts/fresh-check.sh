#!/usr/bin/env bash
# The pre-submit check: the committed HEAD, cloned into a temporary folder (with ../shared
# beside it, as CI has it), runs the README's two commands — `make demo`, then `make test` —
# from an empty lab cache, as a new user on a new machine would. Prints the time of each.
# Uncommitted changes are NOT part of it: commit first. Root, Debian 12 (as the README).
#
#   make fresh-check          # or: scripts/fresh-check.sh [--keep]
#
# The clone's lab replaces the default lab (another checkout's key): run `rampart lab up` in
# your tree afterwards. --keep leaves the clone (and its out/ logs) for a look.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
keep=0
[[ ${1:-} == --keep ]] && keep=1

work=$(mktemp -d "${TMPDIR:-/var/tmp}/rampart-fresh.XXXXXX")
git clone --quiet --no-hardlinks "$repo" "$work/main"
if [[ -d $repo/../shared ]]; then
  ln -s "$(cd "$repo/../shared" && pwd)" "$work/shared"
fi
echo "fresh-check: $(git -C "$work/main" log -1 --format='%h %s') in $work/main"

finish() {
  local status=$?
  if ((keep == 0 && status == 0)); then
    rm -rf "$work"
  else
    echo "fresh-check: clone and logs kept in $work/main (out/)" >&2
  fi
  exit "$status"
}
trap finish EXIT

cd "$work/main"
# Both commands inside one fresh cache: `make test` finds what `make demo` left, exactly as
# for a user who runs the README's commands one after the other.
scripts/with-fresh-cache.sh bash -c '
  set -uo pipefail
  times=()
  for target in demo test; do
    start=$SECONDS
    mkdir -p out; make "$target" 2>&1 | tee "out/make-$target.log"
    code=${PIPESTATUS[0]}
    times+=("make $target: exit $code in $((SECONDS - start)) s")
    if ((code != 0)); then break; fi
  done
  printf "fresh-check: %s\n" "${times[@]}"
  ((code == 0))
'
