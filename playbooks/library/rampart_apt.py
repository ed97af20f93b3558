#!/usr/bin/python
"""Documentation of the rampart_apt action (playbooks/action_plugins/rampart_apt.py)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: rampart_apt
short_description: The apt module, run only when dpkg shows a package to install or remove
description:
  - Takes exactly the options of M(ansible.builtin.apt).
  - For C(state=present) or C(state=absent) with plain package names, one C(dpkg-query) on the
    host decides first; when nothing is to be done the task is ok without loading apt's cache.
  - Every other case, and every case where dpkg shows work, runs M(ansible.builtin.apt) with
    the same options (its C(cache_valid_time) and update stamp decide about refreshing).
  - Runs on the controller as an action plugin; this file only documents it.
options: {}
extends_documentation_fragment: []
"""

EXAMPLES = r"""
- name: Nftables is installed
  rampart_apt:
    name: [nftables]
    state: present
    install_recommends: false
    cache_valid_time: 3600
"""
