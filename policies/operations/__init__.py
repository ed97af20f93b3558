"""Operations: containers come back after a crash and cannot fill the disk with logs.

May import: policies.core (the rule API) and the pack's own helpers; nothing outside the pack.
"""
