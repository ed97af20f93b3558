"""Image references: what runs is exactly what was reviewed.

May import: policies.core (the rule API) and the pack's own helpers; nothing outside the pack.
"""
