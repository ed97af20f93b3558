"""image-pinned: every image is an exact version, never `latest` or a floating tag."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from policies.core import Context, Finding, Rule, Severity
from policies.images.refs import DIGEST, image_refs, is_exact_tag, parse


def check(resource_type: str, props: Mapping[str, Any], ctx: Context) -> Iterator[Finding]:
    for where, field, value, subject in image_refs(resource_type, props):
        if value is None or value == "":
            yield Finding(f"{where} has no image reference", field=field, subject=subject)
            continue
        if not isinstance(value, str):
            continue  # unknown until the image resource exists: judged on that resource
        ref = parse(value)
        if ref.is_image_id or (ref.digest and DIGEST.fullmatch(ref.digest)):
            continue  # a digest pins the content whatever the tag says
        if ref.digest:
            yield Finding(f"{where} {value!r} has a malformed digest (not sha256:<64 hex>), "
                          "so it pins nothing", field=field, subject=subject)
        elif ref.tag is None:
            yield Finding(f"{where} {value!r} has no tag (Docker pulls `latest`)", field=field,
                          subject=subject)
        elif ref.tag == "latest":
            yield Finding(f"{where} {value!r} uses the `latest` tag", field=field, subject=subject)
        elif not is_exact_tag(ref.tag):
            yield Finding(
                f"{where} {value!r} uses the floating tag {ref.tag!r}, not an exact version",
                field=field,
                subject=subject,
            )


RULE = Rule(
    name="image-pinned",
    description="Images are pinned to an exact version, never `latest` or a floating tag.",
    severity=Severity.HIGH,
    remediation="Pin the image in infra/versions (one file) to an exact tag such as "
    "`15.8-alpine3.20`, or to a digest.",
    check_resource=check,
    tags=("images", "docker", "kubernetes"),
)
