"""Run the real Pulumi program offline and record every resource it declares.

A recording mock engine (`pulumi.runtime.set_mocks` with our own monitor) stands in for the
Pulumi CLI: each registered resource is kept with its type token, logical name, URN, parent,
dependencies and inputs in wire (camelCase) form. The same `Recording` feeds `rampart render`
(files on disk), the unit tests and the offline policy evaluation.

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

import contextlib
import gc
import hashlib
import json
import runpy
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import pulumi.runtime.config as runtime_config
import pulumi.runtime.settings as runtime_settings
import yaml
from google.protobuf import json_format
from pulumi.runtime import mocks
from pulumi.runtime.proto import resource_pb2
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from infra import config as stack_config
from infra import outdir
from infra.secrets import provider as secrets_provider

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
INDEX = "index.json"
RESOURCES_DIR = "resources"


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
                secrets: secrets_provider.SecretsProvider | None = None,
                project: str = PROJECT, stack_secrets: bool = False) -> Recording:
    """Run `program` under the recording engine with the given engine-form config.

    Secrets come from `secrets`, else the render stand-in; with `stack_secrets` the program
    picks its own provider as under `pulumi up` (Vault: every secret read and checked before
    the first resource), and the recording still shows only `[secret]`."""
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
    provider = None if stack_secrets else secrets or secrets_provider.RenderSecretsProvider()
    try:
        with contextlib.nullcontext() if provider is None else \
                secrets_provider.override(provider):
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


def record_stack(stack: str, root: Path | None = None,
                 overrides: Mapping[str, Any] | None = None, *,
                 vault: bool = False) -> Recording:
    """Run the project's `__main__.py` for `stack` with `Pulumi.<stack>.yaml` as config.

    `overrides` replace `rampart:` settings (benchmarks point `catalog` elsewhere). With
    `vault` the program reads and checks the stack's secrets from Vault exactly as a deploy
    does (values still recorded as `[secret]`); otherwise Vault is never contacted."""
    root = root or stack_config.project_dir()
    engine_config = stack_config.stack_file_config(stack, root)
    for key, value in (overrides or {}).items():
        engine_config[f"{stack_config.NAMESPACE}:{key}"] = (
            value if isinstance(value, str) else json.dumps(value, sort_keys=True))
    program = root / "__main__.py"

    def run() -> None:
        runpy.run_path(str(program), run_name="__main__")

    return run_program(run, stack=stack, config=engine_config, stack_secrets=vault)


def _type_dir(type_: str) -> str:
    return type_.replace(":", ".").replace("/", ".")


# libyaml's emitter when present (several times faster); output is the same YAML.
_BaseDumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _Dumper(_BaseDumper):  # type: ignore[misc,valid-type]
    def ignore_aliases(self, data: Any) -> bool:
        return True


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    # Multi-line strings (uploaded config files) as literal blocks, so they read like files.
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def dump_yaml(data: Any) -> str:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=True, default_flow_style=False,
                     width=1000, allow_unicode=True)


def files_of(recording: Recording) -> dict[str, str]:
    """`index.json` and one YAML file per resource under `resources/`, {relative path: text}."""
    files: dict[str, str] = {}
    index = []
    for record in recording:
        rel = f"{RESOURCES_DIR}/{_type_dir(record.type)}/{record.name}.yaml"
        n = 2
        while rel in files:
            rel = f"{RESOURCES_DIR}/{_type_dir(record.type)}/{record.name}-{n}.yaml"
            n += 1
        files[rel] = dump_yaml({
            "urn": record.urn, "type": record.type, "name": record.name,
            "parent": record.parent, "custom": record.custom,
            "dependencies": list(record.dependencies), "inputs": record.inputs,
        })
        index.append({"type": record.type, "name": record.name, "urn": record.urn,
                      "file": rel})
    files[INDEX] = json.dumps({
        "project": recording.project, "stack": recording.stack,
        "count": len(index), "resources": index,
    }, indent=2, sort_keys=True) + "\n"
    return files


def write(recording: Recording, out: Path, *, force: bool = False) -> list[Path]:
    """Write `index.json` and one YAML file per resource under `out/resources/`.

    Through infra/outdir.py: only files a previous render wrote (and nobody changed since)
    are replaced, its resource files that no longer exist are removed, anything else in the
    way is refused (`OutputError`) unless `force`; a failure leaves nothing half-written."""
    return list(outdir.write_files(out, files_of(recording), writer="render",
                                   force=force).written)


def summary(recording: Recording) -> dict[str, list[dict[str, str]]]:
    """Rows for a human summary of a render: services, networks, edge routes, middlewares.

    Read back from the recording (what would be deployed), not from the model."""
    images = {r.urn: str(r.inputs.get("name", "")) for r in recording.of_type(
        "docker:index/remoteImage:RemoteImage")}
    services = []
    dynamic: dict[str, Any] = {}
    for c in recording.of_type("docker:index/container:Container"):
        inp = c.inputs
        image = next((images[d] for d in c.dependencies if d in images), "")
        services.append({
            "container": str(inp.get("name", c.name)),
            "networks": ",".join(sorted(n["name"] for n in inp.get("networksAdvanced", [])))
            or str(inp.get("networkMode", "")),
            "ports": ",".join(f"{p.get('external')}->{p.get('internal')}"
                              for p in inp.get("ports", [])),
            "user": str(inp.get("user", "")),
            "read_only": str(bool(inp.get("readOnly", False))).lower(),
            "image": image,
        })
        for upload in inp.get("uploads", []):
            content = upload.get("content")
            if str(upload.get("file", "")).endswith("/dynamic/edge.yml") and \
                    isinstance(content, str) and content != REDACTED:
                dynamic = yaml.safe_load(content) or {}
    networks = [{"network": str(n.inputs.get("name", n.name)),
                 "internal": str(bool(n.inputs.get("internal", False))).lower()}
                for n in recording.of_type("docker:index/network:Network")]
    http = dynamic.get("http", {})
    routes = [{"router": name, "rule": str(r.get("rule", "")),
               "service": str(r.get("service", "")),
               "middlewares": ",".join(r.get("middlewares", []))}
              for name, r in sorted(http.get("routers", {}).items())]
    middlewares = []
    for name, mw in sorted(http.get("middlewares", {}).items()):
        kind, settings = next(iter(mw.items()))
        shown = {k: ("|".join(map(str, v)) if isinstance(v, list) else v)
                 for k, v in settings.items() if not isinstance(v, dict)}
        middlewares.append({"middleware": name, "kind": kind,
                            "settings": ", ".join(f"{k}={v}" for k, v in sorted(shown.items()))})
    return {"services": services, "networks": networks, "routes": routes,
            "middlewares": middlewares}
