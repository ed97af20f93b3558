#!/bin/sh
# pg-backup: pgBackRest for the PostgreSQL service of the Docker target (infra/backups,
# docs/backups.md). Uploaded read-only by the target; the policy it sources is generated from
# the pgbackrest role's defaults, the one backup policy of VMs and Docker.
#
#   pg-backup.sh [serve]      the service: WAL archiver in the background, scheduler in front
#   pg-backup.sh backup KIND  one verified backup (full|incr|diff) with its retry and metrics
#   pg-backup.sh push         push the spooled WAL once and refresh the WAL metrics
#
# WAL archiver: PostgreSQL's archive_command copies each finished segment into the spool
# ($RAMPART_WAL_SPOOL, fsynced, renamed into place). Every RAMPART_WAL_POLL_S seconds the
# spooled files are pushed in name order with `pgbackrest archive-push <absolute path>`; a
# file is deleted only after pgBackRest accepted it (a segment already in the repository with
# the same checksum counts as accepted). RPO <= archive_timeout + poll interval + one push.
#
# Scheduler: full and incremental backups at the policy's hours and minutes (UTC: TZ=UTC in
# the catalog); a run is good only when `pgbackrest backup` exits 0 and `pgbackrest verify`
# then reports the repository ok; one retry after RAMPART_RETRY_DELAY_S. At start (once
# PostgreSQL accepts connections), a job with no verified backup takes a full one, and one
# whose last success is older than the longest gap of the schedule catches up (the role's
# timers: Persistent=true).
#
# Metrics (docs/metrics.md) go to node-exporter's textfile directory, each file written
# beside and renamed into place: rampart_backup.prom after every run, pgbackrest.prom after
# every archiver pass. The last success survives restarts, so a redeploy does not reset ages.
#
# Secrets arrive as files (/run/secrets, from Vault); pgBackRest reads options from its
# environment only, so they are exported here and never appear in the container's spec.
set -u
export LC_ALL=C  # glob order: '.history' before its segments, segments in WAL order

log() { echo "pg-backup: $*"; }
die() { echo "pg-backup: FATAL: $*" >&2; exit 1; }

policy=${RAMPART_POLICY_FILE:-/etc/rampart/pg-backup/policy.env}
[ -r "$policy" ] || die "policy file $policy is missing"
. "$policy"

for name in PGBACKREST_STANZA PGBACKREST_PG1_PATH RAMPART_WAL_SPOOL RAMPART_METRICS_DIR \
    RAMPART_BACKUP_JOB RAMPART_FULL_HOURS RAMPART_FULL_MINUTE RAMPART_INCR_HOURS \
    RAMPART_INCR_MINUTE RAMPART_CATCH_UP_AFTER_S RAMPART_RETRY_DELAY_S \
    RAMPART_BACKUP_TIMEOUT_S RAMPART_WAL_POLL_S REPO_CIPHER_PASS_FILE; do
    eval "value=\${$name:-}"
    [ -n "$value" ] || die "$name is not set (catalog environment or $policy)"
done

read_secret() {  # $1: variable pgBackRest reads, $2: the secret file
    [ -r "$2" ] || die "secret file $2 (for $1) is missing or unreadable"
    secret=$(cat "$2")
    [ -n "$secret" ] || die "secret file $2 (for $1) is empty"
    export "$1=$secret"
    unset secret
}
read_secret PGBACKREST_REPO1_CIPHER_PASS "$REPO_CIPHER_PASS_FILE"
if [ "${PGBACKREST_REPO1_TYPE:-posix}" = s3 ]; then
    [ -n "${BACKUP_S3_ACCESS_KEY_ID:-}" ] || die "BACKUP_S3_ACCESS_KEY_ID is not set"
    export PGBACKREST_REPO1_S3_KEY="$BACKUP_S3_ACCESS_KEY_ID"
    read_secret PGBACKREST_REPO1_S3_KEY_SECRET "${BACKUP_S3_SECRET_KEY_FILE:-}"
fi

[ -d "$RAMPART_WAL_SPOOL" ] || die "WAL spool $RAMPART_WAL_SPOOL does not exist"
[ -d "$RAMPART_METRICS_DIR" ] || die "metrics directory $RAMPART_METRICS_DIR does not exist"
backup_prom="$RAMPART_METRICS_DIR/rampart_backup.prom"
wal_prom="$RAMPART_METRICS_DIR/pgbackrest.prom"

write_prom() {  # $1: file; stdin: its content. Beside, then renamed: never read half-written.
    cat > "$1.tmp" && chmod 0644 "$1.tmp" && mv "$1.tmp" "$1"
}

previous() {  # $1: file, $2: metric -> its value in the file, if any
    sed -n "s/^$2{[^}]*} //p" "$1" 2>/dev/null | tail -n 1
}

# -- WAL archiver ------------------------------------------------------------------------
H='[0-9A-F]'
SEG="$H$H$H$H$H$H$H$H$H$H$H$H$H$H$H$H$H$H$H$H$H$H$H$H"
is_wal() {  # segments, partial segments, backup history and timeline history files
    case "$1" in
        $SEG | $SEG.partial | $SEG.$H$H$H$H$H$H$H$H.backup | $H$H$H$H$H$H$H$H.history) return 0 ;;
    esac
    return 1
}

last_push=$(previous "$wal_prom" pgbackrest_wal_archive_last_success_timestamp_seconds)
push_error=""

push_spool() {  # push every spooled file in order; stop at the first failure
    for file in "$RAMPART_WAL_SPOOL"/*; do
        [ -f "$file" ] || continue
        is_wal "${file##*/}" || continue
        if output=$(pgbackrest archive-push "$file" 2>&1); then
            rm -f "$file"
            last_push=$(date +%s)
            push_error=""
        else
            error=$(printf '%s\n' "$output" | grep ERROR | tail -n 1)
            # once per distinct failure, not every poll
            [ "$error" = "$push_error" ] || log "archive-push ${file##*/} failed: ${error:-$output}"
            push_error=$error
            return 1
        fi
    done
    return 0
}

wal_metrics() {  # the age of the oldest segment not yet in the repository
    now=$(date +%s)
    oldest=""
    for file in "$RAMPART_WAL_SPOOL"/* "$PGBACKREST_PG1_PATH"/pg_wal/archive_status/*.ready; do
        [ -f "$file" ] || continue
        case "$file" in *.ready) ;; *) is_wal "${file##*/}" || continue ;; esac
        stamp=$(stat -c %Y "$file" 2>/dev/null) || continue  # pushed while we looked
        if [ -z "$oldest" ] || [ "$stamp" -lt "$oldest" ]; then oldest=$stamp; fi
    done
    lag=0
    [ -z "$oldest" ] || lag=$((now - oldest))
    [ "$lag" -ge 0 ] || lag=0
    labels="stanza=\"$PGBACKREST_STANZA\""
    {
        echo '# HELP pgbackrest_wal_archive_lag_seconds Age of the oldest WAL segment waiting to be archived (0 when none waits).'
        echo '# TYPE pgbackrest_wal_archive_lag_seconds gauge'
        echo "pgbackrest_wal_archive_lag_seconds{$labels} $lag"
        if [ -n "$last_push" ]; then
            echo '# HELP pgbackrest_wal_archive_last_success_timestamp_seconds Last successful WAL archive (Unix time).'
            echo '# TYPE pgbackrest_wal_archive_last_success_timestamp_seconds gauge'
            echo "pgbackrest_wal_archive_last_success_timestamp_seconds{$labels} $last_push"
        fi
    } | write_prom "$wal_prom"
}

archiver() {
    while :; do
        push_spool
        wal_metrics
        sleep "$RAMPART_WAL_POLL_S"
    done
}

# -- backups -----------------------------------------------------------------------------
attempt() {  # $1: full|incr|diff. One backup, then verification of the repository.
    # Idempotent: creates the stanza on the first run, checks it on the others.
    if ! output=$(pgbackrest stanza-create 2>&1); then
        log "stanza-create failed: $(printf '%s\n' "$output" | grep ERROR | tail -n 1)"
        return 1
    fi
    if ! output=$(timeout "$RAMPART_BACKUP_TIMEOUT_S" pgbackrest --type="$1" backup 2>&1); then
        log "$1 backup failed: $(printf '%s\n' "$output" | grep ERROR | tail -n 1)"
        return 1
    fi
    # pgBackRest's verify exits 0 even when it finds invalid files: read its verdict.
    output=$(timeout "$RAMPART_BACKUP_TIMEOUT_S" pgbackrest --output=text --verbose verify 2>&1)
    if ! printf '%s\n' "$output" | grep -q '^status: ok'; then
        log "verify after the $1 backup failed: $(printf '%s\n' "$output" | tr '\n' ' ')"
        return 1
    fi
    return 0
}

last_backup_size() {  # repository bytes (delta) of the newest backup, from pgbackrest info
    # The JSON lists backups oldest first; each carries "repository":{"delta":N,"size":N}.
    # No jq in the image: the object has no nesting, so a pattern reads it.
    info=$(timeout 60 pgbackrest --output=json info 2>/dev/null) || return 1
    delta=$(printf '%s\n' "$info" | grep -o '"repository":{[^}]*}' | tail -n 1 \
        | grep -o '"delta":[0-9]*' | cut -d: -f2)
    [ -n "$delta" ] || return 1
    echo "$delta"
}

backup() {  # $1: kind. One run: an attempt, one retry, metrics either way.
    started=$(date +%s)
    last_ok=$(previous "$backup_prom" rampart_backup_last_success_timestamp_seconds)
    log "$1 backup starting"
    if attempt "$1"; then
        ok=1
    else
        log "$1 backup: retrying in $RAMPART_RETRY_DELAY_S s"
        wait_for "$RAMPART_RETRY_DELAY_S"
        if attempt "$1"; then ok=1; else ok=0; fi
    fi
    ended=$(date +%s)
    [ "$ok" = 0 ] || last_ok=$ended
    size=$(previous "$backup_prom" rampart_backup_last_size_bytes)
    if [ "$ok" = 1 ]; then
        # the role's figure: the repository size (delta) of the newest backup
        if new_size=$(last_backup_size); then
            size=$new_size
        else
            log "$1 backup: cannot read its size from pgbackrest info (keeping the last one)"
        fi
    fi
    labels="backup=\"$RAMPART_BACKUP_JOB\""
    {
        if [ -n "$last_ok" ]; then
            echo '# HELP rampart_backup_last_success_timestamp_seconds Last backup that passed verification (Unix time).'
            echo '# TYPE rampart_backup_last_success_timestamp_seconds gauge'
            echo "rampart_backup_last_success_timestamp_seconds{$labels} $last_ok"
        fi
        echo '# HELP rampart_backup_last_attempt_success 1 if the last run (after its retry) succeeded and verified.'
        echo '# TYPE rampart_backup_last_attempt_success gauge'
        echo "rampart_backup_last_attempt_success{$labels} $ok"
        echo '# HELP rampart_backup_last_attempt_timestamp_seconds End of the last run, success or not (Unix time).'
        echo '# TYPE rampart_backup_last_attempt_timestamp_seconds gauge'
        echo "rampart_backup_last_attempt_timestamp_seconds{$labels} $ended"
        echo '# HELP rampart_backup_last_duration_seconds Duration of the last run, retry included.'
        echo '# TYPE rampart_backup_last_duration_seconds gauge'
        echo "rampart_backup_last_duration_seconds{$labels} $((ended - started))"
        if [ -n "$size" ]; then
            echo '# HELP rampart_backup_last_size_bytes Repository size of the last good backup.'
            echo '# TYPE rampart_backup_last_size_bytes gauge'
            echo "rampart_backup_last_size_bytes{$labels} $size"
        fi
    } | write_prom "$backup_prom"
    if [ "$ok" = 1 ]; then log "RESULT ok: $1 backup verified"; else log "RESULT failed: $1 backup failed after its retry"; fi
    [ "$ok" = 1 ]
}

# -- scheduler ---------------------------------------------------------------------------
at() {  # $1: hour, $2: minute, $3: hours list, $4: minute -> is it a scheduled start?
    [ "$2" -eq "$4" ] || return 1
    for hour in $3; do
        [ "$1" -eq "$hour" ] && return 0
    done
    return 1
}

wait_for() {  # a sleep the TERM trap interrupts at once
    sleep "$1" &
    wait $!
}

serve() {
    archiver &
    archiver_pid=$!
    trap 'kill "$archiver_pid" 2>/dev/null; exit 0' TERM INT
    log "WAL archiver started (spool $RAMPART_WAL_SPOOL, every $RAMPART_WAL_POLL_S s); full at" \
        "hours $RAMPART_FULL_HOURS :$RAMPART_FULL_MINUTE, incr at hours $RAMPART_INCR_HOURS" \
        ":$RAMPART_INCR_MINUTE (UTC), retention ${PGBACKREST_REPO1_RETENTION_FULL:-?} days"
    # PostgreSQL's first start (initdb) can take a while: a backup tried before it accepts
    # connections would only fail and alert.
    waited=0
    until pg_isready -q -h "${PGBACKREST_PG1_SOCKET_PATH:-/var/run/postgresql}"; do
        [ "$waited" -lt 600 ] || { log "PostgreSQL not ready after 600 s; trying anyway"; break; }
        wait_for 5
        waited=$((waited + 5))
    done
    last_ok=$(previous "$backup_prom" rampart_backup_last_success_timestamp_seconds)
    if [ -z "$last_ok" ]; then
        backup full
    elif [ $(($(date +%s) - ${last_ok%%.*})) -gt "$RAMPART_CATCH_UP_AFTER_S" ]; then
        backup incr  # pgBackRest takes a full one instead when none exists
    fi
    done_slot=""
    while :; do
        kill -0 "$archiver_pid" 2>/dev/null || die "the WAL archiver exited"
        slot=$(date +%Y%m%d%H%M)
        if [ "$slot" != "$done_slot" ]; then
            done_slot=$slot
            hour=$(date +%H)
            minute=$(date +%M)
            if at "$hour" "$minute" "$RAMPART_FULL_HOURS" "$RAMPART_FULL_MINUTE"; then
                backup full
            elif at "$hour" "$minute" "$RAMPART_INCR_HOURS" "$RAMPART_INCR_MINUTE"; then
                backup incr
            fi
        fi
        wait_for 20
    done
}

case "${1:-serve}" in
    serve) serve ;;
    backup)
        case "${2:-}" in full | incr | diff) backup "$2" ;; *) die "usage: $0 backup full|incr|diff" ;; esac ;;
    push) push_spool; status=$?; wal_metrics; exit "$status" ;;
    *) die "usage: $0 [serve | backup full|incr|diff | push]" ;;
esac
