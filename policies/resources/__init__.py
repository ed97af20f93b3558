"""Resource limits and health: one service cannot starve the host or hide a dead process.

May import: policies.core (the rule API) and the pack's own helpers; nothing outside the pack.
"""
