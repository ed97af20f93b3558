"""Traefik edge rules: they judge the configuration the Docker target uploads into the
Traefik container (static + file-provider YAML), any `traefik.*` container labels, and on
Kubernetes the Traefik workload's ConfigMaps and flags and the CRD provider's Middleware,
IngressRoute and TLSOption objects (one view of them all: config.py).

May import: policies.core (the rule API) and the pack's own helpers; nothing outside the pack.
"""
