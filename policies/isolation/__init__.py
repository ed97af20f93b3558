"""Container isolation: a compromised service stays inside its container.

May import: policies.core (the rule API) and the pack's own helpers; nothing outside the pack.
"""
