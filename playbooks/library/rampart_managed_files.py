#!/usr/bin/python
"""The files a role owns, in one module call per task: each written only when it differs."""

from __future__ import annotations

import grp
import os
import pwd
import re
import shlex
import shutil
import stat
import tempfile
from typing import Any

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
---
module: rampart_managed_files
short_description: Files a role owns, each changed only when it differs from what is wanted
description:
  - Brings a list of files and directories to their wanted state in one call on the host
    (instead of one copy, template, file or lineinfile call per path).
  - A file is rewritten only when its content differs; owner, group and mode are corrected
    only when they differ. The task reports C(changed) only when something was changed.
  - Content is written to a temporary file beside the destination, checked with C(validate)
    when given, and moved into place atomically with its final owner and mode already set.
  - The action plugin of the same name renders C(src) templates on the controller (the
    role's C(templates/) directory, like M(ansible.builtin.template)) into C(content).
  - Supports check mode and diff mode (one diff per changed path).
options:
  files:
    description: What each path must be.
    type: list
    elements: dict
    required: true
    suboptions:
      dest:
        description: Absolute path on the host.
        type: path
        required: true
      state:
        description:
          - C(file) a regular file, C(directory) a directory (created when missing),
            C(absent) nothing at that path.
        type: str
        choices: [file, directory, absent]
        default: file
      content:
        description: The whole content of the file.
        type: str
      src:
        description: A template of the role, rendered by the action plugin into C(content).
        type: str
      lines:
        description:
          - Lines the existing file must contain, each replacing the last line that matches its
            C(regexp) or appended at the end (M(ansible.builtin.lineinfile)'s rule). The file
            must exist.
        type: list
        elements: dict
      mode:
        description: Permissions, as an octal string (C("0644")) or number.
        type: raw
      owner:
        description: Owning user.
        type: str
        default: root
      group:
        description: Owning group.
        type: str
        default: root
      validate:
        description: Command that checks the new content before it replaces the file; C(%s) is
          the temporary file's path.
        type: str
"""

EXAMPLES = r"""
- name: Logins show the legal banner
  rampart_managed_files:
    files:
      - {dest: /etc/issue, content: "Authorised use only.\n", mode: "0644"}
      - {dest: /etc/sudoers.d/10-logging, src: sudoers-logging.j2, mode: "0440",
         validate: /usr/sbin/visudo -cf %s}
      - {dest: /etc/cron.deny, state: absent}
"""

RETURN = r"""
changed_paths:
  description: The paths that were (or in check mode would be) changed.
  returned: always
  type: list
  elements: str
"""

FILE_SPEC: dict[str, Any] = {
    "dest": {"type": "path", "required": True},
    "state": {"type": "str", "choices": ["file", "directory", "absent"], "default": "file"},
    "content": {"type": "str"},
    "src": {"type": "str"},
    "lines": {"type": "list", "elements": "dict"},
    "mode": {"type": "raw"},
    "owner": {"type": "str", "default": "root"},
    "group": {"type": "str", "default": "root"},
    "validate": {"type": "str"},
}


def edited(text: str, lines: list[dict[str, str]]) -> str:
    """`text` with each {regexp, line} applied the way lineinfile applies one: the last
    matching line is replaced, otherwise the line is appended."""
    original = text.splitlines()
    rows = list(original)
    for edit in lines:
        pattern = re.compile(edit["regexp"])
        found = [i for i, row in enumerate(rows) if pattern.search(row)]
        if found:
            rows[found[-1]] = edit["line"]
        else:
            rows.append(edit["line"])
    if rows == original:
        return text  # no edit: keep the file byte for byte (a missing final newline too)
    return "\n".join(rows) + "\n"


def _mode(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, int):
        return value
    return int(str(value), 8)


def _read(path: str) -> str | None:
    try:
        with open(path, "rb") as handle:
            return handle.read().decode("utf-8", errors="surrogateescape")
    except FileNotFoundError:
        return None


def _attributes(item: dict[str, Any], path: str) -> dict[str, Any]:
    mode = _mode(item["mode"])
    return {"path": path, "owner": item["owner"], "group": item["group"],
            "mode": None if mode is None else f"0{mode:o}", "secontext": [None] * 3,
            "attributes": None}


def _write(module: AnsibleModule, item: dict[str, Any], dest: str, text: str) -> None:
    """Temporary file beside dest with its final owner and mode, validated, moved in place."""
    fd, tmp = tempfile.mkstemp(prefix=".rampart-", dir=os.path.dirname(dest) or "/")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(text.encode("utf-8", errors="surrogateescape"))
        os.chown(tmp, _uid(module, item["owner"]), _gid(module, item["group"]))
        mode = _mode(item["mode"])
        os.chmod(tmp, mode if mode is not None else 0o644)
        if item["validate"]:
            if "%s" not in item["validate"]:
                module.fail_json(msg=f"{dest}: validate must contain %s: {item['validate']}")
            argv = [arg.replace("%s", tmp) for arg in shlex.split(item["validate"])]
            rc, out, err = module.run_command(argv)
            if rc != 0:
                module.fail_json(msg=f"{dest}: failed to validate", exit_status=rc,
                                 stdout=out, stderr=err, cmd=argv)
        module.atomic_move(tmp, dest, keep_dest_attrs=False)
        # atomic_move gives a new file the umask's mode: the wanted one again, at once.
        module.set_fs_attributes_if_different(_attributes(item, dest), False, expand=False)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _uid(module: AnsibleModule, owner: str) -> int:
    try:
        return pwd.getpwnam(owner).pw_uid
    except KeyError:
        if owner.isdigit():
            return int(owner)
        module.fail_json(msg=f"no such user: {owner}")
        raise


def _gid(module: AnsibleModule, group: str) -> int:
    try:
        return grp.getgrnam(group).gr_gid
    except KeyError:
        if group.isdigit():
            return int(group)
        module.fail_json(msg=f"no such group: {group}")
        raise


def converge(module: AnsibleModule, item: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
    """(changed, diff) for one path; nothing is written in check mode."""
    dest, state, check = item["dest"], item["state"], module.check_mode
    diff: dict[str, Any] = {"before_header": dest, "after_header": dest,
                            "before": {}, "after": {}}
    exists = os.path.lexists(dest)
    if state == "absent":
        if not exists:
            return False, diff
        diff["before"], diff["after"] = {"path": dest, "state": "present"}, {"state": "absent"}
        if not check:
            if os.path.isdir(dest) and not os.path.islink(dest):
                shutil.rmtree(dest)
            else:
                os.unlink(dest)
        return True, diff

    if exists and os.path.islink(dest):
        module.fail_json(msg=f"{dest} is a symbolic link; a managed path must be the real one")
    if state == "directory":
        changed = False
        if exists and not os.path.isdir(dest):
            module.fail_json(msg=f"{dest} exists and is not a directory")
        if not exists:
            changed = True
            diff["before"], diff["after"] = {"state": "absent"}, {"state": "directory"}
            if check:
                return True, diff
            os.makedirs(dest)
        changed = module.set_fs_attributes_if_different(
            _attributes(item, dest), changed, diff, expand=False)
        return changed, diff

    if exists and not stat.S_ISREG(os.lstat(dest).st_mode):
        module.fail_json(msg=f"{dest} exists and is not a regular file")
    before = _read(dest)
    if item["lines"] is not None:
        if before is None:
            module.fail_json(msg=f"{dest} does not exist (lines are edited into an existing file)")
        wanted: str | None = edited(before, item["lines"])
    else:
        wanted = item["content"]
    if wanted is None:
        # Attributes only (a file the system provides, such as /etc/crontab).
        if before is None:
            module.fail_json(msg=f"{dest} does not exist and no content was given for it")
        changed = module.set_fs_attributes_if_different(
            _attributes(item, dest), False, diff, expand=False)
        return changed, diff
    if before == wanted:
        changed = module.set_fs_attributes_if_different(
            _attributes(item, dest), False, diff, expand=False)
        return changed, diff
    diff["before"] = before if before is not None else ""
    diff["after"] = wanted
    if before is None:
        diff["before_header"] = f"{dest} (absent)"
    if not check:
        _write(module, item, dest, wanted)
    return True, diff


def main() -> None:
    module = AnsibleModule(
        argument_spec={"files": {"type": "list", "elements": "dict", "required": True,
                                 "options": FILE_SPEC}},
        supports_check_mode=True,
    )
    changed_paths, diffs = [], []
    for item in module.params["files"]:
        if item["content"] is not None and item["lines"] is not None:
            module.fail_json(msg=f"{item['dest']}: content and lines are mutually exclusive")
        if item["src"] is not None:
            module.fail_json(msg=f"{item['dest']}: src is rendered by the action plugin; "
                             "call rampart_managed_files as a task, not as a bare module")
        changed, diff = converge(module, item)
        if changed:
            changed_paths.append(item["dest"])
            diffs.append(diff)
    result: dict[str, Any] = {"changed": bool(changed_paths), "changed_paths": changed_paths}
    if module._diff:
        result["diff"] = diffs
    module.exit_json(**result)


if __name__ == "__main__":
    main()
