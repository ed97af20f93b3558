"""CPU and memory quantities in the notation both targets understand (Kubernetes style).

CPU: cores as a number (`1`, `0.5`) or millicores (`500m`).
Memory: bytes as an integer, or a number with a binary (`Ki Mi Gi Ti`) or decimal
(`k M G T`) suffix: `512Mi`, `2Gi`, `1G`. Bare Docker-style `512m` is refused on purpose:
in Kubernetes notation `m` means milli, so `512m` would be half a byte.
"""

from __future__ import annotations

import math
import re

_MEMORY_UNITS = {
    "": 1,
    "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12,
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40,
}
_MEMORY = re.compile(r"(?P<num>[0-9]+(?:\.[0-9]+)?)(?P<unit>Ki|Mi|Gi|Ti|k|M|G|T)?")
_CPU = re.compile(r"(?P<num>[0-9]+(?:\.[0-9]+)?)(?P<milli>m)?")

# Sanity bounds: anything outside is a typo, not a sizing decision.
MIN_MEMORY = 4 * 2**20  # Docker refuses limits under 6 MiB; 4 MiB catches unit slips early
MAX_MEMORY = 2**50  # 1 PiB
MIN_CPU = 0.001
MAX_CPU = 1024.0


class QuantityError(ValueError):
    """Raised with a human reason; callers wrap it into a ValidationError."""


def parse_cpu(value: object) -> float:
    if isinstance(value, bool):
        raise QuantityError("must be a CPU quantity like 1, 0.5 or 500m, got a boolean")
    if isinstance(value, int | float):
        cores = float(value)
    elif isinstance(value, str):
        match = _CPU.fullmatch(value.strip())
        if not match:
            raise QuantityError(f"'{value[:40]}' is not a CPU quantity (use 1, 0.5 or 500m)")
        cores = float(match["num"]) / (1000 if match["milli"] else 1)
    else:
        raise QuantityError("must be a CPU quantity like 1, 0.5 or 500m")
    if not math.isfinite(cores) or cores < MIN_CPU or cores > MAX_CPU:
        raise QuantityError(f"CPU quantity {value!s:.40} is outside {MIN_CPU}..{MAX_CPU:g} cores")
    return round(cores, 3)


def parse_memory(value: object) -> int:
    if isinstance(value, bool):
        raise QuantityError("must be a memory quantity like 512Mi or 2Gi, got a boolean")
    if isinstance(value, int):
        size = value
    elif isinstance(value, str):
        match = _MEMORY.fullmatch(value.strip())
        if not match:
            hint = "use 512Mi, 2Gi or bytes"
            if re.fullmatch(r"[0-9]+[mg]", value.strip()):
                hint = "Kubernetes notation: write Mi/Gi; a lower-case m means milli"
            raise QuantityError(f"'{value[:40]}' is not a memory quantity ({hint})")
        size_f = float(match["num"]) * _MEMORY_UNITS[match["unit"] or ""]
        if not math.isfinite(size_f):
            raise QuantityError(f"'{value[:40]}' is too large")
        size = int(size_f)
    else:
        raise QuantityError("must be a memory quantity like 512Mi or 2Gi")
    if size < MIN_MEMORY or size > MAX_MEMORY:
        raise QuantityError(f"memory quantity {value!s:.40} is outside 4Mi..1Pi")
    return size


def format_memory(size: int) -> str:
    """The shortest exact binary-suffixed spelling (for messages and docs)."""
    for unit in ("Ti", "Gi", "Mi", "Ki"):
        factor = _MEMORY_UNITS[unit]
        if size % factor == 0:
            return f"{size // factor}{unit}"
    return str(size)
