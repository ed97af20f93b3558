"""image-pinned: every image is an exact version, never `latest` or a floating tag."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from policies.core import Context, Finding, Rule, Severity
from policies.images.refs import EXACT_TAG, image_refs, parse


def check(resource_type: str, props: Mapping[str, Any], ctx: Context) -> Iterator[Finding]:
    for where, field, value in image_refs(resource_type, props):
        if value is None or value == "":
            yield Finding(f"{where} has no image reference", field=field)
            continue
        if not isinstance(value, str):
            continue  # unknown until the image resource exists: judged on that resource
        ref = parse(value)
        if ref.digest:
            continue  # a digest pins the content whatever the tag says
        if ref.tag is None:
            yield Finding(f"{where} {value!r} has no tag (Docker pulls `latest`)", field=field)
        elif ref.tag == "latest":
            yield Finding(f"{where} {value!r} uses the `latest` tag", field=field)
        elif not EXACT_TAG.search(ref.tag):
            yield Finding(
                f"{where} {value!r} uses the floating tag {ref.tag!r}, not an exact version",
                field=field,
            )


RULE = Rule(
    name="image-pinned",
    description="Images are pinned to an exact version, never `latest` or a floating tag.",
    severity=Severity.HIGH,
    remediation="Pin the image in infra/versions (one file) to an exact tag such as "
    "`15.8-alpine3.20`, or to a digest.",
    check_resource=check,
    tags=("images",),
)
