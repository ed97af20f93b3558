"""ansible.builtin.apt, called only when dpkg shows there is something to do.

Each role installs its own packages with this action (no role reads another role's list of
installed packages). The host is asked once, with `dpkg-query` (a plain command: no module,
no apt cache loaded); when every named package is already installed (state=present) or
already gone (state=absent), the task is ok without running apt, which otherwise costs about
a second of a host's CPU to load its cache. Anything else (a package missing, state=latest,
a version pin, a .deb, autoremove, an update without names) runs the apt module with the
task's arguments unchanged, so apt's own rules (cache_valid_time against the update stamp,
lock_timeout, install_recommends, purge) still decide. Check and diff mode are apt's.
"""

from __future__ import annotations

import re
import shlex
from typing import Any

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

# A plain package name: anything else (name=version, globs, paths to .deb) goes to apt.
_PLAIN = re.compile(r"^[a-z0-9][a-z0-9+.-]*(:[a-z0-9-]+)?$")


def satisfied(state: str, names: list[str], dpkg_lines: list[str]) -> bool:
    """True when `dpkg-query --show --showformat='${db:Status-Abbrev}${Package}\\n'` output
    shows every name installed (present) or none of them installed (absent)."""
    status = {line[3:].strip(): line[:3] for line in dpkg_lines if len(line) > 3}
    bare = [n.split(":", 1)[0] for n in names]
    if state == "present":
        return all(status.get(n, "").startswith("ii") for n in bare)
    # absent: not installed, or only configuration files left (what the apt task did not
    # touch before either).
    return all(status.get(n, "un")[1:2] in ("n", "c") for n in bare)


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _supports_check_mode = True
    _supports_diff = True

    def _names(self) -> list[str] | None:
        """The package names when a dpkg query can answer for them, else None."""
        args = self._task.args
        names = args.get("name", args.get("pkg", args.get("package")))
        if names is None or args.get("deb") or args.get("autoremove") or args.get("upgrade"):
            return None
        if args.get("state", "present") not in ("present", "absent"):
            return None
        if isinstance(names, str):
            names = [n.strip() for n in names.split(",")]
        if not isinstance(names, list) or not names:
            return None
        names = [str(n) for n in names]
        return names if all(_PLAIN.match(n) for n in names) else None

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        del tmp
        names = self._names()
        if names is not None:
            query = "dpkg-query --show --showformat='${db:Status-Abbrev}${Package}\\n' " + " ".join(
                shlex.quote(n.split(":", 1)[0]) for n in names)
            # rc 1 only means "some name unknown to dpkg": the output still answers.
            answer = self._low_level_execute_command(query, sudoable=False)
            if answer.get("rc") not in (0, 1):
                raise AnsibleActionFail(f"dpkg-query failed: {answer.get('stderr', '')}")
            lines = str(answer.get("stdout", "")).splitlines()
            state = self._task.args.get("state", "present")
            if satisfied(state, names, lines):
                result.update(changed=False, msg=f"dpkg: every package already {state}")
                return result
        result.update(self._execute_module(module_name="ansible.legacy.apt",
                                           module_args=self._task.args, task_vars=task_vars))
        return result
