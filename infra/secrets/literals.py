"""Literal secrets in what reaches a container: one pure detector (no I/O, no Pulumi).

The model runs it over every catalog field that ends up in a container (environment,
entrypoint/command, health check, labels, …) and the policy pack over the resources a target
produced; both refuse a finding. A finding says *where* (`environment.POSTGRES_PWD`,
`command[3]`) and *why* (`names a credential`), never the value, so callers may print it.

What counts as a literal secret (the rules, in the order they are tried):

1. **A name that names a credential** (`is_credential_name`): an environment key, an
   assignment inside a shell string (`PGPASSWORD=x cmd`, `export API_TOKEN=x`) or a
   `--flag=value` whose name, split into words (snake, kebab, dotted or camel case, any
   letter case), holds a credential word — password, passwd, pass, pwd, pw, passphrase,
   secret, token, key, apikey, auth, credential(s), creds, cookie, pepper, salt,
   private_key, … — or a compound of one (`requirepass`, `masterauth`, `dbpassword`,
   `apikey`, `secretkey`). Not flagged: `key` after a word that makes it an identifier
   (`PUBLIC_KEY`, `PARTITION_KEY`, `ROUTING_KEY`, `CACHE_KEY`); a name whose *last* word says
   what kind of non-secret the value is (`*_URL`, `*_HOST`, `*_USER`, `*_ID`, `*_TTL`,
   `*_LENGTH`, `*_ENABLED`, `*_TYPE`, … see `_DESCRIPTORS`): `AUTH_SERVICE_URL`,
   `PASSWORD_MIN_LENGTH`, `GF_AUTH_ANONYMOUS_ENABLED`; the shell's `PWD`/`OLDPWD`. Words are
   whole words, so `KEYCLOAK_URL`, `MONKEY` and `AUTHOR` are not credentials.
   The value is fine (not a literal) when it is: empty; a boolean word (true/false, yes/no,
   on/off, 0/1, none); a reference — `$NAME`, `${NAME}`, `$1`, `${NAME:-<fine value>}`,
   `${NAME:?message}`, `$(cat <secret file or $VAR>)`, `$(< <secret file>)` or the backtick
   form (another command substitution is refused as "credential computed by a command",
   whatever it prints); openssl's `env:NAME`; or a path under a
   secret directory (`/run/secrets/...`, also as `file:`/`@` + path). Anything else is
   refused ("names a credential", or "a known default password" when it is on the denylist
   `rampart secrets` uses, infra/secrets/strength.py).
2. **A credential file name** (`*_FILE`, `*_PATH`, `*_DIR` … after a credential name, and
   `--password-file`-style flags): the value must be a path under a secret directory or a
   reference ("credential file outside /run/secrets"): the secret comes from the secret
   store as a file, nowhere else.
3. **Password in URL userinfo**: `scheme://user:password@host` for any scheme, anywhere in a
   string (also MySQL DSNs `user:password@tcp(host)`), unless the password is a reference.
4. **Flag values**: `--*pass*`, `--*secret*`, `--*token*`, `--*key*` (word rules of 1) given
   as `--flag=value` or, when the flag's last word is the credential word, as the next argv
   item (`--requirepass X`, `--api-key X`). Flags starting with `no-`/`skip-`/`disable-` are
   switches, not valued. Known option pairs of tools whose short option takes a password:
   `redis-cli -a X`, `mysql -pX` / `-p X` (and mysqldump, mysqladmin, mariadb, …),
   `mongo`/`mongosh -p X`, `sshpass -p X`, `zip`/`unzip -P X`, `docker login -p X`,
   `curl -u user:X` / `--user user:X`, `rabbitmqctl add_user|change_password NAME X`,
   `mc alias set NAME URL KEY SECRET`, and OpenSSL's `pass:X` password argument.
5. **A known default password** anywhere (whole value or argv item): the `rampart secrets`
   denylist (weak.DENYLIST_EXACT) minus the entries that are ordinary words, user names
   or product names (`admin`, `postgres`, `guest`, …; see `_ORDINARY`), which are only
   judged in a credential position (rules 1, 3, 4).
6. **A high-entropy literal**: a run of 20+ characters of the base64/base64url alphabet
   that mixes letter cases and digits the way random strings do (at least 45 % of adjacent
   characters change class among lower/upper/digit, and its camelCase words average at
   most 2.8 characters) and carries at least 80 estimated bits (strength.estimated_bits,
   the 80-bit password rule); or a run of 32+ hexadecimal digits with letters and digits.
   Measured: 93 % of random 20-character and 97.5 % of 32-character base62 values (what
   `rampart secrets` generates), 96 % of 24-byte base64, every 32+ hex; no identifier among
   213,000 distinct tokens of this repository, the standard library and its packages.
   Not flagged, by decision: digests with their algorithm prefix (`sha256:<hex>`), UUIDs
   (identifiers), camelCase identifiers (their words are longer than 2.8), single-
   case or digits-only runs (`/var/lib/postgresql/data`, build numbers) and environment keys
   whose last word says the value is an identifier (`*_ID`, `*_UUID`, `*_DIGEST`,
   `*_CHECKSUM`, `*_FINGERPRINT`, `*_SHA`: e.g. `KAFKA_CLUSTER_ID`). Consequence: a random
   *lower-case-only* value is not caught by entropy (it is by name, rule 1).

Shell strings (`sh -c "…"`, a health check, any argv item with spaces) are tokenized with
`shlex` (tolerant of bad quoting: falls back to splitting on whitespace), with `;`, `&`, `|`
as separators, so `sh -c "redis-cli -a hunter2 ping"` is judged like the argv it runs.
Command substitutions are judged as a whole: `$(cat /run/secrets/x)` is a reference,
`$(echo x)` in a credential position is not.

`redact(text)` applies the same rules to a message: URL userinfo passwords, schemeless
`user:password@host`, credential assignments and random-looking runs become `***`. Every
`ValidationError` and every failure line of the CLI goes through it (infra/model/errors.py,
infra/cli/errors.py), so a reader that quotes a rejected value back never prints a secret.
"""

from __future__ import annotations

import functools
import posixpath
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from infra.secrets.weak import DENYLIST_EXACT, PASSWORD_MIN_BITS, estimated_bits

# Where secret stores mount secret files in containers (infra/model/defaults.SECRETS_DIR).
SECRET_DIRS: tuple[str, ...] = ("/run/secrets",)


@dataclass(frozen=True)
class LiteralSecret:
    """One finding: where the literal is and why it counts; never the value."""

    where: str  # e.g. "environment.POSTGRES_PWD", "command[3]", "healthcheck.test[2]"
    why: str  # e.g. "names a credential", "password in URL userinfo"

    def __str__(self) -> str:
        return f"{self.where}: {self.why}"


# Reasons, spelled once (callers and tests compare them).
WHY_NAME = "names a credential"
WHY_FILE = "credential file outside /run/secrets"
WHY_URL = "password in URL userinfo"
WHY_DEFAULT = "a known default password"
WHY_ENTROPY = "high-entropy literal"
WHY_SUBSTITUTION = "credential computed by a command, not read from a secret file"

# -- names ------------------------------------------------------------------------------------

_CREDENTIAL_WORDS = frozenset({
    "password", "passwords", "passwd", "pass", "pwd", "pw", "passphrase", "passcode",
    "secret", "secrets", "token", "tokens", "key", "keys", "apikey", "auth", "credential",
    "credentials", "cred", "creds", "cookie", "pepper", "salt", "privatekey", "otp",
})
# Compounds written without a separator (`REQUIREPASS`, `dbPassword` is split by case).
_CREDENTIAL_COMPOUNDS = frozenset({
    "requirepass", "masterauth", "masterpass", "apitoken", "authtoken", "accesstoken",
    "refreshtoken", "bearertoken", "sessiontoken", "secretkey", "privatekey", "masterkey",
    "accesskey", "signingkey", "encryptionkey", "hmackey", "authkey", "appkey", "sessionkey",
    "clientkey", "licensekey", "apisecret", "appsecret", "clientsecret", "jwtsecret",
    "jwtkey", "rootpassword", "adminpassword", "dbpassword", "dbpass", "rootpass",
})
# Substrings that make any word a credential word ("postgrespassword", "smtppasswd").
_CREDENTIAL_SUBSTRINGS = ("password", "passwd", "passphrase", "secret", "credential")
_NOT_CREDENTIAL = frozenset({  # words that contain one of the above but are not credentials
    "bypass", "compass", "overpass", "underpass", "trespass", "surpass", "secretary",
    "secretariat", "passthrough", "passive", "passenger",
})
# `key` after one of these is an identifier, not a secret.
_KEY_QUALIFIERS = frozenset({
    "public", "pub", "partition", "routing", "sort", "primary", "foreign", "cache",
    "idempotency", "message", "lookup", "shard", "index", "unique", "group", "dedup",
    "dedupe", "row", "hash", "map", "object", "s3",
})
# A last word that says what kind of non-secret the value is.
_DESCRIPTORS = frozenset({
    "url", "uri", "urls", "host", "hosts", "hostname", "port", "addr", "address", "endpoint",
    "server", "service", "name", "user", "username", "id", "ids", "uid", "type", "kind",
    "mode", "method", "mechanism", "mechanisms", "scheme", "strategy", "provider", "plugin",
    "backend", "algorithm", "alg", "algo", "encryption", "format", "encoding", "length",
    "len", "size", "bits", "min", "max", "count", "ttl", "timeout", "expiry", "expires",
    "expiration", "lifetime", "age", "duration", "interval", "period", "days", "hours",
    "seconds", "rotation", "enabled", "enable", "disabled", "disable", "required",
    "require", "enforced", "allowed", "header", "prefix", "suffix", "field", "param",
    "issuer", "audience", "realm", "scope", "scopes", "domain", "secure", "httponly",
    "samesite", "level", "policy", "version", "cost", "rounds", "warning", "stdin",
    "prompt", "store", "storage", "backends", "sources", "source", "providers",
})
# Last words naming where a credential is read from: the value must be a secret file.
_FILE_WORDS = frozenset({"file", "files", "path", "dir", "directory", "location"})
# Last words of an environment key whose value is an identifier (no entropy judgement).
_IDENTIFIER_WORDS = frozenset({"id", "ids", "uuid", "digest", "checksum", "fingerprint",
                               "sha", "commit", "revision"})
# First words of flags that are switches (`--no-auth-warning`), never followed by a value.
_NEGATIONS = frozenset({"no", "skip", "disable", "without", "ignore"})

_WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")


def _words(name: str) -> list[str]:
    """`dbPassword` -> [db, password]; `X-API-KEY` -> [x, api, key]; `es.password`."""
    return [w.lower() for part in re.split(r"[^A-Za-z0-9]+", name) for w in _WORD.findall(part)]


def _credential_word(word: str) -> bool:
    if word in _NOT_CREDENTIAL or word.startswith(("secretar", "passthrough")):
        return False
    return (word in _CREDENTIAL_WORDS or word in _CREDENTIAL_COMPOUNDS
            or any(sub in word for sub in _CREDENTIAL_SUBSTRINGS)
            or (len(word) > 4 and word.endswith("pass")))


def _credential_at(words: Sequence[str]) -> int | None:
    """Index of the first credential word (a qualified `key` does not count), or None."""
    for index, word in enumerate(words):
        if not _credential_word(word):
            continue
        if word in ("key", "keys") and index > 0 and words[index - 1] in _KEY_QUALIFIERS:
            continue
        return index
    return None


def is_credential_name(name: str) -> bool:
    """True when a literal value under this name would be a secret (see rule 1)."""
    if name.strip().upper() in ("PWD", "OLDPWD"):
        return False
    words = _words(name)
    if not words or words[-1] in _DESCRIPTORS or words[-1] in _FILE_WORDS:
        return False
    return _credential_at(words) is not None


def is_credential_file_name(name: str) -> bool:
    """`POSTGRES_PASSWORD_FILE`, `--password-file`, `TLS_PRIVATE_KEY_PATH`: a credential
    read from a file; the value must be a path the secret store provides."""
    words = _words(name)
    if len(words) < 2 or words[-1] not in _FILE_WORDS:
        return False
    rest = words[:-1]
    while rest and rest[-1] in _FILE_WORDS:  # `..._PASSWORD__FILE`, `key_file_path`
        rest = rest[:-1]
    return bool(rest) and rest[-1] not in _DESCRIPTORS and _credential_at(rest) is not None


def _names_identifier(name: str) -> bool:
    words = _words(name)
    return bool(words) and words[-1] in _IDENTIFIER_WORDS


# -- values -------------------------------------------------------------------------------------

_BOOLEAN_WORDS = frozenset({"true", "false", "yes", "no", "on", "off", "0", "1", "none",
                            "null", "enabled", "disabled"})
_VAR = r"(?:[A-Za-z_][A-Za-z0-9_]*|[0-9]+)"  # a name or a positional parameter
_VAR_REF = re.compile(rf"\$(?:{_VAR}|\{{{_VAR}\}})")
# `${NAME:-word}` & co; with `?` the word is an error message, not a value
_VAR_DEFAULT = re.compile(rf"\$\{{{_VAR}(?P<op>:?[-=+?])(?P<word>.*)\}}", re.DOTALL)
_PLACEHOLDER = re.compile(r"\x00(\d+)\x00")


def _closing_paren(text: str, start: int) -> int:
    """Index of the `)` closing a `(` just before `start`, or -1 when it is never closed."""
    depth = 1
    for j in range(start, len(text)):
        depth += {"(": 1, ")": -1}.get(text[j], 0)
        if depth == 0:
            return j
    return -1


class _Scan:
    """State of one scan: secret directories and the command substitutions set aside."""

    def __init__(self, secret_dirs: Sequence[str]) -> None:
        self.dirs = tuple(d.rstrip("/") for d in secret_dirs if d.startswith("/"))
        self.subs: list[str] = []

    # command substitutions are replaced by placeholders before tokenizing, so
    # `"$(cat "$X_FILE")"` stays one value and can be judged as a whole
    def protect(self, text: str) -> str:
        if "$(" not in text and "`" not in text:
            return text
        out: list[str] = []
        i = 0
        while i < len(text):
            # Only a closed substitution is one: an unbalanced `$(` or a lone backtick is
            # literal text (a password such as `0$(` in a URL must still be seen).
            end = _closing_paren(text, i + 2) if text.startswith("$(", i) and not (
                text.startswith("$((", i)) else -1
            tick = text.find("`", i + 1) if text[i] == "`" else -1
            if end >= 0:
                out.append(self._hold(text[i + 2:end]))
                i = end + 1
            elif tick >= 0:
                out.append(self._hold(text[i + 1:tick]))
                i = tick + 1
            else:
                out.append(text[i])
                i += 1
        return "".join(out)

    def _hold(self, inner: str) -> str:
        self.subs.append(inner)
        return f"\x00{len(self.subs) - 1}\x00"

    def restore(self, text: str) -> str:
        return _PLACEHOLDER.sub(lambda m: f"$({self.subs[int(m[1])]})", text)

    def in_secret_dir(self, value: str) -> bool:
        for prefix in ("file:", "@"):
            if value.startswith(prefix):
                value = value[len(prefix):]
        if not value.startswith("/") or ".." in value.split("/"):
            return False
        norm = posixpath.normpath(value)
        return any(norm.startswith(d + "/") for d in self.dirs)

    def reads_secret_file(self, inner: str) -> bool:
        """`cat <file>` / `< <file>` where the file is a secret file or a variable."""
        try:
            words = shlex.split(self.restore(inner))
        except ValueError:
            return False
        if len(words) == 2 and words[0] in ("cat", "<"):
            target = words[1]
        elif len(words) == 1 and words[0].startswith("<"):
            target = words[0][1:]
        else:
            return False
        return bool(_VAR_REF.fullmatch(target)) or self.in_secret_dir(target)

    def is_reference(self, value: str) -> bool:
        """True when the value names where a secret comes from instead of being one."""
        value = _unquote(value.strip())
        if not value or value.lower() in _BOOLEAN_WORDS or _VAR_REF.fullmatch(value):
            return True
        default = _VAR_DEFAULT.fullmatch(value)
        if default:
            return default["op"].endswith("?") or self.is_reference(default["word"])
        held = _PLACEHOLDER.fullmatch(value)
        if held:
            return self.reads_secret_file(self.subs[int(held[1])])
        if value.startswith("$(") and value.endswith(")"):
            return self.reads_secret_file(value[2:-1])
        if value.startswith("`") and value.endswith("`") and len(value) > 1:
            return self.reads_secret_file(value[1:-1])
        if value.lower().startswith("env:"):  # openssl's `env:VAR`
            return True
        return self.in_secret_dir(value)

    def is_file_reference(self, value: str) -> bool:
        value = _unquote(value.strip())
        if not value or _VAR_REF.fullmatch(value) or self.in_secret_dir(value):
            return True
        default = _VAR_DEFAULT.fullmatch(value)
        return default is not None and (default["op"].endswith("?")
                                        or self.is_file_reference(default["word"]))

    def why_literal(self, value: str, why: str) -> str | None:
        """For a value in a credential position: None when fine, else the reason."""
        if self.is_reference(value):
            return None
        if _PLACEHOLDER.search(value):
            return WHY_SUBSTITUTION
        return WHY_DEFAULT if _is_known_default(value) else why


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


@functools.cache
def _denylists() -> tuple[frozenset[str], frozenset[str]]:
    return DENYLIST_EXACT, DENYLIST_EXACT - _ORDINARY


# Denylist entries that are ordinary words, user names or product names: judged as a default
# password only in a credential position (`POSTGRES_USER: postgres` is fine).
_ORDINARY = frozenset({
    "admin", "administrator", "root", "test", "testing", "default", "dev", "development",
    "example", "welcome", "guest", "postgres", "postgresql", "elastic", "kibana",
    "kibanaserver", "temporal", "zookeeper", "kafka", "confluent", "grafana", "prometheus",
    "alertmanager", "traefik", "eventstore", "redis", "rabbitmq", "minio", "vault", "openbao",
    "password", "secret", "pepper", "apikey", "api-key", "api_key", "erpgo", "minioadmin",
})


def _is_known_default(value: str) -> bool:
    return _unquote(value.strip()).lower() in _denylists()[0]


def _is_unmistakable_default(value: str) -> bool:
    return _unquote(value.strip()).lower() in _denylists()[1]


# -- URLs ---------------------------------------------------------------------------------------

_URL_USERINFO = re.compile(
    r"(?i)\b[a-z][a-z0-9+.-]*://(?P<user>[^\s/?#@:'\"]*):(?P<password>[^\s/?#'\"]*)@")
_MYSQL_DSN = re.compile(
    r"(?i)(?<![\w/])(?P<user>[\w.-]+):(?P<password>[^\s@/'\"]*)@(?:tcp|unix)\(")


def _url_passwords(text: str) -> list[str]:
    return [m["password"] for pattern in (_URL_USERINFO, _MYSQL_DSN)
            for m in pattern.finditer(text)]


# -- entropy ------------------------------------------------------------------------------------

ENTROPY_MIN_LENGTH = 20
ENTROPY_MIN_CLASS_CHANGES = 0.45
ENTROPY_MAX_MEAN_WORD = 2.8
HEX_MIN_LENGTH = 32
_DIGEST = re.compile(r"(?i)\b(?:sha1|sha224|sha256|sha384|sha512|md5|blake2b|blake3)"
                     r"[:=-][0-9a-f]{32,}")
_UUID = re.compile(r"(?i)\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")
_RUN = re.compile(rf"[A-Za-z0-9+/_=-]{{{ENTROPY_MIN_LENGTH},}}")
_HEX_RUN = re.compile(rf"(?<![A-Za-z0-9])(?:[0-9a-f]{{{HEX_MIN_LENGTH},}}"
                      rf"|[0-9A-F]{{{HEX_MIN_LENGTH},}})(?![A-Za-z0-9])")


def _class(char: str) -> str:
    if char.isdigit():
        return "d"
    return "u" if char.isupper() else "l"


def looks_random(run: str) -> bool:
    """A base64-alphabet run that mixes classes like a random string does (rule 6).

    Two features tell random strings from identifiers: how often adjacent characters change
    class (lower/upper/digit: about 62 % for random base62, 25-35 % for camelCase) and the
    mean length of its camelCase words (`AllowGetObject` -> Allow, Get, Object: 4.7; random
    strings fall apart into one- and two-character pieces). Measured on 213,000 distinct
    tokens (this repository, the standard library, the installed packages): no identifier is
    flagged, and 93 % of random 20-character / 97.5 % of 32-character base62 values are."""

    alnum = "".join(c for c in run if c.isascii() and c.isalnum())
    if len(alnum) < ENTROPY_MIN_LENGTH or len({_class(c) for c in alnum}) < 2:
        return False
    changes = sum(_class(a) != _class(b) for a, b in zip(alnum, alnum[1:], strict=False))
    mean_word = len(alnum) / len(_WORD.findall(alnum))
    return (changes / (len(alnum) - 1) >= ENTROPY_MIN_CLASS_CHANGES
            and mean_word <= ENTROPY_MAX_MEAN_WORD
            and estimated_bits(alnum) >= PASSWORD_MIN_BITS)


def has_high_entropy(text: str) -> bool:
    """True when the text holds a random-looking run (rule 6); digests and UUIDs excepted."""
    text = _UUID.sub(" ", _DIGEST.sub(" ", text))
    if any(re.search(r"[0-9]", m[0]) and re.search(r"[A-Fa-f]", m[0])
           for m in _HEX_RUN.finditer(text)):
        return True
    return any(looks_random(m[0]) for m in _RUN.finditer(text))


# -- argv and shell -----------------------------------------------------------------------------

_SEPARATORS = frozenset({";", "&&", "||", "|", "&", ";;", "|&", "\n"})
# words before the real program: shell keywords, exec wrappers, Docker's health check `CMD`
_WRAPPERS = frozenset({
    "cmd", "cmd-shell", "exec", "env", "sudo", "nice", "nohup", "command", "xargs", "su-exec",
    "gosu", "tini", "dumb-init", "time", "setsid", "stdbuf", "chpst", "ionice", "timeout",
    "then", "do", "else", "if", "while", "until", "!",
})
_MYSQL_LIKE = frozenset({"mysql", "mysqldump", "mysqladmin", "mysqlimport", "mysqlcheck",
                         "mysqlshow", "mysqlpump", "mysqlsh", "mariadb", "mariadb-dump",
                         "mariadb-admin", "mariadb-import", "mariadb-check", "mariadbd"})
# program -> short options whose value (next item, or attached) is a password
_SHORT_PASSWORD_OPTIONS: Mapping[str, frozenset[str]] = {
    **{tool: frozenset({"-p"}) for tool in _MYSQL_LIKE},
    "redis-cli": frozenset({"-a"}), "valkey-cli": frozenset({"-a"}),
    "keydb-cli": frozenset({"-a"}), "sshpass": frozenset({"-p"}),
    "mongo": frozenset({"-p"}), "mongosh": frozenset({"-p"}),
    "mongodump": frozenset({"-p"}), "mongorestore": frozenset({"-p"}),
    "mongoexport": frozenset({"-p"}), "mongoimport": frozenset({"-p"}),
    "zip": frozenset({"-P"}), "unzip": frozenset({"-P"}), "docker": frozenset({"-p"}),
    "podman": frozenset({"-p"}),
}
_ATTACHED = frozenset(_MYSQL_LIKE | {"zip", "unzip"})  # `-pSECRET` in one item
_USERINFO_OPTIONS: Mapping[str, frozenset[str]] = {  # `user:password` values
    "curl": frozenset({"-u", "--user", "--proxy-user", "-U"}),
}
_ASSIGNMENT = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_.-]*)=(?P<value>.*)", re.DOTALL)
_EMBEDDED_ASSIGNMENT = re.compile(  # `Server=x;Password=y`, `a&token=y` inside one word
    r"(?:^|[;&,?])(?P<name>[A-Za-z_][A-Za-z0-9_.-]*)=(?P<value>[^;&,\s]*)")


def _shown(name: object) -> str:
    """A flag, program or variable name as quoted in a reason: printable, bounded."""
    text = re.sub(r"[^\x21-\x7e]", "?", str(name))
    return text if len(text) <= 40 else text[:37] + "..."


def _program(token: str) -> str:
    return posixpath.basename(token).lower()


_SHELL_SYNTAX = re.compile(r"[\s'\";&|\\]")


def _tokenize(text: str) -> list[str]:
    """Shell words of `text` (`;`, `&`, `|` runs are words of their own); tolerant of bad
    quoting: an unbalanced quote falls back to whitespace splitting."""
    if not _SHELL_SYNTAX.search(text):
        return [text] if text else []  # one plain word: nothing to split or unquote
    lexer = shlex.shlex(text, posix=True, punctuation_chars=";&|")
    lexer.whitespace_split = True
    lexer.commenters = ""
    try:
        return list(lexer)
    except ValueError:
        return [_unquote(word) for word in re.findall(r"[;&|]+|[^\s;&|]+", text)]


class _Collector:
    def __init__(self, scan: _Scan) -> None:
        self.scan = scan
        self.found: list[LiteralSecret] = []

    def add(self, where: str, why: str) -> None:
        finding = LiteralSecret(where, why)
        if finding not in self.found:
            self.found.append(finding)

    def value(self, where: str, value: str, why: str) -> None:
        """A value in a credential position: refused unless it is a reference."""
        verdict = self.scan.why_literal(value, why)
        if verdict is not None:
            self.add(where, verdict)

    def file_value(self, where: str, value: str) -> None:
        if not self.scan.is_file_reference(value):
            self.add(where, WHY_FILE)

    def assignment(self, where: str, name: str, value: str) -> None:
        if is_credential_name(name):
            self.value(where, value, f"{_shown(name)} {WHY_NAME}")
        elif is_credential_file_name(name):
            self.file_value(where, value)

    def urls(self, where: str, text: str) -> None:
        for password in _url_passwords(text):
            if password and not self.scan.is_reference(password):
                self.add(where, WHY_URL)

    def text(self, where: str, text: str, *, entropy: bool = True) -> None:
        """One string: URLs, shell words, defaults, entropy."""
        protected = self.scan.protect(text)
        self.urls(where, protected)
        self.tokens([(where, token) for token in _tokenize(protected)], argv=False)
        if _is_unmistakable_default(text):
            self.add(where, WHY_DEFAULT)
        if entropy and has_high_entropy(text):
            self.add(where, WHY_ENTROPY)

    def tokens(self, items: Sequence[tuple[str, str]], *, argv: bool) -> None:
        """Shell words (`argv=False`) or exec-form items, each with the `where` its findings
        get. An exec-form item holding spaces is a script judged on its own (`text`); here it
        only takes its place as an argument."""
        program: str | None = None
        args: list[str] = []  # positional arguments of the current program
        expect_program = True
        skip = -1
        for index, (where, token) in enumerate(items):
            if index == skip:
                continue
            following = items[index + 1] if index + 1 < len(items) else None
            nxt = following if following and following[1] not in _SEPARATORS else None
            if token in _SEPARATORS:
                program, args, expect_program = None, [], True
                continue
            if _is_unmistakable_default(token):
                self.add(where, WHY_DEFAULT)
            if token.startswith("pass:") and len(token) > 5:  # openssl -pass pass:<literal>
                self.value(where, token[5:], "value of an OpenSSL pass: argument")
            for embedded in _EMBEDDED_ASSIGNMENT.finditer(token):  # `url?token=x`, `a;pw=x`
                if embedded.start() > 0:
                    self.assignment(where, embedded["name"], embedded["value"])
            script = argv and any(c.isspace() for c in token)
            if token.startswith("-") and not script:
                if self._option(where, token, program, args, nxt):
                    skip = index + 1
                continue
            match = None if script else _ASSIGNMENT.fullmatch(token)
            if match:
                self.assignment(where, match["name"], match["value"])
                if expect_program:  # `PGPASSWORD=x psql`: an assignment before the program
                    continue
            if expect_program and not script:
                program = _program(token)
                expect_program = program in _WRAPPERS
                if program == "timeout" and nxt is not None:
                    skip = index + 1  # its duration
                continue
            args.append(token)
            self._positional(where, token, program, args)

    def _positional(self, where: str, token: str, program: str | None,
                    args: list[str]) -> None:
        """Tools that take a password as a plain argument."""
        if program == "rabbitmqctl" and len(args) == 3 and args[0] in (
                "add_user", "change_password"):
            self.value(where, token, f"value of rabbitmqctl {_shown(args[0])}")
        if program == "mc" and len(args) == 6 and args[:2] == ["alias", "set"]:
            self.value(where, token, "value of mc alias set")

    def _option(self, where: str, token: str, program: str | None, args: list[str],
                nxt: tuple[str, str] | None) -> bool:
        """An option word; True when the next item is its value (consumed here)."""
        flag, eq, value = token.partition("=")
        name = flag.lstrip("-")
        if flag.startswith("-D") and not flag.startswith("--"):
            name = name[1:]  # -Dspring.datasource.password=...
        short = _SHORT_PASSWORD_OPTIONS.get(program or "", frozenset())
        if program in ("docker", "podman") and args[:1] != ["login"]:
            short = frozenset()  # `docker run -p 80:80` publishes a port
        if flag in short and not eq:
            if nxt is None:
                return False
            self.value(nxt[0], nxt[1], f"value of {_shown(program)} {_shown(flag)}")
            return True
        if (program in _ATTACHED and not flag.startswith("--") and len(flag) > 2
                and flag[:2] in short):
            self.value(where, token[2:], f"value of {_shown(program)} {flag[:2]}")
            return False
        if flag in _USERINFO_OPTIONS.get(program or "", frozenset()):
            at, credential = (where, value) if eq else (nxt if nxt else (where, ""))
            password = credential.partition(":")[2]
            if password:
                self.value(at, password, f"value of {_shown(program)} {_shown(flag)}")
            return not eq and nxt is not None
        words = _words(name)
        if not words or words[0] in _NEGATIONS:
            return False
        if eq:
            if is_credential_name(name):
                self.value(where, value, f"value of {_shown(flag)}")
            elif is_credential_file_name(name):
                self.file_value(where, value)
            self.urls(where, value)
            return False
        if nxt is None or nxt[1].startswith("-"):
            return False
        if _credential_word(words[-1]) and is_credential_name(name):
            self.value(nxt[0], nxt[1], f"value of {_shown(flag)}")
            return True
        if is_credential_file_name(name):
            self.file_value(nxt[0], nxt[1])
            return True
        return False


def _collector(secret_dirs: Sequence[str]) -> _Collector:
    return _Collector(_Scan(secret_dirs))


def _as_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# -- the API --------------------------------------------------------------------------------------

def scan_env(env: Mapping[str, object], where: str = "environment", *,
             secret_dirs: Sequence[str] = SECRET_DIRS) -> list[LiteralSecret]:
    """Findings in an environment mapping; each `where` is `<where>.<KEY>`."""
    found: list[LiteralSecret] = []
    for key, raw in env.items():
        name = str(key)
        value = _as_text(raw)
        at = f"{where}.{name}"
        collector = _collector(secret_dirs)
        if is_credential_name(name):
            collector.value(at, collector.scan.protect(value), WHY_NAME)
        elif is_credential_file_name(name):
            collector.file_value(at, value)
        collector.text(at, value, entropy=not _names_identifier(name))
        found.extend(f for f in collector.found if f not in found)
    return found


def scan_argv(argv: Sequence[str], where: str, *,
              secret_dirs: Sequence[str] = SECRET_DIRS) -> list[LiteralSecret]:
    """Findings in an exec-form command (entrypoint + command, a health check test); each
    `where` is `<where>[<index>]`. Items holding a shell script are tokenized too."""
    collector = _collector(secret_dirs)
    items = [(f"{where}[{index}]", _as_text(item)) for index, item in enumerate(argv)]
    collector.tokens([(at, collector.scan.protect(item)) for at, item in items], argv=True)
    for at, item in items:
        collector.text(at, item)
    return collector.found


def scan_text(text: str, where: str, *,
              secret_dirs: Sequence[str] = SECRET_DIRS) -> list[LiteralSecret]:
    """Findings in one string: a shell command line, a label value, a path, a URL."""
    collector = _collector(secret_dirs)
    collector.text(where, _as_text(text))
    return collector.found


# -- redaction ------------------------------------------------------------------------------------

REDACTED = "***"
_PLAIN_WORD = re.compile(r"|[a-z]+(?:[._-][a-z]+)*")
# `scheme://user:password@` (any scheme) and the schemeless `user:password@host` (a DSN, a
# `host:port` that carries credentials): the password goes, the user name and host stay.
_REDACT_URL_USERINFO = re.compile(
    r"(?i)(?P<head>\b[a-z][a-z0-9+.-]*://[^\s/?#@:'\"]*:)(?P<password>[^\s/?#'\"]*)@")
_REDACT_BARE_USERINFO = re.compile(
    r"(?P<head>(?<![\w.%+-])[\w.%+-]+:)(?P<password>[^\s@/'\"]+)@"
    r"(?=[\w\[(])(?![a-z0-9]+:[0-9a-f]{32})")  # not `name:tag@sha256:<digest>`
_REDACT_ASSIGNMENT = re.compile(  # `NAME=value`, `--flag=value`
    r"(?P<name>[A-Za-z_][A-Za-z0-9_.-]*)=(?P<value>[^\s'\",;&]+)")


def _redact_entropy(text: str) -> str:
    keep = [m.span() for pattern in (_DIGEST, _UUID) for m in pattern.finditer(text)]

    def spared(span: tuple[int, int]) -> bool:
        return any(start <= span[0] and span[1] <= end for start, end in keep)

    def hexish(run: str) -> bool:
        return bool(re.search(r"[0-9]", run) and re.search(r"[A-Fa-f]", run))

    def run(match: re.Match[str]) -> str:
        if spared(match.span()) or not looks_random(match[0]):
            return match[0]
        # a path keeps its plain words (`/services/***/***`): only the token goes
        return "/".join(part if _PLAIN_WORD.fullmatch(part) else REDACTED
                        for part in match[0].split("/"))

    text = _HEX_RUN.sub(lambda m: m[0] if spared(m.span()) or not hexish(m[0]) else REDACTED,
                        text)
    return _RUN.sub(run, text)


def redact(text: str) -> str:
    """`text` (an error message, a log line) with every secret-looking value replaced by
    `***`: URL userinfo passwords (`https://ci:***@registry`), schemeless `user:***@host`,
    the value of a credential assignment (`PGPASSWORD=***`, `--db-password=***`) and the
    random-looking runs rule 6 flags (digests and UUIDs stay). The same rules as the
    detector, so what it refuses a message never quotes back."""
    text = _REDACT_URL_USERINFO.sub(
        lambda m: m["head"] + (REDACTED if m["password"] else "") + "@", text)
    text = _REDACT_BARE_USERINFO.sub(lambda m: m["head"] + REDACTED + "@", text)
    text = _REDACT_ASSIGNMENT.sub(
        lambda m: (m["name"] + "=" + REDACTED
                   if is_credential_name(m["name"]) and m["value"] != REDACTED
                   and not m["value"].startswith("$") else m[0]), text)
    return _redact_entropy(text)
