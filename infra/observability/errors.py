"""The error raised for an impossible observability setting.

A `ValidationError` like every other bad input (the CLI maps it to exit code 2), whose
`field` is the stack-config key at fault, e.g. `rampart:alerts.error_ratio_critical`.
"""

from __future__ import annotations

from infra.model.errors import ValidationError

STACK_CONFIG = "stack config"


class ConfigError(ValidationError):
    def __init__(self, key: str, message: str, file: str = STACK_CONFIG) -> None:
        super().__init__(file, message, field=f"rampart:{key}")
