#!/bin/sh
# minio-init: the backup repository in the platform's MinIO, declared as code (infra/backups,
# docs/backups.md). A one-shot job of the Docker target: uploaded read-only with its settings
# (repository.env, generated from pg-backup's environment) and its policy (policy.json), run
# when created or replaced (its inputs changed), before pg-backup starts; pg-backup waits for
# it to exit 0.
#
#   1. waits for MinIO (at most RAMPART_WAIT_S seconds; a refused root login fails at once)
#   2. bucket RAMPART_S3_BUCKET               mc mb --ignore-existing
#   3. policy RAMPART_S3_POLICY (policy.json) mc admin policy create: created or replaced
#   4. user RAMPART_S3_USER, key from Vault   mc admin user add: created, or its secret key
#                                             re-set (a key rotated in Vault reaches MinIO on
#                                             the next deploy) and the user enabled
#   5. the policy attached, and the user's other policies detached (least privilege)
#   6. the user's own credentials list the bucket: pgBackRest will get in
#
# Every step is idempotent: a redeploy changes nothing that is already as declared.
# Secrets arrive as files (/run/secrets, from Vault) and reach mc on its standard input, so
# they never appear on a command line (ps, /proc) or in the container's spec (docker
# inspect); mc's configuration lives on the /tmp tmpfs, private to this run.
# Only sh, coreutils and mc are used: the MinIO image is a minimal (UBI micro) one.
set -u
export LC_ALL=C

log() { echo "minio-init: $*"; }
die() { echo "minio-init: FATAL: $*" >&2; exit 1; }
last_line() {  # the last non-empty line of $1 (mc's error is there)
    printf '%s\n' "$1" | {
        last=""
        while IFS= read -r line; do
            case "$line" in *[![:space:]]*) last=$line ;; esac
        done
        printf '%s\n' "$last"
    }
}

settings=${RAMPART_REPOSITORY_ENV:-/etc/rampart/minio-init/repository.env}
policy_file=${RAMPART_POLICY_FILE:-/etc/rampart/minio-init/policy.json}
[ -r "$settings" ] || die "settings file $settings is missing"
. "$settings"
[ -r "$policy_file" ] || die "policy file $policy_file is missing"

for name in RAMPART_S3_ENDPOINT RAMPART_S3_BUCKET RAMPART_S3_USER RAMPART_S3_POLICY \
    RAMPART_WAIT_S MINIO_ROOT_USER MINIO_ROOT_PASSWORD_FILE BACKUP_S3_SECRET_KEY_FILE; do
    eval "value=\${$name:-}"
    [ -n "$value" ] || die "$name is not set (catalog environment or $settings)"
done

secret_file() {  # $1: file, $2: what it holds
    [ -r "$1" ] || die "secret file $1 ($2) is missing or unreadable"
    [ -s "$1" ] || die "secret file $1 ($2) is empty"
}
secret_file "$MINIO_ROOT_PASSWORD_FILE" "MinIO's root password"
secret_file "$BACKUP_S3_SECRET_KEY_FILE" "the secret key of MinIO user $RAMPART_S3_USER"
key=""
IFS= read -r key < "$BACKUP_S3_SECRET_KEY_FILE" || [ -n "$key" ]
# MinIO refuses secret keys outside 8..40 characters; say so before it does, less cryptically
[ "${#key}" -ge 8 ] && [ "${#key}" -le 40 ] \
    || die "secret key in $BACKUP_S3_SECRET_KEY_FILE has ${#key} characters; MinIO takes 8..40"
unset key

umask 077
config=$(mktemp -d /tmp/mc.XXXXXX) || die "cannot create mc's configuration directory in /tmp"
trap 'rm -rf "$config"' EXIT
mcx() { mc --config-dir "$config" --no-color "$@"; }
admin=rampart-root
endpoint=$RAMPART_S3_ENDPOINT
bucket=$RAMPART_S3_BUCKET
user=$RAMPART_S3_USER
policy=$RAMPART_S3_POLICY

# The secret keys on standard input (mc reads the one missing argument from it); --api skips
# mc's signature probe, so this works before MinIO is up.
out=$(mcx alias set --api s3v4 "$admin" "$endpoint" "$MINIO_ROOT_USER" \
    < "$MINIO_ROOT_PASSWORD_FILE" 2>&1) \
    || die "cannot configure mc for $endpoint: $(last_line "$out")"

# -- 1. MinIO is up ------------------------------------------------------------------------
waited=0
poll=${RAMPART_POLL_S:-2}
until out=$(mcx admin info "$admin" 2>&1); do
    case "$out" in
        *"Access Denied"* | *InvalidAccessKeyId* | *SignatureDoesNotMatch* | *"not authorized"*)
            die "MinIO at $endpoint refuses root user $MINIO_ROOT_USER (password from" \
                "$MINIO_ROOT_PASSWORD_FILE): $(last_line "$out")" ;;
    esac
    [ "$waited" -lt "$RAMPART_WAIT_S" ] \
        || die "MinIO at $endpoint is not up after $RAMPART_WAIT_S s: $(last_line "$out")"
    [ "$waited" -gt 0 ] || log "waiting for MinIO at $endpoint (at most $RAMPART_WAIT_S s)"
    sleep "$poll"
    waited=$((waited + poll))
done
log "MinIO at $endpoint is up"

# -- 2. bucket ------------------------------------------------------------------------------
out=$(mcx mb --ignore-existing "$admin/$bucket" 2>&1) \
    || die "cannot create bucket $bucket: $(last_line "$out")"
log "bucket $bucket is there"

# -- 3. policy ------------------------------------------------------------------------------
out=$(mcx admin policy create "$admin" "$policy" "$policy_file" 2>&1) \
    || die "cannot create policy $policy from $policy_file: $(last_line "$out")"
log "policy $policy is as declared ($policy_file)"

# -- 4. user --------------------------------------------------------------------------------
out=$(mcx admin user add "$admin" "$user" < "$BACKUP_S3_SECRET_KEY_FILE" 2>&1) \
    || die "cannot create or update user $user: $(last_line "$out")"
log "user $user is there, enabled, with the secret key from $BACKUP_S3_SECRET_KEY_FILE"

# -- 5. the policy, and only it ---------------------------------------------------------------
if out=$(mcx admin policy attach "$admin" "$policy" --user "$user" 2>&1); then
    log "policy $policy attached to user $user"
else
    case "$out" in
        *"already in effect"* | *"already attached"*)
            log "policy $policy was already attached to user $user" ;;
        *) die "cannot attach policy $policy to user $user: $(last_line "$out")" ;;
    esac
fi
out=$(mcx --json admin user info "$admin" "$user" 2>&1) \
    || die "cannot read user $user: $(last_line "$out")"
# {"status": "success", "accessKey": "pg-backup", "policyName": "a,b", ...}
attached=""
case "$out" in
    *'"policyName"'*)
        rest=${out#*\"policyName\"}
        rest=${rest#*\"}
        attached=${rest%%\"*} ;;
esac
found=0
saved_ifs=$IFS
IFS=,
# shellcheck disable=SC2086 # split on commas on purpose
set -- $attached
IFS=$saved_ifs
for name in "$@"; do
    if [ "$name" = "$policy" ]; then
        found=1
        continue
    fi
    out=$(mcx admin policy detach "$admin" "$name" --user "$user" 2>&1) \
        || die "cannot detach policy $name from user $user: $(last_line "$out")"
    log "policy $name detached from user $user (it gets $policy only)"
done
[ "$found" = 1 ] || die "user $user does not have policy $policy after attaching it" \
    "(its policies: ${attached:-none})"

# -- 6. the user's own credentials work ------------------------------------------------------
out=$(mcx alias set --api s3v4 rampart-check "$endpoint" "$user" \
    < "$BACKUP_S3_SECRET_KEY_FILE" 2>&1) \
    || die "cannot configure mc for user $user: $(last_line "$out")"
out=$(mcx ls "rampart-check/$bucket" 2>&1) \
    || die "user $user cannot list bucket $bucket with its secret key: $(last_line "$out")"
log "RESULT ok: bucket $bucket, policy $policy and user $user are as declared"
