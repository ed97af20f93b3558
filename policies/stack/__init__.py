"""Stack rules: properties of the whole deployment, not of one resource.

May import: policies.core (the rule API) and the pack's own helpers; nothing outside the pack.
"""
