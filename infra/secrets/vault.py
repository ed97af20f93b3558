"""The one place Rampart talks to Vault (or OpenBao): connection, authentication, KV v2.

- Address: `VAULT_ADDR`. https is required, except plain http to a loopback address (a dev
  server on this machine); any other http address is refused unless `allow_insecure_http`
  is given explicitly, because a token and every secret would cross the network in clear.
- TLS is always verified: against `VAULT_CACERT` when set, else the system trust store.
  `VAULT_SKIP_VERIFY` is deliberately not honoured.
- Authentication: `VAULT_TOKEN`, or AppRole with `VAULT_ROLE_ID` + `VAULT_SECRET_ID`.
- Every hvac/requests failure becomes a `VaultAccessError` whose one-line message names the
  address and the path (never a value), so the CLI can print it and exit 2.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

import hvac
import hvac.exceptions
import requests

from .errors import InsecureAddressError, RotationConflict, VaultAccessError

DEFAULT_MOUNT = "secret"
DEFAULT_APPROLE_MOUNT = "approle"
T = TypeVar("T")


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_address(addr: str, *, allow_insecure_http: bool = False) -> str:
    """Return the address if it is safe to send a token to, else raise."""
    try:
        parts = urlsplit(addr)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise VaultAccessError("Vault address is not an http(s) URL") from None
    if "@" in parts.netloc:
        # requests would send user:password as Basic auth, and every error would print it;
        # Vault credentials come from VAULT_TOKEN or AppRole. The address is not quoted.
        raise VaultAccessError("Vault address carries user info (user:password@host); "
                               "credentials come from VAULT_TOKEN or VAULT_ROLE_ID/"
                               "VAULT_SECRET_ID, never from the address")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise VaultAccessError(f"Vault address {addr!r} is not an http(s) URL")
    if parts.scheme == "http" and not is_loopback(parts.hostname) and not allow_insecure_http:
        raise InsecureAddressError(
            f"refusing plain http to non-loopback Vault address {addr}: use https "
            "(or pass --allow-insecure-http if you really mean it)"
        )
    return addr.rstrip("/")


@dataclass(frozen=True)
class VaultSettings:
    """Everything needed to reach and authenticate to Vault. `repr` hides credentials."""

    addr: str
    mount: str = DEFAULT_MOUNT
    token: str | None = field(default=None, repr=False)
    role_id: str | None = field(default=None, repr=False)
    secret_id: str | None = field(default=None, repr=False)
    approle_mount: str = DEFAULT_APPROLE_MOUNT
    cacert: str | None = None
    namespace: str | None = None
    allow_insecure_http: bool = False
    timeout_s: float = 10.0

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str] | None = None,
        *,
        addr: str | None = None,
        mount: str | None = None,
        allow_insecure_http: bool = False,
    ) -> VaultSettings:
        """Settings from the standard Vault variables; explicit arguments win."""
        env = os.environ if env is None else env
        address = addr or env.get("VAULT_ADDR")
        if not address:
            raise VaultAccessError("no Vault address: set VAULT_ADDR or pass --addr")
        return cls(
            addr=address,
            mount=mount or env.get("RAMPART_VAULT_MOUNT") or DEFAULT_MOUNT,
            token=env.get("VAULT_TOKEN") or None,
            role_id=env.get("VAULT_ROLE_ID") or None,
            secret_id=env.get("VAULT_SECRET_ID") or None,
            approle_mount=env.get("RAMPART_VAULT_APPROLE_MOUNT") or DEFAULT_APPROLE_MOUNT,
            cacert=env.get("VAULT_CACERT") or None,
            namespace=env.get("VAULT_NAMESPACE") or None,
            allow_insecure_http=allow_insecure_http,
        )

    @property
    def verify(self) -> str | bool:
        """What requests verifies the server against: the CA file, else the system store."""
        return self.cacert or True


@dataclass(frozen=True)
class SecretVersion:
    """One version of one KV v2 secret. `data` holds at least "value"."""

    path: str
    version: int
    data: Mapping[str, str] = field(repr=False)

    @property
    def value(self) -> str:
        return str(self.data.get("value", ""))


@dataclass(frozen=True)
class Metadata:
    path: str
    current_version: int
    max_versions: int
    cas_required: bool
    live_versions: frozenset[int]  # neither deleted nor destroyed


def _describe(exc: Exception) -> str:
    """A short reason from an hvac/requests exception, without response bodies."""
    if isinstance(exc, requests.exceptions.SSLError):
        return "TLS verification failed (set VAULT_CACERT to the CA that signed the server)"
    if isinstance(exc, requests.exceptions.ConnectionError):
        return "cannot connect (is Vault running and reachable?)"
    if isinstance(exc, requests.exceptions.Timeout):
        return "timed out"
    if isinstance(exc, hvac.exceptions.VaultDown):
        return "Vault is sealed or in maintenance (503)"
    if isinstance(exc, hvac.exceptions.VaultNotInitialized):
        return "Vault is not initialized"
    if isinstance(exc, hvac.exceptions.Forbidden):
        return "permission denied (403): the token's policy does not allow this"
    if isinstance(exc, hvac.exceptions.Unauthorized):
        return "not authenticated (401): token missing, expired or revoked"
    if isinstance(exc, hvac.exceptions.InvalidPath):
        return "not found (404)"
    if isinstance(exc, hvac.exceptions.VaultError):
        # Vault's own error strings name paths and parameters, never submitted data.
        errors = getattr(exc, "errors", None) or [str(exc).splitlines()[0]]
        return "; ".join(str(e).splitlines()[0] for e in errors)[:300]
    return type(exc).__name__


_CAS_MISMATCH = "check-and-set parameter did not match"


class Vault:
    """An authenticated client bound to one KV v2 mount."""

    def __init__(self, settings: VaultSettings, client: hvac.Client | None = None) -> None:
        self.settings = settings
        self.addr = check_address(settings.addr, allow_insecure_http=settings.allow_insecure_http)
        self.mount = settings.mount.strip("/")
        self.client = client or hvac.Client(
            url=self.addr,
            token=settings.token,
            verify=settings.verify,  # always explicit, so hvac never reads VAULT_SKIP_VERIFY
            timeout=settings.timeout_s,
            namespace=settings.namespace,
        )
        if client is None:
            self._login()

    # -- plumbing ------------------------------------------------------------------------

    def call(self, what: str, path: str, fn: Callable[[], T]) -> T:
        """Run one hvac call; turn any failure into a one-line `VaultAccessError`."""
        try:
            return fn()
        except (hvac.exceptions.VaultError, requests.exceptions.RequestException) as exc:
            raise VaultAccessError(
                f"Vault at {self.addr}: {what} {path}: {_describe(exc)}"
            ) from None

    def _login(self) -> None:
        s = self.settings
        if s.role_id and s.secret_id:
            login_path = f"auth/{s.approle_mount}/login"
            self.call("AppRole login at", login_path, lambda: self.client.auth.approle.login(
                role_id=s.role_id, secret_id=s.secret_id, mount_point=s.approle_mount))
        elif not s.token:
            raise VaultAccessError(
                f"Vault at {self.addr}: no credentials: set VAULT_TOKEN, or VAULT_ROLE_ID "
                "and VAULT_SECRET_ID"
            )
        ok = self.call("token lookup", "auth/token/lookup-self",
                       lambda: self.client.auth.token.lookup_self())
        if not ok:
            raise VaultAccessError(f"Vault at {self.addr}: token lookup failed")

    def full_path(self, path: str, part: str = "data") -> str:
        return f"{self.mount}/{part}/{path}"

    # -- mounts --------------------------------------------------------------------------

    def ensure_kv2_mount(self, *, create: bool = False) -> bool:
        """Check the mount is KV v2; create it when asked. Returns True if it was created."""
        mounts = self.call("list mounts", "sys/mounts",
                           lambda: self.client.sys.list_mounted_secrets_engines())
        table = mounts.get("data", mounts)
        entry = table.get(f"{self.mount}/")
        if entry is None:
            if not create:
                raise VaultAccessError(
                    f"Vault at {self.addr}: mount {self.mount}/ does not exist "
                    "(wrong --mount? pass --create-mount to create a KV v2 mount there)"
                )
            self.call("enable KV v2 at", f"sys/mounts/{self.mount}",
                      lambda: self.client.sys.enable_secrets_engine(
                          "kv", path=self.mount, options={"version": "2"}))
            return True
        if entry.get("type") != "kv" or (entry.get("options") or {}).get("version") != "2":
            raise VaultAccessError(
                f"Vault at {self.addr}: mount {self.mount}/ is not a KV version 2 engine"
            )
        return False

    # -- KV v2 ---------------------------------------------------------------------------

    def _not_found_or_raise(self, exc: hvac.exceptions.InvalidPath, what: str, path: str) -> None:
        # A 404 is "no such secret", unless no mount answers the path at all.
        if "no handler for route" in str(exc):
            raise VaultAccessError(
                f"Vault at {self.addr}: {what} {path}: mount {self.mount}/ does not exist"
            ) from None

    def metadata(self, path: str) -> Metadata | None:
        full = self.full_path(path, "metadata")
        try:
            resp = self.call("read metadata", full, lambda: self._raw_metadata(path))
        except _NotFound as nf:
            self._not_found_or_raise(nf.exc, "read metadata", full)
            return None
        versions = resp.get("versions") or {}
        live = frozenset(
            int(v) for v, meta in versions.items()
            if not meta.get("destroyed") and not meta.get("deletion_time")
        )
        return Metadata(
            path=path,
            current_version=int(resp.get("current_version") or 0),
            max_versions=int(resp.get("max_versions") or 0),
            cas_required=bool(resp.get("cas_required")),
            live_versions=live,
        )

    def _raw_metadata(self, path: str) -> dict[str, Any]:
        try:
            resp = self.client.secrets.kv.v2.read_secret_metadata(path, mount_point=self.mount)
        except hvac.exceptions.InvalidPath as exc:
            raise _NotFound(exc) from None
        return dict(resp["data"])

    def read(self, path: str, version: int | None = None) -> SecretVersion | None:
        """A version's data (latest when `version` is None), or None if missing/deleted."""
        full = self.full_path(path)
        what = "read" if version is None else f"read version {version} of"

        def _read() -> dict[str, Any]:
            try:
                return dict(self.client.secrets.kv.v2.read_secret_version(
                    path, version=version, mount_point=self.mount,
                    raise_on_deleted_version=True))
            except hvac.exceptions.InvalidPath as exc:
                raise _NotFound(exc) from None

        try:
            resp = self.call(what, full, _read)
        except _NotFound as nf:
            self._not_found_or_raise(nf.exc, what, full)
            return None
        body = resp["data"]
        data = body.get("data") or {}
        return SecretVersion(path=path, version=int(body["metadata"]["version"]),
                             data={k: str(v) for k, v in data.items()})

    def write(self, path: str, data: Mapping[str, str], *, cas: int) -> int:
        """Write a new version with check-and-set; returns the new version number.

        `cas=0` writes only if the secret does not exist; `cas=N` only if N is current.
        """
        full = self.full_path(path)
        try:
            resp = self.client.secrets.kv.v2.create_or_update_secret(
                path, secret=dict(data), cas=cas, mount_point=self.mount)
        except hvac.exceptions.InvalidRequest as exc:
            if _CAS_MISMATCH in str(exc):
                raise RotationConflict(
                    f"{full}: changed concurrently (expected version {cas}); nothing written"
                ) from None
            raise VaultAccessError(f"Vault at {self.addr}: write {full}: {_describe(exc)}") \
                from None
        except (hvac.exceptions.VaultError, requests.exceptions.RequestException) as exc:
            raise VaultAccessError(f"Vault at {self.addr}: write {full}: {_describe(exc)}") \
                from None
        return int(resp["data"]["version"])

    def set_metadata(self, path: str, *, max_versions: int, cas_required: bool = True) -> None:
        full = self.full_path(path, "metadata")
        self.call("write metadata", full, lambda: self.client.secrets.kv.v2.update_metadata(
            path, max_versions=max_versions, cas_required=cas_required, mount_point=self.mount))


class _NotFound(Exception):
    """Internal: carries a 404 past `Vault.call` so callers can tell missing from broken."""

    def __init__(self, exc: hvac.exceptions.InvalidPath) -> None:
        super().__init__(str(exc))
        self.exc = exc


def connect(settings: VaultSettings) -> Vault:
    """An authenticated `Vault` for these settings (raises `VaultAccessError` otherwise)."""
    return Vault(settings)
