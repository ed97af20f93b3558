"""Controller half of rampart_managed_files (playbooks/library/rampart_managed_files.py).

Renders each item's `src` template the way ansible.builtin.template does (the role's
templates/ directory, trim_blocks, `ansible_managed` and the template_* variables), puts the
result in `content`, and runs the module once on the host for the whole list. Playbook-
adjacent (playbooks/action_plugins), so every role of every playbook in playbooks/ finds it.
"""

from __future__ import annotations

import os
from typing import Any

from ansible.errors import AnsibleActionFail, AnsibleError
from ansible.plugins.action import ActionBase
from ansible.template import trust_as_template

try:  # ansible-core 2.19: the template module's own helper for template_* variables
    from ansible._internal._templating import _template_vars
except ImportError:  # pragma: no cover - older cores are not supported by the lock file
    _template_vars = None

MODULE = "ansible.legacy.rampart_managed_files"


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _supports_check_mode = True
    _supports_diff = True

    def _render(self, src: str, dest: str, task_vars: dict[str, Any]) -> str:
        try:
            source = self._find_needle("templates", src)
        except AnsibleError as exc:
            raise AnsibleActionFail(f"{dest}: template {src}: {exc}") from exc
        template = trust_as_template(self._loader.get_text_file_contents(source))
        searchpath = list(task_vars.get("ansible_search_path", []))
        searchpath.extend([self._loader._basedir, os.path.dirname(source)])
        searchpath = [p for base in searchpath for p in (os.path.join(base, "templates"), base)]
        variables = dict(task_vars)
        if _template_vars is not None:
            variables.update(_template_vars.generate_ansible_template_vars(
                path=src, fullpath=source, dest_path=dest,
                include_ansible_managed="ansible_managed" not in variables))
        templar = self._templar.copy_with_new_env(searchpath=searchpath,
                                                  available_variables=variables)
        rendered = templar.template(template, escape_backslashes=False,
                                    overrides={"trim_blocks": True, "lstrip_blocks": False,
                                               "newline_sequence": "\n"})
        return "" if rendered is None else str(rendered)

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        del tmp
        files = self._task.args.get("files")
        if not isinstance(files, list):
            raise AnsibleActionFail("files must be a list of {dest, content|src|lines, ...}")
        items = []
        for item in files:
            if not isinstance(item, dict) or not item.get("dest"):
                raise AnsibleActionFail(f"each managed file needs a dest: {item!r}")
            item = dict(item)
            src = item.pop("src", None)
            if src is not None:
                if item.get("content") is not None or item.get("lines") is not None:
                    raise AnsibleActionFail(f"{item['dest']}: src, content and lines exclude "
                                            "one another")
                item["content"] = self._render(src, item["dest"], task_vars)
            items.append(item)
        result.update(self._execute_module(module_name=MODULE, module_args={"files": items},
                                           task_vars=task_vars))
        return result
