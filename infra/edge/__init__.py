"""The edge every target shares: Traefik's static and dynamic configuration from the model.

`traefik` turns a `Platform` into entrypoints, routers, middlewares (rate limit, login limit,
security headers, CORS, in-flight limit, admin allowlist and basic auth) and TLS options; a
target only decides how the files reach Traefik (Docker uploads, later Kubernetes objects).

May import: infra.model (and pulumi/pulumi-tls for the dev certificate); never a target.
"""
