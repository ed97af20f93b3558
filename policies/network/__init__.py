"""Network exposure: the edge proxy is the only way in.

May import: policies.core (the rule API) and the pack's own helpers; nothing outside the pack.
"""
