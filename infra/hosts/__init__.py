"""Host-facing checks of an inventory: the independent auditors (Lynis, ssh-audit) and their
verdict against the owners' bars. The lab that provides hosts is infra/lab.

May import: the standard library, PyYAML and the Ansible CLI (as a subprocess); never the
model, the targets or the CLI (which imports this package).
"""
