"""`rampart render`: the recording of a stack as files, and its summary.

`record_stack` runs the program for a stack under the recording engine (infra/offline/engine.py);
`files_of`/`write` turn the recording into `index.json` plus one YAML file per resource
(through infra/offline/outdir.py), sorted so the same stack renders byte-identically.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from infra import program
from infra import stack as stack_config
from infra.offline import outdir
from infra.offline.engine import REDACTED, Recording, run_program
from infra.secrets.provider import RenderSecretsProvider
from infra.stack import Stack

INDEX = "index.json"
RESOURCES_DIR = "resources"


def record(stack: Stack, *, vault: bool = False) -> Recording:
    """Run the program (infra.program.run) for `stack` under the recording engine.

    With `vault` the program reads and checks the stack's secrets from Vault exactly as a
    deploy does (values still recorded as `[secret]`); otherwise it gets the render stand-in
    and Vault is never contacted. The engine also receives the stack's config, as under
    `pulumi up`, so a program or resource that reads `pulumi.Config` sees the same values."""
    secrets = None if vault else RenderSecretsProvider()
    return run_program(lambda: program.run(stack, secrets), stack=stack.name,
                       config=stack_config.engine_config(stack))


def record_stack(name: str, root: Path | None = None,
                 overrides: Mapping[str, Any] | None = None, *,
                 vault: bool = False) -> Recording:
    """`record` for the stack file `Pulumi.<name>.yaml`; `overrides` replace `rampart:`
    settings (benchmarks point `catalog` elsewhere) and are parsed with the rest."""
    stack = stack_config.load(name, root)
    if overrides:
        stack = stack_config.from_values({**stack.values, **overrides}, name=stack.name,
                                         source=stack.source, root=stack.project_dir,
                                         positions=stack.positions)
    return record(stack, vault=vault)


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

    Through infra/offline/outdir.py: only files a previous render wrote (and nobody changed since)
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
