"""The drills: one fault each, on the default lab's hosts (docs/drills.md).

Every drill's fault stays inside a lab host (its services, its mounts, its own network
namespace), is bounded in size and time, and is reverted by its `cleanup` whatever happened.
"""

from __future__ import annotations

import json
import re
import secrets
import shlex
import ssl
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from infra.drills.engine import Ctx, Drill, Expect, Fix, Stage
from infra.drills.errors import DrillError, DrillInputError
from infra.drills.monitor import Timing
from infra.lab.config import DEFAULT_HOSTS

REPO = Path(__file__).resolve().parents[2]
ADDRESS = dict(DEFAULT_HOSTS)
NODE_PORT = 9100
INVENTORY = "inventories/lab/hosts.yml"


def node(host: str) -> str:
    """The node_exporter target of a lab host, as the `instance` label spells it."""
    return f"{ADDRESS[host]}:{NODE_PORT}"


def _role_default(role: str, name: str) -> Any:
    return yaml.safe_load((REPO / f"roles/{role}/defaults/main.yml").read_text())[name]


def _span(text: str) -> float:
    """A systemd time span of the simple kinds the roles use (10s, 15s, 1min, 5min)."""
    m = re.fullmatch(r"(\d+)\s*(s|sec|m|min)?", str(text).strip())
    if not m:
        raise DrillInputError(f"cannot read the time span {text!r}")
    return float(m[1]) * (60 if m[2] in ("m", "min") else 1)


def _threshold(expr: str, what: str) -> float:
    m = re.search(r">\s*([0-9.e+]+)", expr)
    if not m:
        raise DrillInputError(f"no threshold in the rule of {what}: {expr}")
    return float(m[1])


def _wait(ctx: Ctx, what: str, probe: Any, timeout: float, every: float = 1.0) -> Any:
    end = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() >= end:
            raise DrillError(f"{what}: not after {timeout:g} s")
        time.sleep(every)


def _active(ctx: Ctx, host: str, unit: str) -> bool:
    out = ctx.lab.sh(host, f"systemctl is-active {shlex.quote(unit)} || true")
    return out.strip() == "active"


# ------------------------------------------------------------ node_exporter stopped
def node_exporter_stopped(host: str = "app1") -> Drill:
    unit = "prometheus-node-exporter"

    def verify(ctx: Ctx) -> None:
        if not _active(ctx, host, unit):
            raise DrillError(f"{host}: {unit} is not running after the fix")
        _wait(ctx, f"Prometheus scraping {node(host)} again",
              lambda: ctx.monitor.query(f'up{{instance="{node(host)}"}} == 1'), 30)

    return Drill(
        name="node-exporter-stopped",
        summary=f"node_exporter stopped on {host} -> TargetDown",
        host=host,
        fast=True,
        stages=(Stage(f"stop {unit} on {host}",
                      lambda ctx: ctx.lab.sh(host, f"systemctl stop {unit}"),
                      (Expect("TargetDown", "warning",
                              {"instance": node(host), "job": "node"}),)),),
        fixes=(Fix("TargetDown", "node-exporter-stopped"),),
        verify=verify,
        cleanup=lambda ctx: ctx.lab.sh(host, f"systemctl start {unit}"),
    )


# ------------------------------------------------------------ host powered off
def host_powered_off(host: str = "app1") -> Drill:
    def prepare(ctx: Ctx) -> None:
        ctx.state["failed"] = ctx.lab.sh(host, "systemctl --failed --plain --no-legend "
                                               "| awk '{print $1}' | sort").split()

    def verify(ctx: Ctx) -> None:
        state = ctx.lab.sh(host, "systemctl is-system-running --wait || true").strip()
        if state not in ("running", "degraded"):
            raise DrillError(f"{host} after power-on: systemd is {state!r}")
        failed = ctx.lab.sh(host, "systemctl --failed --plain --no-legend "
                                  "| awk '{print $1}' | sort").split()
        new = sorted(set(failed) - set(ctx.state["failed"]))
        if new:
            raise DrillError(f"{host} after power-on: units failed that ran before: {new}")
        for unit in ("nftables", "fail2ban", "prometheus-node-exporter", "ssh"):
            if not _active(ctx, host, unit):
                raise DrillError(f"{host} after power-on: {unit} is not running")
        ctx.lab.sh(host, "nft list table inet rampart_filter > /dev/null")

    def cleanup(ctx: Ctx) -> None:
        if not ctx.lab.running(host):
            ctx.lab.controller("rampart lab up", {})

    target = {"instance": node(host), "job": "node"}
    return Drill(
        name="host-powered-off",
        summary=f"lab host {host} powered off -> TargetDown, then HostDown",
        host=host,
        fast=False,
        # Timed from the power-off request: the exporter is gone early in the shutdown.
        stages=(Stage(f"power {host} off", lambda ctx: ctx.lab.power_off(host),
                      (Expect("TargetDown", "warning", target),
                       Expect("HostDown", "critical", target)), timed_from_start=True),),
        fixes=(Fix("HostDown", "host-powered-off"),),
        prepare=prepare,
        verify=verify,
        cleanup=cleanup,
        resolve_timeout=240,
        notes="A powered-off nspawn host keeps its network namespace, so Prometheus gets "
              "'connection refused' at once (a real host times out: add scrape_timeout).",
    )


# ------------------------------------------------------------ filesystem filling
DISK_PARENT = "/var/lib/rampart-drill"
DISK_MOUNT = f"{DISK_PARENT}/disk"
DISK_MIB = 16
KEEP_KIB = 256


def disk_filling(host: str = "app1") -> Drill:
    mount = DISK_MOUNT
    size = DISK_MIB * 1024 * 1024
    labels = {"instance": node(host), "mountpoint": mount}

    def prepare(ctx: Ctx) -> None:
        # A small tmpfs of the drill's own: the fault is bounded by its size and gone with
        # its unmount. A file that must survive the fix, older than the runaway one.
        ctx.lab.sh(host, f"""set -eu
# node_exporter (user prometheus) must reach the mount point to statfs it
mkdir -p {mount}
chmod 0755 {DISK_PARENT} {mount}
mountpoint -q {mount} || mount -t tmpfs -o size={DISK_MIB}m,mode=0755 rampart-drill {mount}
head -c {KEEP_KIB * 1024} /dev/urandom > {mount}/keep.db
touch -d '2 hours ago' {mount}/keep.db""")
        ctx.state["keep"] = ctx.lab.sh(host, f"sha256sum {mount}/keep.db").split()[0]
        _wait(ctx, f"node_exporter on {host} reporting {mount}",
              lambda: ctx.monitor.query(f'node_filesystem_size_bytes{{instance="{node(host)}",'
                                        f'mountpoint="{mount}"}}'), 30)

    def fill(fraction: float) -> Any:
        def act(ctx: Ctx) -> None:
            used = int(ctx.lab.sh(host, f"stat -f -c '%b %f %S' {mount} | "
                                        "awk '{print ($1 - $2) * $3}'").strip())
            more = int(size * fraction) - used
            if more > 0:
                ctx.lab.sh(host, f"head -c {more} /dev/zero >> {mount}/runaway.log")
        return act

    def verify(ctx: Ctx) -> None:
        keep = ctx.lab.sh(host, f"sha256sum {mount}/keep.db").split()[0]
        if keep != ctx.state["keep"]:
            raise DrillError(f"{host}: {mount}/keep.db changed: the fix removed more than "
                             "the runaway file")
        if ctx.lab.sh(host, f"stat -c %s {mount}/runaway.log").strip() != "0":
            raise DrillError(f"{host}: {mount}/runaway.log was not truncated")

    def cleanup(ctx: Ctx) -> None:
        ctx.lab.sh(host, f"if mountpoint -q {mount}; then umount {mount}; fi; "
                         f"rmdir {mount} {DISK_PARENT} 2> /dev/null || true")

    return Drill(
        name="disk-filling",
        summary=f"a {DISK_MIB} MiB tmpfs on {host} filled to 80 % then 92 % -> HostDiskFilling "
                "warning, then critical",
        host=host,
        fast=True,
        stages=(
            Stage("fill to 80 %", fill(0.80),
                  (Expect("HostDiskFilling", "warning", labels),)),
            Stage("fill to 92 %", fill(0.92),
                  (Expect("HostDiskFilling", "critical", labels),)),
        ),
        fixes=(Fix("HostDiskFilling", "runaway-file"),),
        prepare=prepare,
        verify=verify,
        cleanup=cleanup,
    )


# ------------------------------------------------------------ PostgreSQL
def _psql(sql: str) -> str:
    return ("runuser -u postgres -- psql -X -q -A -t -v ON_ERROR_STOP=1 -d postgres -c "
            + shlex.quote(sql))


def _marker(ctx: Ctx, host: str) -> None:
    token = secrets.token_hex(8)
    ctx.lab.sh(host, _psql("CREATE TABLE IF NOT EXISTS rampart_drill_marker "
                           "(token text PRIMARY KEY, at timestamptz DEFAULT now())"))
    # The token is hex digits of our own making: nothing to inject.
    ctx.lab.sh(host, _psql(f"INSERT INTO rampart_drill_marker (token) VALUES ('{token}')"))  # noqa: S608
    ctx.state["token"] = token


def _marker_kept(ctx: Ctx, host: str) -> None:
    token = ctx.state["token"]
    found = ctx.lab.sh(host, _psql(f"SELECT count(*) FROM rampart_drill_marker "  # noqa: S608
                                   f"WHERE token = '{token}'")).strip()
    if found != "1":
        raise DrillError(f"{host}: the row committed before the fault ({token}) is gone")


CLUSTERS = "pg_lsclusters --no-header | awk '{print $1 \"-\" $2}'"


def _drop_marker(ctx: Ctx, host: str) -> None:
    """The drill's table goes with the drill (once PostgreSQL accepts connections again)."""
    ctx.lab.sh(host, "for i in $(seq 30); do pg_isready -q && break; sleep 1; done; "
                     + _psql("DROP TABLE IF EXISTS rampart_drill_marker"))


def postgres_stopped(host: str = "db1") -> Drill:
    def act(ctx: Ctx) -> None:
        clusters = ctx.lab.sh(host, CLUSTERS).split()
        if not clusters:
            raise DrillError(f"{host}: no PostgreSQL cluster (pg_lsclusters)")
        ctx.state["clusters"] = clusters
        ctx.lab.sh(host, "".join(f"systemctl stop postgresql@{c}\n" for c in clusters))

    def verify(ctx: Ctx) -> None:
        ctx.lab.sh(host, "pg_isready -q")
        _marker_kept(ctx, host)

    def cleanup(ctx: Ctx) -> None:
        for cluster in ctx.state.get("clusters", []):
            ctx.lab.sh(host, f"systemctl start postgresql@{cluster}")
        _drop_marker(ctx, host)

    return Drill(
        name="postgres-stopped",
        summary=f"PostgreSQL stopped on {host} -> DatabaseDown",
        host=host,
        fast=True,
        stages=(Stage(f"stop the PostgreSQL cluster on {host}", act,
                      (Expect("DatabaseDown", "critical", {"instance": node(host)}),)),),
        fixes=(Fix("DatabaseDown", "cluster-stopped"),),
        prepare=lambda ctx: _marker(ctx, host),
        verify=verify,
        cleanup=cleanup,
    )


# ------------------------------------------------------------ pgBackRest repository
PGBR_CONF = "/etc/pgbackrest/pgbackrest.conf"
TEXTFILE_DIR = "/var/lib/prometheus/node-exporter"


def _backup_metrics(ctx: Ctx, host: str) -> dict[str, float]:
    text = ctx.lab.sh(host, f"cat {TEXTFILE_DIR}/rampart_backup.prom")
    return {m[1]: float(m[2]) for m in re.finditer(r"^(rampart_backup_\w+)\{[^}]*\} (\S+)$",
                                                    text, re.M)}


def _backup_labels(ctx: Ctx, host: str, stanza: str) -> list[str]:
    out = ctx.lab.sh(host, f"runuser -u postgres -- pgbackrest --stanza={stanza} "
                           "--output=json info", timeout=120)
    info = json.loads(out)
    return [b["label"] for s in info if s["name"] == stanza for b in s.get("backup", [])]


def backup_repository_unwritable(host: str = "db1") -> Drill:
    def repo(ctx: Ctx) -> str:
        return str(ctx.state["repo"])

    def prepare(ctx: Ctx) -> None:
        conf = ctx.lab.sh(host, f"cat {PGBR_CONF}")
        ctx.state["repo"] = re.search(r"^repo1-path=(\S+)$", conf, re.M)[1]  # type: ignore[index]
        ctx.state["stanza"] = [s for s in re.findall(r"^\[([^\]]+)\]$", conf, re.M)
                               if s != "global"][0]
        foreign = ctx.lab.sh(host, f"find {repo(ctx)} ! -user postgres | head -n 3").strip()
        if foreign:
            raise DrillError(f"{host}: files in {repo(ctx)} not owned by postgres before the "
                             f"fault: {foreign}")
        ctx.state["labels"] = _backup_labels(ctx, host, ctx.state["stanza"])
        ctx.state["metrics"] = _backup_metrics(ctx, host)
        _marker(ctx, host)

    def unwritable(ctx: Ctx) -> None:
        # The cluster's user may no longer create anything in the repository (what a
        # restore run as root, or a wrong chmod, leaves behind); then a segment is completed,
        # so one waits for the archive.
        ctx.lab.sh(host, f"find {repo(ctx)} -type d -exec chmod u-w {{}} +")
        ctx.lab.sh(host, _psql("INSERT INTO rampart_drill_marker (token) VALUES "  # noqa: S608
                               f"('{ctx.state['token']}-wal')"))
        ctx.state["segment"] = ctx.lab.sh(
            host, _psql("SELECT pg_walfile_name(pg_current_wal_lsn())")).strip()
        ctx.lab.sh(host, _psql("SELECT pg_switch_wal()"))

    def scheduled_backup(ctx: Ctx) -> None:
        ctx.lab.sh(host, "systemctl start rampart-pg-backup@incr.service || true", timeout=600)
        result = ctx.lab.sh(host, "systemctl show -P Result rampart-pg-backup@incr.service")
        if result.strip() == "success":
            raise DrillError(f"{host}: the backup succeeded into an unwritable repository")
        # No backup marked good that is not restorable: no new set, no new success.
        labels = _backup_labels(ctx, host, ctx.state["stanza"])
        metrics = _backup_metrics(ctx, host)
        last = "rampart_backup_last_success_timestamp_seconds"
        if labels != ctx.state["labels"]:
            raise DrillError(f"{host}: a backup set appeared during the fault: "
                             f"{sorted(set(labels) - set(ctx.state['labels']))}")
        if metrics.get(last) != ctx.state["metrics"].get(last):
            raise DrillError(f"{host}: {last} moved during the fault")
        if metrics.get("rampart_backup_last_attempt_success") != 0:
            raise DrillError(f"{host}: the failed run was not recorded as failed")

    def wal_delay(timing: Timing) -> tuple[float, str]:
        lag = _threshold(timing.expr("WalArchivingLagging", "critical"), "WalArchivingLagging")
        refresh = 60.0  # rampart-pgbackrest-wal-metrics.timer: minutely
        return lag + refresh, f"the segment must wait {lag:g} s, metrics refresh every 60 s"

    def verify(ctx: Ctx) -> None:
        labels = _backup_labels(ctx, host, ctx.state["stanza"])
        if len(labels) <= len(ctx.state["labels"]):
            raise DrillError(f"{host}: no new backup set after the fix")
        if _backup_metrics(ctx, host).get("rampart_backup_last_attempt_success") != 1:
            raise DrillError(f"{host}: the backup after the fix is not recorded good")
        archived = ctx.lab.sh(host, _psql("SELECT last_archived_wal FROM pg_stat_archiver"))
        if archived.strip()[:24] < ctx.state["segment"]:
            raise DrillError(f"{host}: WAL segment {ctx.state['segment']} completed during the "
                             f"fault is not archived (last archived: {archived.strip()})")
        _marker_kept(ctx, host)

    def cleanup(ctx: Ctx) -> None:
        if "repo" in ctx.state:
            ctx.lab.sh(host, f"chown -R postgres:postgres {repo(ctx)}; "
                             f"find {repo(ctx)} -type d -exec chmod u+rwx {{}} +")
        _drop_marker(ctx, host)

    return Drill(
        name="backup-repository-unwritable",
        summary=f"pgBackRest repository on {host} unwritable -> WalArchivingLagging, then "
                "BackupFailed after the retry; no backup marked good",
        host=host,
        fast=False,
        stages=(
            Stage("repository unwritable, a WAL segment completed", unwritable,
                  (Expect("WalArchivingLagging", "critical", {"instance": node(host)},
                          delay=wal_delay),)),
            Stage("the scheduled backup runs (and retries)", scheduled_backup,
                  (Expect("BackupFailed", "critical", {"instance": node(host)}),)),
        ),
        fixes=(Fix("WalArchivingLagging", "repository-unwritable"),
               Fix("BackupFailed", "run-again")),
        prepare=prepare,
        verify=verify,
        cleanup=cleanup,
        resolve_timeout=300,
    )


# ------------------------------------------------------------ OpenBao
OPENBAO_HOST = "mon1"
OPENBAO_URL = f"https://{ADDRESS[OPENBAO_HOST]}:8200"
INIT_FILE = REPO / "inventories/lab/.state/openbao-init.json"
CA_FILE = REPO / "inventories/lab/.state/openbao-ca.pem"
UNSEAL = f"ansible-playbook -i {INVENTORY} playbooks/openbao-init.yml"


def _bao(path: str, method: str = "GET", body: dict | None = None,
         token: str | None = None) -> tuple[int, Any]:
    context = ssl.create_default_context(cafile=str(CA_FILE))
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(  # noqa: S310 - a fixed https URL
        f"{OPENBAO_URL}/v1/{path}", data=data, method=method)
    if token:
        request.add_header("X-Vault-Token", token)
    try:
        with urllib.request.urlopen(request, timeout=10, context=context) as response:  # noqa: S310
            raw = response.read()
            return response.status, json.loads(raw) if raw else {}
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        try:
            return exc.code, json.loads(raw) if raw else {}
        except ValueError:
            return exc.code, {}
    except OSError as exc:
        return 0, {"error": str(exc)}


def _root_token() -> str:
    try:
        return str(json.loads(INIT_FILE.read_text())["root_token"])
    except (OSError, ValueError, KeyError) as exc:
        raise DrillError(f"{INIT_FILE}: no root token ({exc}): run {UNSEAL}") from None


def _unsealed_with_marker(ctx: Ctx) -> None:
    status, health = _bao("sys/health")
    if status == 0 or health.get("sealed", True) or not health.get("initialized"):
        ctx.log(f"  OpenBao on {OPENBAO_HOST} is not initialised and unsealed: {UNSEAL}")
        ctx.lab.controller(UNSEAL, {})
    ctx.state["token"] = secrets.token_hex(8)
    status, _ = _bao("cubbyhole/rampart-drill", "POST", {"marker": ctx.state["token"]},
                     _root_token())
    if status not in (200, 204):
        raise DrillError(f"OpenBao at {OPENBAO_URL}: cannot write the drill's marker "
                         f"(HTTP {status})")


def _secrets_check(ctx: Ctx) -> tuple[int, str]:
    """`rampart secrets check` against the lab server with the lab's root token."""
    env = {"VAULT_TOKEN": _root_token(), "VAULT_CACERT": str(CA_FILE)}
    script = (f"rc=0; rampart secrets check --stack dev --addr {OPENBAO_URL} 2>&1 || rc=$?; "
              'echo "exit=$rc"')
    out = ctx.lab.controller(script, env).strip()
    text, _, code = out.rpartition("exit=")
    return int(code), text.strip()


def _check_names(ctx: Ctx, code: int, words: tuple[str, ...]) -> None:
    got, text = _secrets_check(ctx)
    ctx.log(f"  rampart secrets check: exit {got}: {text.splitlines()[-1] if text else ''}")
    if got != code or not any(w in text for w in words):
        raise DrillError(f"`rampart secrets check` during the fault: exit {got}, {text!r}; "
                         f"expected exit {code} naming {' or '.join(words)}")


def _marker_readable(ctx: Ctx) -> None:
    status, body = _bao("cubbyhole/rampart-drill", token=_root_token())
    if status != 200 or body.get("data", {}).get("marker") != ctx.state["token"]:
        raise DrillError(f"OpenBao: the marker written before the fault is not readable "
                         f"(HTTP {status})")
    got, text = _secrets_check(ctx)
    if got == 3 and ("sealed" in text or "cannot connect" in text):
        raise DrillError(f"`rampart secrets check` after the fix still says: {text}")


def _health_delay(_t: Timing) -> tuple[float, str]:
    interval = _span(_role_default("openbao", "openbao_health_interval"))
    return interval, f"rampart-openbao-health.timer runs every {interval:g} s"


def _reseal_cleanup(ctx: Ctx) -> None:
    if not _active(ctx, OPENBAO_HOST, "openbao"):
        ctx.lab.sh(OPENBAO_HOST, "systemctl start openbao")
    status, health = _bao("sys/health")
    if status == 0:
        time.sleep(2)
        status, health = _bao("sys/health")
    if health.get("initialized") and health.get("sealed"):
        ctx.lab.controller(UNSEAL, {})
    if "token" in ctx.state:  # the drill's marker goes with the drill
        _bao("cubbyhole/rampart-drill", "DELETE", token=_root_token())


def openbao_sealed() -> Drill:
    def seal(ctx: Ctx) -> None:
        status, body = _bao("sys/seal", "PUT", None, _root_token())
        if status not in (200, 204):
            raise DrillError(f"OpenBao at {OPENBAO_URL}: seal refused (HTTP {status}: {body})")

    return Drill(
        name="openbao-sealed",
        summary=f"OpenBao on {OPENBAO_HOST} sealed -> SecretsBackendSealed; `rampart secrets "
                "check` names it",
        host=OPENBAO_HOST,
        fast=True,
        stages=(Stage("seal OpenBao", seal,
                      (Expect("SecretsBackendSealed", "critical",
                              {"instance": node(OPENBAO_HOST)}, delay=_health_delay),)),),
        fixes=(Fix("SecretsBackendSealed", "lab-unseal"),),
        prepare=_unsealed_with_marker,
        during=lambda ctx: _check_names(ctx, 3, ("sealed",)),
        verify=_marker_readable,
        cleanup=_reseal_cleanup,
    )


def openbao_stopped() -> Drill:
    return Drill(
        name="openbao-stopped",
        summary=f"OpenBao on {OPENBAO_HOST} stopped -> SecretsBackendDown; `rampart secrets "
                "check` names it",
        host=OPENBAO_HOST,
        fast=False,
        stages=(Stage("stop OpenBao", lambda ctx: ctx.lab.sh(OPENBAO_HOST,
                                                              "systemctl stop openbao"),
                      (Expect("SecretsBackendDown", "critical",
                              {"instance": node(OPENBAO_HOST)}, delay=_health_delay),)),),
        # Started again it is sealed, as after any restart: the unseal follows.
        fixes=(Fix("SecretsBackendDown", "service-stopped"),
               Fix("SecretsBackendSealed", "lab-unseal")),
        prepare=_unsealed_with_marker,
        during=lambda ctx: _check_names(ctx, 3, ("cannot connect",)),
        verify=_marker_readable,
        cleanup=_reseal_cleanup,
    )


# ------------------------------------------------------------ time sync
def time_sync_stopped(host: str = "app1") -> Drill:
    def verify(ctx: Ctx) -> None:
        if not _active(ctx, host, "chrony"):
            raise DrillError(f"{host}: chrony is not running after the fix")
        ctx.lab.sh(host, "chronyc -n tracking > /dev/null")

    return Drill(
        name="time-sync-stopped",
        summary=f"chrony stopped on {host} -> TimeSyncStopped",
        host=host,
        fast=True,
        stages=(Stage(f"stop chrony on {host}",
                      lambda ctx: ctx.lab.sh(host, "systemctl stop chrony"),
                      (Expect("TimeSyncStopped", "warning", {"instance": node(host)}),)),),
        fixes=(Fix("TimeSyncStopped", "chrony-stopped"),),
        verify=verify,
        cleanup=lambda ctx: ctx.lab.sh(host, "systemctl start chrony"),
        notes="A systemd-nspawn host cannot step its clock (no CAP_SYS_TIME; the kernel clock "
              "is the machine's) and node_exporter's timex collector fails there, so "
              "HostClockSkew and HostClockNotSynchronising are proven by promtool only; the "
              "drill stops time sync and proves TimeSyncStopped.",
    )


# ------------------------------------------------------------ SSH brute force
ATTACKER_ADDRESS = "10.77.0.5"  # inside the admin range the target admits SSH from


def ssh_brute_force(target: str = "app1", attacker: str = "edge1") -> Drill:
    """Lab hosts may not SSH to each other (their firewalls admit the admin range only), so
    the attacker host gets a second address inside that range, in its own namespace, and
    attacks from there; the controller (10.77.0.1) is on fail2ban's ignore list."""
    dst = ADDRESS[target]
    probe = ("python3 -c 'import socket,sys; s=socket.socket(); s.settimeout(3); "
             f"s.bind((\"{ATTACKER_ADDRESS}\", 0)); "
             f"sys.exit(0 if s.connect_ex((\"{dst}\", 22)) == 0 else 1)'")

    def prepare(ctx: Ctx) -> None:
        if not _active(ctx, target, "fail2ban"):
            raise DrillError(f"{target}: fail2ban is not running")
        ctx.lab.sh(attacker, f"ip -4 addr show dev eth0 | grep -q ' {ATTACKER_ADDRESS}/' || "
                             f"ip addr add {ATTACKER_ADDRESS}/32 dev eth0")
        ctx.state["address"] = True
        _wait(ctx, f"{attacker} reaching {target}:22 from {ATTACKER_ADDRESS}",
              lambda: ctx.lab.sh(attacker, f"{probe} && echo open || true").strip(), 15)

    def attack(ctx: Ctx) -> None:
        # One more than the jail's maxretry (3): the last one is already refused.
        ctx.lab.sh(attacker, f"""for i in 1 2 3 4; do
  ssh -b {ATTACKER_ADDRESS} -o BatchMode=yes -o StrictHostKeyChecking=no \\
      -o UserKnownHostsFile=/dev/null -o ConnectTimeout=3 -o LogLevel=QUIET \\
      drill-attacker-$i@{dst} true || true
done""", timeout=120)

    def blocked(ctx: Ctx) -> None:
        if ctx.lab.sh(attacker, f"{probe} && echo open || echo blocked").strip() != "blocked":
            raise DrillError(f"{attacker} ({ATTACKER_ADDRESS}) still reaches {target}:22 "
                             "after the ban")
        ctx.lab.sh(target, "true")  # the controller is not banned

    def lift(ctx: Ctx) -> None:
        # fail2ban reads the journal asynchronously: an unban may be followed by a late ban
        # of the same failures; unban until it stays so.
        clear = 0
        for _ in range(20):
            ctx.lab.sh(target, f"fail2ban-client unban {ATTACKER_ADDRESS} > /dev/null || true")
            time.sleep(2)
            banned = ctx.lab.sh(target, "fail2ban-client banned")
            clear = clear + 1 if ATTACKER_ADDRESS not in banned else 0
            if clear >= 2:
                return
        raise DrillError(f"{target}: {ATTACKER_ADDRESS} keeps being banned again")

    def verify(ctx: Ctx) -> None:
        _wait(ctx, f"{attacker} reaching {target}:22 again after the unban",
              lambda: ctx.lab.sh(attacker, f"{probe} && echo open || true").strip(), 15)

    def cleanup(ctx: Ctx) -> None:
        lift(ctx)
        if ctx.state.get("address"):
            ctx.lab.sh(attacker, f"ip addr del {ATTACKER_ADDRESS}/32 dev eth0 || true")

    def f2b_delay(_t: Timing) -> tuple[float, str]:
        interval = _span(_role_default("fail2ban", "fail2ban_metrics_interval"))
        # Timed from the attack's end (the 4th connection is already refused, so the ban is
        # in place): the metric waits for the timer, and fail2ban's journal poll before it.
        return interval + 2, (f"rampart-fail2ban-metrics.timer runs every {interval:g} s; "
                              "2 s for fail2ban's journal poll")

    return Drill(
        name="ssh-brute-force",
        summary=f"SSH brute force from {attacker} on {target} -> banned (fail2ban metric), "
                "attacker blocked",
        host=target,
        fast=False,
        stages=(Stage(f"failed SSH logins from {attacker} ({ATTACKER_ADDRESS})", attack,
                      (Expect("fail2ban ban", query=f'rampart_fail2ban_banned{{jail="sshd",'
                              f'instance="{node(target)}"}} >= 1', delay=f2b_delay),)),),
        fixes=(),
        prepare=prepare,
        during=blocked,
        remedy=lift,
        verify=verify,
        cleanup=cleanup,
        notes="No alert: bans are routine on a public host. The ban is visible as "
              "rampart_fail2ban_banned; the drill measures time-to-metric and lifts the ban.",
    )


# ------------------------------------------------------------ CPU pressure
STRESS_UNIT = "rampart-drill-stress"
STRESS_MAX_S = 240


def cpu_pressure(host: str = "app1") -> Drill:
    def stress(ctx: Ctx) -> None:
        # One busy loop per core, in a transient unit that systemd stops by itself after
        # STRESS_MAX_S even if nothing else does.
        ctx.lab.sh(host, f"systemd-run --quiet --unit={STRESS_UNIT} "
                         f"--property=RuntimeMaxSec={STRESS_MAX_S} sh -c "
                         "'for i in $(seq $(nproc)); do yes > /dev/null & done; wait'")

    def climb(timing: Timing) -> tuple[float, str]:
        expr = timing.expr("HostCpuHigh", "warning")
        m = re.search(r"\[(\w+)\]", expr)
        window = _span(m[1].replace("m", "min") if m and m[1].endswith("m") else
                       (m[1] if m else "300"))
        level = _threshold(expr, "HostCpuHigh")
        return window * level, f"the {window:g} s rate must climb to {level:g}"

    def verify(ctx: Ctx) -> None:
        if _active(ctx, host, STRESS_UNIT):
            raise DrillError(f"{host}: {STRESS_UNIT} still runs after the fix")
        for unit in ("ssh", "prometheus-node-exporter"):
            if not _active(ctx, host, unit):
                raise DrillError(f"{host}: the fix stopped {unit}")

    return Drill(
        name="cpu-pressure",
        summary=f"every core busy on {host} -> HostCpuHigh",
        host=host,
        fast=False,
        stages=(Stage(f"busy loops on every core of {host}", stress,
                      (Expect("HostCpuHigh", "warning", {"instance": node(host)}, delay=climb),)),),
        fixes=(Fix("HostCpuHigh", "runaway-process"),),
        verify=verify,
        # The machine's other work (the lab is shared) can hold the 1 min average up a while.
        resolve_timeout=300,
        cleanup=lambda ctx: ctx.lab.sh(host, f"systemctl stop {STRESS_UNIT} 2> /dev/null; "
                                             f"systemctl reset-failed {STRESS_UNIT} "
                                             "2> /dev/null || true"),
        notes="node_exporter in a container reads the machine's /proc/stat: every lab host "
              "reports the machine's CPU, so HostCpuHigh fires for all four instances and "
              "the stress loads the whole machine for about a minute.",
    )


def drills() -> list[Drill]:
    return [
        node_exporter_stopped(),
        disk_filling(),
        postgres_stopped(),
        openbao_sealed(),
        time_sync_stopped(),
        host_powered_off(),
        backup_repository_unwritable(),
        openbao_stopped(),
        ssh_brute_force(),
        cpu_pressure(),
    ]


def by_name(name: str) -> Drill:
    found = {d.name: d for d in drills()}
    if name not in found:
        raise DrillInputError(f"no drill named {name!r} (drills: {', '.join(found)})")
    return found[name]
