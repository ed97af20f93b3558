#!/usr/bin/env bash
# `make readiness-ci`: the readiness report from evidence recorded without the lab, the one
# .github/workflows/readiness.yml publishes (docs/ci.md). Run from the repository root.
#
#   1. the tests the requirements catalog cites, minus the lab tiers and what needs more than
#      the lock file's .venv (scripts/readiness_ci.py says which and why), record evidence;
#   2. the dev stack's policy check writes SARIF and records it as evidence;
#   3. out/readiness.json, .html and .md are rendered from that evidence.
#
# The reports are written even when a check fails, so that they can be published. Exit:
#   0  every test passed, no mandatory policy violation, no requirement failed
#      (without the lab the verdict is "incomplete": lab requirements are "not run");
#   1  reports written, but a test failed, the pack found a mandatory violation or a
#      requirement is failed (a failed blocker makes the verdict "not ready");
#   2  something could not run (the message says what); the reports may be missing.
set -uo pipefail

BIN="${BIN:-.venv/bin}"
EVIDENCE="${EVIDENCE:-out/evidence}"
OUT="${OUT:-out}"
STACK=dev
failures=()
# Every record goes to EVIDENCE, once: each command below is given it explicitly.
unset RAMPART_EVIDENCE_DIR

broken() {
  echo "readiness-ci: $*" >&2
  exit 2
}

"${BIN}/python" scripts/readiness_ci.py --evidence "${EVIDENCE}"
status=$?
case "${status}" in
  0) ;;
  1) failures+=("a test failed (pytest exit 1; its record is in ${EVIDENCE})") ;;
  *) broken "the tests could not run (pytest exit ${status})" ;;
esac

"${BIN}/rampart" policy check --stack "${STACK}" --format sarif --out "${OUT}/policy.sarif" \
  --force --evidence "${EVIDENCE}"
status=$?
case "${status}" in
  0) ;;
  1) failures+=("the policy pack found a mandatory violation (${OUT}/policy.sarif)") ;;
  *) broken "rampart policy check --stack ${STACK} could not run or record (exit ${status})" ;;
esac

# Exit 1 of `rampart readiness` is a failed blocker, which the JSON shows too (below).
for format in json html markdown; do
  report="${OUT}/readiness.${format/markdown/md}"
  "${BIN}/rampart" readiness --stack "${STACK}" --evidence "${EVIDENCE}" --format "${format}" \
    --out "${report}" --force
  status=$?
  [[ ${status} -le 1 ]] || broken "rampart readiness --format ${format} failed (exit ${status})"
done

failed="$("${BIN}/python" - "${OUT}/readiness.json" <<'PY'
import json
import sys

with open(sys.argv[1], encoding="utf-8") as report:
    doc = json.load(report)
failed = [f"{r['id']} ({r['severity']})" for r in doc["requirements"]
          if r["status"] == "failed"]
print(", ".join(failed))
PY
)" || broken "${OUT}/readiness.json is not the report rampart readiness writes"
[[ -z "${failed}" ]] || failures+=("failed requirement(s): ${failed}")

if ((${#failures[@]})); then
  printf 'readiness-ci: %s\n' "${failures[@]}" >&2
  echo "readiness-ci: reports in ${OUT}/readiness.{html,md,json}, evidence in ${EVIDENCE}" >&2
  exit 1
fi
echo "readiness-ci: reports in ${OUT}/readiness.{html,md,json}, evidence in ${EVIDENCE}"
