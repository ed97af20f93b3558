"""requirements.lock is what `make setup` installs, and only it (readiness SUP-5): every
dependency pyproject.toml names is in the lock at a version its specifier allows, every locked
requirement is pinned exactly with a sha256 hash, nothing comes from a URL, a VCS or another
index, and the Makefile installs the lock with --require-hashes and the project itself with
--no-deps (pip cannot add an unlocked package). Each way around it is a case below."""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
LOCK = REPO / "requirements.lock"
_SHA256 = re.compile(r"^--hash=sha256:[0-9a-f]{64}$")


def declared() -> list[Requirement]:
    """pyproject.toml's dependencies and the dev extra (what `make lock` resolves)."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return [Requirement(r) for r in
            [*project["dependencies"], *project["optional-dependencies"]["dev"]]]


def _logical_lines(text: str) -> list[str]:
    joined, lines = "", []
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].strip() if not raw.lstrip().startswith("#") else ""
        if line.endswith("\\"):
            joined += line[:-1] + " "
            continue
        joined += line
        if joined.strip():
            lines.append(joined.strip())
        joined = ""
    if joined.strip():
        lines.append(joined.strip())
    return lines


def lock_problems(requirements: list[Requirement], lock_text: str) -> list[str]:
    """What makes the lock not the whole, hashed, exact set the project installs."""
    problems: list[str] = []
    pinned: dict[str, str] = {}
    for line in _logical_lines(lock_text):
        words = shlex.split(line)
        if words[0].startswith("-"):
            problems.append(f"option line {line[:80]!r}: the lock names packages only")
            continue
        cut = next((i for i, w in enumerate(words) if w.startswith("-")), len(words))
        spec, options = " ".join(words[:cut]), words[cut:]
        try:
            req = Requirement(spec)
        except InvalidRequirement:
            problems.append(f"{spec[:80]!r} is not a requirement")
            continue
        name = canonicalize_name(req.name)
        if req.url:
            problems.append(f"{name} comes from a URL ({req.url[:60]})")
            continue
        exact = [s for s in req.specifier if s.operator == "=="]
        if len(exact) != 1 or len(req.specifier) != 1 or "*" in exact[0].version:
            problems.append(f"{name} is not pinned to one version ({req.specifier})")
            continue
        hashes = [o for o in options if o.startswith("--hash=")]
        if not hashes or not all(_SHA256.match(h) for h in hashes):
            problems.append(f"{name}=={exact[0].version} has no sha256 hash")
        if [o for o in options if not o.startswith("--hash=")]:
            problems.append(f"{name}: options other than --hash ({options})")
        if name in pinned:
            problems.append(f"{name} is locked twice")
        pinned[name] = exact[0].version
    for req in requirements:
        name = canonicalize_name(req.name)
        if name not in pinned:
            problems.append(f"{name} (pyproject.toml) is not in the lock: run `make lock`")
        elif not req.specifier.contains(pinned[name], prereleases=True):
            problems.append(f"{name}: pyproject.toml asks {req.specifier}, the lock has "
                            f"{pinned[name]}: run `make lock`")
    return problems


@pytest.mark.requirement("SUP-5")
def test_the_lock_holds_every_declared_dependency_pinned_and_hashed() -> None:
    assert lock_problems(declared(), LOCK.read_text(encoding="utf-8")) == []


HASH = "--hash=sha256:" + "ab" * 32


EVASIONS = ["not-locked", "other-version", "no-hash", "md5-hash", "range", "wildcard", "url",
            "extra-index", "editable-vcs", "twice"]


@pytest.mark.parametrize(("lock", "problem"), ids=EVASIONS, argvalues=[
    (f"rich==15.0.0 \\\n    {HASH}\n", "pyyaml (pyproject.toml) is not in the lock"),
    (f"pyyaml==6.0.2 \\\n    {HASH}\n", "pyyaml: pyproject.toml asks ==6.0.3, the lock has 6.0.2"),
    ("pyyaml==6.0.3\n", "pyyaml==6.0.3 has no sha256 hash"),
    ("pyyaml==6.0.3 \\\n    --hash=md5:0123456789abcdef0123456789abcdef\n",
     "pyyaml==6.0.3 has no sha256 hash"),
    (f"pyyaml>=6.0.3 \\\n    {HASH}\n", "pyyaml is not pinned to one version"),
    (f"pyyaml==6.0.* \\\n    {HASH}\n", "pyyaml is not pinned to one version"),
    (f"pyyaml @ https://example.invalid/PyYAML-6.0.3.tar.gz \\\n    {HASH}\n",
     "pyyaml comes from a URL"),
    (f"--extra-index-url https://pypi.example.invalid/simple\npyyaml==6.0.3 \\\n    {HASH}\n",
     "option line '--extra-index-url"),
    (f"-e git+https://example.invalid/pyyaml.git#egg=pyyaml\npyyaml==6.0.3 \\\n    {HASH}\n",
     "option line '-e git+"),
    (f"pyyaml==6.0.3 \\\n    {HASH}\nPyYAML==6.0.3 \\\n    {HASH}\n", "pyyaml is locked twice"),
])
def test_each_way_around_the_lock_is_reported(lock: str, problem: str) -> None:
    problems = lock_problems([Requirement("PyYAML==6.0.3")], lock)
    assert any(p.startswith(problem) for p in problems), problems


def test_a_clean_lock_passes_the_same_check() -> None:
    lock = f"# via nothing\nPyYAML==6.0.3 \\\n    {HASH} \\\n    {HASH}\n    # via rampart\n"
    assert lock_problems([Requirement("pyyaml==6.0.3")], lock) == []


def _recipe(target: str) -> list[str]:
    """The shell lines `make TARGET` runs, through its $(STAMP) prerequisite for setup."""
    text = (REPO / "Makefile").read_text(encoding="utf-8")
    head = re.search(rf"^{re.escape(target)}:.*$\n((?:\t.*\n)+)", text, re.M)
    assert head, f"Makefile has no recipe for {target}"
    return [line.strip() for line in head.group(1).splitlines()]


@pytest.mark.requirement("SUP-5")
def test_make_setup_installs_only_the_lock_with_hashes() -> None:
    installs = [line for line in _recipe("$(STAMP)") if " pip install" in line]
    locked = [line for line in installs if "-r requirements.lock" in line]
    assert len(locked) == 1 and "--require-hashes" in locked[0], installs
    for line in installs:
        if line in locked:
            continue
        words = shlex.split(line)
        # The project itself, without resolving anything; and pip's own upgrade.
        assert "--no-deps" in words or words[-2:] == ["--upgrade", "pip"], (
            f"Makefile installs something the lock does not pin: {line}")
