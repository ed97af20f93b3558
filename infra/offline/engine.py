"""The recording engine: run the real Pulumi program offline and record every resource.

A recording mock engine (`pulumi.runtime.set_mocks` with our own monitor) stands in for the
Pulumi CLI: each registered resource is kept with its type token, logical name, URN, parent,
dependencies and inputs in wire (camelCase) form. The same `Recording` feeds `rampart render`
(infra/offline/render.py), the unit tests and the offline policy evaluation
(infra/offline/evaluate.py).

Two details make the recording faithful and safe:
- the monitor announces the `outputValues` feature like the real engine, so a secret nested in
  a list stays marked at its own level (a Traefik config file next to a secret key file shows
  the config and hides only the key) instead of the mock's default of wrapping the whole list;
- secret values are replaced by `[secret]` when the request is decoded, before anything is
  stored, so they cannot reach a file.

Mocked outputs are deterministic functions of the inputs (ids, image ids, names), and files are
written with sorted keys in URN order, so the same stack renders byte-identically every time.
"""

from __future__ import annotations

import gc
import hashlib
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi.runtime.config as runtime_config
import pulumi.runtime.settings as runtime_settings
from google.protobuf import json_format
from pulumi.runtime import mocks
from pulumi.runtime.proto import resource_pb2
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

PROJECT = "rampart"
STACK_TYPE = "pulumi:pulumi:Stack"
# Pulumi's wire-format signatures (sdk/go/common/resource/sig): a special value is an object
# whose SIG_KEY entry names its kind.
SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"  # noqa: S105 (a wire marker, not a password)
OUTPUT_SIG = "d0e6a833031e9bbcd3f4e8bde6ca49a4"
RESOURCE_SIG = "5cf8f73096256a8f31e491e813e4eb8e"
ASSET_SIG = "c44067f5952c0a294b673a41bacd8c17"
ARCHIVE_SIG = "0def7320c3a5731c473e5ecbe6d01bc7"
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
REDACTED = "[secret]"
UNKNOWN_SHOWN = "[unknown]"


@dataclass(frozen=True)
class Record:
    urn: str
    type: str
    name: str
    parent: str | None
    custom: bool
    dependencies: tuple[str, ...]
    inputs: Mapping[str, Any]  # wire form, secrets already redacted


@dataclass
class Recording:
    project: str
    stack: str
    resources: dict[str, Record] = field(default_factory=dict)

    def __iter__(self) -> Iterator[Record]:
        return iter(self.resources[urn] for urn in sorted(self.resources))

    def __len__(self) -> int:
        return len(self.resources)

    def of_type(self, type_: str) -> list[Record]:
        return [r for r in self if r.type == type_]

    def get(self, type_: str, name: str) -> Record:
        found = [r for r in self if r.type == type_ and r.name == name]
        if len(found) != 1:
            raise KeyError(f"{len(found)} resources of type {type_} named {name}")
        return found[0]


def _normalise(value: Any) -> Any:
    """Decode one wire value: redact secrets, show unknowns, keep integers integers."""
    if isinstance(value, float) and value.is_integer():
        return int(value)  # protobuf Struct numbers are doubles
    if isinstance(value, list):
        return [_normalise(v) for v in value]
    if isinstance(value, str):
        return UNKNOWN_SHOWN if value == UNKNOWN else value
    if isinstance(value, dict):
        sig = value.get(SIG_KEY)
        if sig == SECRET_SIG:
            return REDACTED
        if sig == OUTPUT_SIG:
            if value.get("secret"):
                return REDACTED
            return _normalise(value["value"]) if "value" in value else UNKNOWN_SHOWN
        if sig == RESOURCE_SIG:
            return {"urn": value.get("urn"), "id": _normalise(value.get("id"))}
        if sig in (ASSET_SIG, ARCHIVE_SIG):
            return {k: _normalise(v) for k, v in value.items() if k != SIG_KEY}
        return {k: _normalise(v) for k, v in value.items()}
    return value


def _digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


_PEM_PLACEHOLDER = "-----BEGIN {0}-----\nrender placeholder, not a real {1}\n-----END {0}-----\n"


class RecordingMocks(mocks.Mocks):
    """Realistic, deterministic outputs so inputs that depend on other resources are filled."""

    def new_resource(self, args: mocks.MockResourceArgs) -> tuple[str | None, dict]:
        if not args.custom:
            return None, {}
        # Only what other resources read (names, image ids, PEMs): echoing every input back
        # would cost the SDK a full deserialisation per resource for nothing.
        state: dict[str, Any] = {"name": args.inputs.get("name", args.name)}
        rid = f"{args.name}-{_digest(args.typ, args.name)[:12]}"
        if args.typ == "docker:index/remoteImage:RemoteImage":
            digest = _digest(str(args.inputs.get("name", args.name)))
            state["imageId"] = f"sha256:{digest}"
            repo = str(args.inputs.get("name", args.name)).split("@")[0].rsplit(":", 1)[0]
            state["repoDigest"] = f"{repo}@sha256:{digest}"
        elif args.typ == "docker:index/container:Container" and args.inputs.get("attach"):
            state["exitCode"] = 0  # a one-shot container the engine waited for: it succeeded
        elif args.typ == "tls:index/privateKey:PrivateKey":
            state["privateKeyPem"] = _PEM_PLACEHOLDER.format("PRIVATE KEY", "key")
            state["publicKeyPem"] = _PEM_PLACEHOLDER.format("PUBLIC KEY", "key")
        elif args.typ == "tls:index/selfSignedCert:SelfSignedCert":
            state["certPem"] = _PEM_PLACEHOLDER.format("CERTIFICATE", "certificate")
        return rid, state

    def call(self, args: mocks.MockCallArgs) -> tuple[dict, list[tuple[str, str]] | None]:
        return {}, None


def _is_stack(urn: str) -> bool:
    """True for no parent or the root stack (whose children are top-level resources)."""
    return not urn or urn.split("::")[2] == STACK_TYPE


class RecordingMonitor(mocks.MockMonitor):
    def __init__(self, recording: Recording, mock: mocks.Mocks) -> None:
        super().__init__(mock)
        self.recording = recording
        self._lock = threading.Lock()

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        # As the real engine: children of the stack carry no `pulumi:pulumi:Stack$` prefix.
        if not _is_stack(parent):
            type_ = parent.split("::")[2] + "$" + type_
        return "urn:pulumi:" + "::".join([self.recording.stack, self.recording.project,
                                          type_, name])

    # Announce outputValues like the real engine, so nested secrets keep their level.
    def SupportsFeature(self, request):  # noqa: N802 (gRPC method name)
        return type("SupportsFeatureResponse", (object,), {"hasSupport": True})

    def GetDeploymentInfo(self, request):  # noqa: N802
        info = super().GetDeploymentInfo(request)
        info.supportedFeatures.append(resource_pb2.RESOURCE_MONITOR_FEATURE_OUTPUT_VALUES)
        return info

    def RegisterResource(self, request):  # noqa: N802
        response = super().RegisterResource(request)
        if request.type == STACK_TYPE:
            return response
        raw = json_format.MessageToDict(request.object, preserving_proto_field_name=True)
        record = Record(
            urn=response.urn,
            type=request.type,
            name=request.name,
            parent=None if _is_stack(request.parent) else request.parent,
            custom=bool(request.custom),
            dependencies=tuple(sorted(set(request.dependencies))),
            inputs=_normalise(raw),
        )
        with self._lock:
            if record.urn in self.recording.resources:
                raise ValueError(f"duplicate resource URN {record.urn}")
            self.recording.resources[record.urn] = record
        return response


def run_program(program: Callable[[], Any], *, stack: str,
                config: Mapping[str, str] | None = None,
                project: str = PROJECT) -> Recording:
    """Run `program` under the recording engine with the given engine-form config.

    The program brings its own secrets provider (infra.program.run takes one); the recording
    shows only `[secret]` whatever it is."""
    recording = Recording(project=project, stack=stack)
    mock = RecordingMocks()
    # A fresh root stack, config and RPC state for every run (tests render many times).
    runtime_settings.ROOT.set(None)
    runtime_config.set_all_config(dict(config or {}), [])
    runtime_settings.SETTINGS.outputs.clear()
    mocks.set_mocks(mock, project=project, stack=stack, preview=False,
                    monitor=RecordingMonitor(recording, mock))
    # The SDK allocates tens of thousands of futures per few hundred resources; with the
    # cyclic GC running, full collections over that growing heap made render time grow faster
    # than the catalog (500 services: 10.6x the 50-service CPU time; without: 9.3x, linear in
    # resources). The run is short and bounded; the collector resumes when it ends.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        _sync_await(run_pulumi_func(program))
    except pulumi.RunError as exc:
        # The program turns a refusal into the SDK's clean-exit error for `pulumi up`; here
        # the original (ValidationError, SecretsError, ...) is what callers handle.
        if isinstance(exc.__cause__, Exception):
            raise exc.__cause__ from None
        raise
    finally:
        if gc_was_enabled:
            gc.enable()
    return recording


