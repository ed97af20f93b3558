"""image-digest-required: with `rampart:requireDigests`, images are pinned by digest."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from policies.core import Context, Finding, Rule, Severity
from policies.images.refs import DIGEST, image_refs, parse


def check(resource_type: str, props: Mapping[str, Any], ctx: Context) -> Iterator[Finding]:
    if not ctx.require_digests:
        return
    for where, field, value, subject in image_refs(resource_type, props):
        if not isinstance(value, str):
            continue  # missing references are image-pinned's finding; unknown ones wait
        ref = parse(value)
        if ref.is_image_id or (ref.digest and DIGEST.fullmatch(ref.digest)):
            continue
        yield Finding(
            f"{where} {value!r} is not pinned by digest (stack sets requireDigests)",
            field=field,
            subject=subject,
        )


RULE = Rule(
    name="image-digest-required",
    description="When the stack sets requireDigests, every image is pinned by sha256 digest.",
    severity=Severity.HIGH,
    remediation="Add the image's `sha256:` digest next to its tag in infra/versions "
    "(`docker buildx imagetools inspect IMAGE` prints it).",
    check_resource=check,
    tags=("images", "supply-chain", "docker", "kubernetes"),
)
