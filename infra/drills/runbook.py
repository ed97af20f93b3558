"""The fix a drill applies is the one its runbook documents.

A runbook page (runbooks/<Alert>.md) marks a shell block of its Mitigation section as
executable by a drill with an HTML comment right above the fence, invisible when rendered:

    <!-- drill: node-exporter-stopped -->
    ```sh
    systemctl start prometheus-node-exporter
    ```

The block runs as root on the host the alert names (`on=host`, the default) or, for a fix
made from the admin workstation (powering a lab host on, unsealing with the controller's
key shares), on the controller with `<!-- drill: KEY on=controller -->`. The alert's labels
are in the environment in upper case (MOUNTPOINT, INSTANCE, ...). A runbook whose documented
commands do not fix the fault therefore fails the drill.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from infra.drills.errors import DrillInputError
from infra.observability.runbooks import RUNBOOK_DIR

_MARKER = re.compile(
    r"^<!--\s*drill:\s*(?P<key>[a-z0-9][a-z0-9-]*)(?:\s+on=(?P<on>[a-z]+))?\s*-->\s*$"
)
_FENCE = re.compile(r"^```(?P<lang>\S*)\s*$")
PLACES = ("host", "controller")


@dataclass(frozen=True)
class RunbookFix:
    alert: str
    key: str
    on: str  # host | controller
    script: str
    line: int  # of the marker, 1-based, for messages

    @property
    def where(self) -> str:
        return f"runbooks/{self.alert}.md:{self.line} (drill: {self.key})"


def mitigation_fixes(alert: str, text: str) -> dict[str, RunbookFix]:
    """Every drill block of the page's Mitigation section, by key."""
    lines = text.splitlines()
    fixes: dict[str, RunbookFix] = {}
    section = ""
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("## "):
            section = line[3:].strip()
        marker = _MARKER.match(line.strip())
        if marker is None:
            if "<!--" in line and "drill:" in line:
                raise DrillInputError(
                    f"runbooks/{alert}.md:{i + 1}: malformed drill marker {line.strip()!r} "
                    "(expected <!-- drill: KEY --> or <!-- drill: KEY on=controller -->)"
                )
            i += 1
            continue
        key, on = marker["key"], marker["on"] or "host"
        where = f"runbooks/{alert}.md:{i + 1}"
        if section != "Mitigation":
            raise DrillInputError(f"{where}: drill block {key!r} outside the Mitigation section")
        if on not in PLACES:
            raise DrillInputError(f"{where}: drill block {key!r}: on={on} (expected host or "
                                  "controller)")
        if key in fixes:
            raise DrillInputError(f"{where}: drill block {key!r} appears twice")
        j = i + 1
        while j < len(lines) and not lines[j].strip():
            j += 1
        fence = _FENCE.match(lines[j].strip()) if j < len(lines) else None
        if fence is None or fence["lang"] not in ("sh", "bash"):
            raise DrillInputError(f"{where}: drill block {key!r} must be followed by a "
                                  "```sh fence")
        body: list[str] = []
        j += 1
        while j < len(lines) and lines[j].strip() != "```":
            body.append(lines[j])
            j += 1
        if j == len(lines):
            raise DrillInputError(f"{where}: drill block {key!r}: the fence is never closed")
        script = "\n".join(body).strip()
        if not [b for b in body if b.strip() and not b.lstrip().startswith("#")]:
            raise DrillInputError(f"{where}: drill block {key!r} has no command")
        fixes[key] = RunbookFix(alert, key, on, script + "\n", i + 1)
        i = j + 1
    return fixes


def runbook_fix(alert: str, key: str, directory: Path = RUNBOOK_DIR) -> RunbookFix:
    """The block `key` of runbooks/<alert>.md; a missing page or block is named."""
    path = directory / f"{alert}.md"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DrillInputError(f"runbooks/{alert}.md: cannot read it ({exc.strerror})") from None
    fixes = mitigation_fixes(alert, text)
    if key not in fixes:
        known = ", ".join(sorted(fixes)) or "none"
        raise DrillInputError(f"runbooks/{alert}.md has no drill block {key!r} in its "
                              f"Mitigation section (blocks: {known})")
    return fixes[key]
