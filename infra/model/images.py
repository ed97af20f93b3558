"""Image pins: the versions file and the one function that turns a pin into an `Image`.

CONVENTIONS 4: every tag and digest lives in `infra/catalog/versions.yaml`; the catalog names
images by key only. A tag must be an exact version: not `latest`, not missing, not a
floating major (`16`, `v3`, `16-alpine`) that silently moves to new releases.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from infra.model.errors import ValidationError
from infra.model.reader import Fields, show_key
from infra.model.types import Image
from infra.secrets.literals import scan_text

# registry host (optional, may carry a port) and lower-case path components
REPOSITORY = (
    r"(?:[a-z0-9]+(?:[.-][a-z0-9]+)*(?::[0-9]{1,5})?/)?"
    r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
)
DIGEST = r"sha256:[0-9a-f]{64}"
_TAG_CHARS = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
# An exact version has at least major.minor (PostgreSQL's own versions have two parts:
# 16.9); MinIO publishes RELEASE.<timestamp> tags, which are exact too.
_EXACT = re.compile(r"v?[0-9]+\.[0-9]+(?:[.+_-][A-Za-z0-9._-]*)?|RELEASE\.[0-9TZ:.-]+")
_FLOATING_WORDS = {
    "latest", "stable", "edge", "nightly", "lts", "current", "mainline", "main", "master",
    "dev", "develop", "rolling", "snapshot", "beta", "rc", "preview", "next",
}


@dataclass(frozen=True)
class Pin:
    key: str
    repository: str
    tag: str | None  # None = missing; refused when a service uses the pin
    digest: str | None


def tag_problem(tag: str) -> str | None:
    """Why `tag` is not an exact version, or None when it is."""
    if not _TAG_CHARS.fullmatch(tag):
        return f"'{show_key(tag)}' is not a valid image tag"
    words = set(re.split(r"[.\-_]", tag.lower()))
    floating = sorted(words & _FLOATING_WORDS)
    if floating:
        return f"'{tag}' floats ('{floating[0]}' moves to new images); pin an exact version"
    if not _EXACT.fullmatch(tag):
        return (
            f"'{tag}' is not an exact version (a floating major such as '16' or 'v3' "
            "moves to new releases); pin at least major.minor, e.g. '16.9' or 'v3.4.1'"
        )
    return None


def _refuse_literal_secrets(entry: Fields) -> None:
    """Before any read could quote a value back: a registry password in a repository URL
    (`https://ci:<password>@docker.io/...`) or a token is refused naming the field."""
    for name, value in entry.data.items():
        found = scan_text(value, entry.path(name)) if isinstance(value, str) else []
        if found:
            raise entry.fail(name, f"secret declared with a literal value ({found[0].why}); "
                                   "registry credentials come from the container engine's "
                                   "login (docker login, an image pull secret), never from "
                                   "the versions file")


def load_pins(data: Any, file: str) -> dict[str, Pin]:
    """Parse the versions file (`images: {key: {repository, tag, digest}}`)."""
    top = Fields(data, file=file, what="the versions file")
    images = top.sub("images", required=True, what="'images'")
    top.raw("charts", None)  # Helm chart versions live here too (Kubernetes target)
    top.done()
    assert images is not None  # required=True
    pins: dict[str, Pin] = {}
    for key in images.data:
        images.seen.add(key)
        if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,62}", key):
            raise images.fail(key, "image keys are lower-case letters, digits, '-' and '_'")
        entry = images.sub(key, required=True, what=f"image '{key}'")
        assert entry is not None
        _refuse_literal_secrets(entry)
        repository = entry.str_(
            "repository", pattern=REPOSITORY,
            hint="a lower-case repository such as docker.io/library/postgres, without a tag",
        )
        tag = entry.raw("tag", None)
        if tag is not None and not isinstance(tag, str):
            # YAML reads 16.9 as a number; a quoted string keeps '16.10' from becoming 16.1
            raise entry.fail("tag", "must be a quoted string (YAML reads 16.10 as 16.1)")
        digest = entry.str_("digest", None, pattern=DIGEST, hint="expected sha256:<64 hex>")
        entry.raw("note", None)
        entry.done()
        pins[key] = Pin(key=key, repository=repository, tag=tag, digest=digest)
    return pins


def image_from_pin(pin: Pin, *, require_digest: bool, file: str, service: str | None) -> Image:
    """The one place a pin becomes an `Image`: exact tag checked, digest enforced.

    Errors name the versions `file`, the `service` that uses the pin and `images.<key>.*`."""
    if pin.tag is None:
        raise ValidationError(
            file,
            f"image '{pin.key}' has no tag: an untagged image means 'latest'; "
            "pin an exact version",
            service=service,
            field=f"images.{pin.key}.tag",
        )
    problem = tag_problem(pin.tag)
    if problem:
        raise ValidationError(
            file, f"image '{pin.key}': {problem}", service=service, field=f"images.{pin.key}.tag"
        )
    if require_digest and pin.digest is None:
        raise ValidationError(
            file,
            f"image '{pin.key}' has no digest, and this stack requires digests "
            "(requireDigests); add `digest: sha256:...` for the pinned tag",
            service=service,
            field=f"images.{pin.key}.digest",
        )
    return Image(repository=pin.repository, tag=pin.tag, digest=pin.digest)
