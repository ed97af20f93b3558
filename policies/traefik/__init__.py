"""Traefik edge rules: they judge the configuration the Docker target uploads into the
Traefik container (static + file-provider YAML) and any `traefik.*` container labels.

May import: policies.core (the rule API) and the pack's own helpers; nothing outside the pack.
"""
