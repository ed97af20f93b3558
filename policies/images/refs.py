"""Parsing image references as written in resource inputs."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from policies.core import (
    CONTAINER,
    REMOTE_IMAGE,
    cname,
    get,
    pod_containers_by_role,
    pod_spec,
)

DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
# "Exact version": the tag *starts* with at least major.minor (16.4, 16.4-alpine3.20, v2.11.3,
# 7.2.5) or is a release stamp (minio's RELEASE.2024-08-03T04-33-23Z). A tag that names only
# a major or a major plus variant floats to every new release of it: `16`, `v2`, `16-alpine`
# and `16-alpine3.20` (the 3.20 is the base image's version, not the image's), as do words
# such as `latest` or `stable`.
EXACT_TAG = re.compile(r"^v?\d+\.\d+|^(?:[A-Za-z]+[.-])?\d{4}-?\d{2}-?\d{2}")


def is_exact_tag(tag: str) -> bool:
    return bool(EXACT_TAG.search(tag))


@dataclass(frozen=True)
class ImageRef:
    raw: str
    repository: str
    tag: str | None
    digest: str | None

    @property
    def is_image_id(self) -> bool:
        """A bare content id (`sha256:…`, what RemoteImage.image_id yields) pins by content."""
        return bool(DIGEST.fullmatch(self.raw))


def parse(ref: str) -> ImageRef:
    if DIGEST.fullmatch(ref):
        return ImageRef(ref, "", None, ref)
    name, _, digest = ref.partition("@")
    last = name.rsplit("/", 1)[-1]
    tag = None
    if ":" in last:
        name, _, tag = name.rpartition(":")
    return ImageRef(ref, name, tag or None, digest or None)


def image_refs(resource_type: str, props: Mapping[str, Any],
               ) -> Iterator[tuple[str, str, Any, str]]:
    """(where, field, value, waiver subject) for every image reference a resource carries:
    Docker's `image`, or every container, init container and ephemeral container of a pod
    (subject `<container>/image`)."""
    if resource_type == CONTAINER:
        yield "image", "image", props.get("image"), "image"
    elif resource_type == REMOTE_IMAGE:
        yield "image", "image", props.get("name"), "image"
    elif (spec := pod_spec(resource_type, props)) is not None:
        for role, c in pod_containers_by_role(spec):
            yield f"{role} {cname(c)}", "image", get(c, "image"), f"{cname(c)}/image"
