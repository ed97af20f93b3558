"""The lab's record of what it started: nspawn and proxy PIDs, pinned host keys."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from infra.lab.sysutil import Proc


@dataclass
class HostState:
    nspawn: Proc | None = None
    keys: dict[str, str] = field(default_factory=dict)


@dataclass
class LabState:
    proxy: Proc | None = None
    rootfs: str = ""
    hosts: dict[str, HostState] = field(default_factory=dict)

    def host(self, name: str) -> HostState:
        return self.hosts.setdefault(name, HostState())

    def pinned(self) -> dict[str, dict[str, str]]:
        return {name: h.keys for name, h in self.hosts.items() if h.keys}

    def to_json(self) -> str:
        return json.dumps(
            {
                "proxy": self.proxy.to_json() if self.proxy else None,
                "rootfs": self.rootfs,
                "hosts": {
                    name: {"nspawn": h.nspawn.to_json() if h.nspawn else None, "keys": h.keys}
                    for name, h in sorted(self.hosts.items())
                },
            },
            indent=2,
        )

    @classmethod
    def from_json(cls, text: str) -> LabState:
        data = json.loads(text)
        return cls(
            proxy=Proc.from_json(data.get("proxy")),
            rootfs=data.get("rootfs", ""),
            hosts={
                name: HostState(Proc.from_json(h.get("nspawn")), dict(h.get("keys", {})))
                for name, h in data.get("hosts", {}).items()
            },
        )


def load(path: Path) -> LabState:
    return LabState.from_json(path.read_text()) if path.is_file() else LabState()


def save(path: Path, state: LabState) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(state.to_json())
    tmp.replace(path)
