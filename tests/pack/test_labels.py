"""The `rampart.*` labels: what the model and the Docker target write is what the pack reads.

Several rules judge a container by its labels (service name, stateful, backup decision,
writable root, one-shot role). A label renamed on one side silently turns a rule off, so the
known labels are listed here once, checked against the rendered dev stack (what is written)
and against the pack's source (what is read).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from policy_harness import CONTAINER_PROPS

from policies.core import CONTAINER

pytestmark = pytest.mark.unit

POLICIES = Path(__file__).resolve().parents[2] / "policies"

# label: who writes it (and why a rule cares)
KNOWN_LABELS = {
    "rampart.service": "model, every service: the catalog name findings are reported under",
    "rampart.group": "model, every service",
    "rampart.exposure": "model, every service",
    "rampart.stateful": "model, every service: stateful-backup-declared",
    "rampart.backup": "model, stateful services with a backup job: stateful-backup-declared",
    "rampart.backup-exempt": "model, the catalog's backup_exempt reason: "
                             "stateful-backup-declared accepts it",
    "rampart.writable-root": "model, the catalog's writable_root reason: the read-only-root "
                             "rules make the finding advisory",
    "rampart.role": "Docker target: `volume-init` on the one-shot container that hands the "
                    "ACME volume to Traefik (prod); model: `job` on the catalog's one_shot "
                    "jobs (is_one_shot); the pack also accepts `edge-proxy` on "
                    "hand-written resources",
    "rampart.one-shot": "model, the catalog's one_shot reason (minio-init); policies know the "
                        "job by rampart.role=job and attach=true",
    # Read, never written by Rampart's own targets (they declare tmpfs mounts instead); kept
    # for hand-written resources judged by the same pack.
    "rampart.writable-paths": "not written by Rampart; read by the read-only-root rules",
}
# Labels the model puts on every service (and so on the harness' baseline container).
ALWAYS = {"rampart.service", "rampart.group", "rampart.exposure", "rampart.stateful"}


def _written(recording) -> dict[str, set[str]]:
    """label → containers of the rendered dev stack carrying it."""
    out: dict[str, set[str]] = {}
    for res in recording:
        if res.type != CONTAINER:
            continue
        for item in res.inputs.get("labels", []):
            if item["label"].startswith("rampart."):
                out.setdefault(item["label"], set()).add(res.name)
    return out


def _read_by_pack() -> set[str]:
    """Labels the pack's source names: literals, and `label(w, "<key>")` lookups."""
    found: set[str] = set()
    for path in POLICIES.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        found |= set(re.findall(r"[\"'](rampart\.[a-z][a-z-]*)[\"']", text))
        found |= {f"rampart.{key}" for key in
                  re.findall(r"\blabel\(\s*\w+\s*,\s*[\"']([a-z][a-z-]*)[\"']", text)}
    return found


@pytest.fixture(scope="module")
def written(dev_recording, prod_recording) -> dict[str, set[str]]:
    """label → containers carrying it, over the shipped dev and prod stacks."""
    out = _written(dev_recording)
    for label, names in _written(prod_recording).items():
        out.setdefault(label, set()).update(names)
    return out


def test_every_label_the_shipped_stacks_carry_is_known(written):
    unknown = set(written) - set(KNOWN_LABELS)
    assert not unknown, f"labels written but not listed in KNOWN_LABELS: {sorted(unknown)}"


@pytest.mark.parametrize("label", sorted(set(KNOWN_LABELS) - {"rampart.writable-paths"}))
def test_every_known_label_is_written_by_a_shipped_stack(written, label):
    assert label in written, f"{label}: listed as written ({KNOWN_LABELS[label]}) but no " \
                             "container of the dev or prod stack carries it"


def test_every_label_the_pack_reads_is_known():
    unknown = _read_by_pack() - set(KNOWN_LABELS)
    assert not unknown, f"the pack reads labels nothing writes: {sorted(unknown)}"


def test_the_pack_reads_the_reason_labels():
    read = _read_by_pack()
    assert {"rampart.backup-exempt", "rampart.writable-root", "rampart.backup",
            "rampart.stateful", "rampart.service", "rampart.role"} <= read, sorted(read)


def test_harness_baseline_carries_the_labels_every_service_gets():
    labels = {item["label"] for item in CONTAINER_PROPS["labels"]}
    assert labels == ALWAYS, sorted(labels)
