"""Deployment targets: each turns a validated `Platform` into one platform's resources
(docker/ now; a second target is a sibling package with the same `deploy` signature). Which
target runs is `infra.program.TARGETS`, chosen by the stack's `rampart:target`.

May import: infra.model, infra.edge (the shared edge) and infra.secrets (the provider
protocol); never infra.stack, the offline engine or the CLI.
"""
