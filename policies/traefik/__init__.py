"""Traefik edge rules: they judge the configuration the Docker target uploads into the
Traefik container (static + file-provider YAML) and any `traefik.*` container labels."""
