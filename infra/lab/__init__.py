"""The lab: real systemd Debian hosts on one machine (DESIGN §4).

Each host is a Debian bookworm root booted by `systemd-nspawn --boot` inside its own network
namespace, joined to one bridge on a dedicated /24 and reached over SSH with a key generated
for the lab. `lifecycle.up/down/status` are the entry points; `config.LabConfig` names
everything a lab owns so a second, separately named lab can live beside the default one.

May import: the standard library and infra.model errors; never the targets, the offline
engine or the CLI (which drive the lab).
"""

from infra.lab.config import HostSpec, LabConfig, default_lab
from infra.lab.errors import LabError, LabInputError, LabUnavailableError

__all__ = [
    "HostSpec", "LabConfig", "LabError", "LabInputError", "LabUnavailableError", "default_lab",
]
