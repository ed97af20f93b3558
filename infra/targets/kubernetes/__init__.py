"""The Kubernetes target: the same validated `Platform` as pulumi-kubernetes objects.

`deploy` (in `platform.py`, imported lazily by infra.program so a Docker stack never loads
pulumi-kubernetes) declares namespaces under Pod Security "restricted", hardened workloads,
default-deny NetworkPolicies with one allow per catalog edge, the shared edge as Traefik CRDs,
certificates by cert-manager, secrets from Vault through External Secrets, monitoring as
Prometheus Operator objects and PostgreSQL as a CloudNativePG cluster (docs/kubernetes.md).
`settings.py` is the stack block's parser, a leaf the stack reader imports.

May import: infra.model, infra.edge (the shared edge), infra.secrets (the provider protocol).
"""
