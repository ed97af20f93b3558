"""infra/stack/file.py: the stack reader is as strict as the catalog reader, and every refusal
is one line naming the file, the key and the line."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from infra import stack as config
from infra.model.errors import ValidationError
from infra.stack import file as stackfile

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]


def _alias_bomb(width: int = 9, depth: int = 9) -> str:
    lines = [f"a0: &a0 [{', '.join(['lol'] * width)}]"]
    for level in range(1, depth):
        lines.append(f"a{level}: &a{level} [{', '.join([f'*a{level - 1}'] * width)}]")
    return "\n".join(lines) + f"\nconfig:\n  rampart:adminAllowlist: *a{depth - 1}\n"


# name -> (stack file text or bytes, fragments the one-line message must hold)
BAD: dict[str, tuple[str | bytes, tuple[str, ...]]] = {
    "duplicate-key": (
        "config:\n  rampart:adminAllowlist:\n    - 10.8.0.0/24\n"
        "  rampart:adminAllowlist:\n    - 0.0.0.0/1\n",
        ("field 'rampart:adminAllowlist'", "duplicate key", "line 4", "first defined at line 2")),
    "duplicate-spelling": (
        "config:\n  rampart:domain: erp.example.com\n  domain: evil.example.com\n",
        ("field 'rampart:domain'", "duplicate key", "line 3", "line 2")),
    "duplicate-nested": (
        "config:\n  rampart:rateLimit:\n    average: 100\n    average: 100000\n",
        ("field 'rampart:rateLimit.average'", "duplicate key", "line 4")),
    "alias-bomb": (_alias_bomb(), ("expands to more than", "alias bomb")),
    "recursive-alias": ("config:\n  rampart:alerts: &a {x: *a}\n", ("recursive YAML alias",)),
    "too-deep": ("config:\n  rampart:alerts: " + "[" * 40 + "]" * 40 + "\n",
                 ("nested more than",)),
    "non-utf8": (b"config:\n  rampart:domain: caf\xe9.example.com\n",
                 ("not UTF-8", "line 2")),
    "utf16": ("config:\n  rampart:domain: x\n".encode("utf-16"), ("not UTF-8", "line 1")),
    "nul-byte": ("config:\n  rampart:domain: a\x00b\n", ("not valid YAML", "line 2")),
    "syntax": ("config:\n  rampart:corsOrigins: [unclosed\n", ("not valid YAML", "line 3")),
    "two-documents": ("config: {}\n---\nconfig: {}\n", ("single document", "line 2")),
    "top-level-list": ("- config\n", ("must be a mapping", "got a list")),
    "top-level-scalar": ("just text\n", ("must be a mapping", "got a string")),
    "config-list": ("config: [a, b]\n", ("'config' must be a mapping", "line 1")),
    "typo-top-level": ("confg:\n  rampart:domain: x\n", ("unknown top-level key 'confg'",)),
    "caps-int": ("config:\n  rampart:policyAllowedCapabilities: 5\n",
                 ("field 'rampart:policyAllowedCapabilities'", "must be a list of strings",
                  "got an integer", "line 2")),
    "caps-item": ("config:\n  rampart:policyAllowedCapabilities: [NET_BIND_SERVICE, 5]\n",
                  ("item 1 is an integer",)),
    "domain-int": ("config:\n  rampart:domain: 123\n", ("must be a string", "got an integer")),
    "digests-word": ("config:\n  rampart:requireDigests: maybe\n", ("must be true or false",)),
    "hsts-list": ("config:\n  rampart:hstsSeconds: [1]\n", ("must be an integer",)),
    "share-word": ("config:\n  rampart:adminAllowlistMaxShare: half\n", ("must be a number",)),
    "max-days-float": ("config:\n  rampart:policyWaiverMaxDays: 1.5\n",
                       ("must be an integer", "got a number")),
    "waivers-mapping": ("config:\n  rampart:policyWaivers: {rule: x}\n", ("must be a list",)),
    "alerts-string": ("config:\n  rampart:alerts: loud\n", ("must be a mapping",)),
    "allowlist-scalar": ("config:\n  rampart:adminAllowlist: 10.0.0.0/8\n",
                         ("must be a list of strings", "got a string")),
    "bool-key": ("config:\n  rampart:alerts:\n    on: 1\n", ("key 'on' is read as bool",
                                                            "quote it", "line 3")),
    "int-key": ("config:\n  rampart:resources:\n    1: {}\n", ("key '1' is read as int",)),
    "binary": ("config:\n  rampart:domain: !!binary aGVsbG8=\n",
               ("unsupported YAML type '!!binary'",)),
    "python-tag": ("config:\n  rampart:domain: !!python/name:os.system x\n",
                   ("unsupported YAML type",)),
    "bad-date": ("config:\n  rampart:policyWaivers:\n    - expires: 2027-13-45\n",
                 ("'2027-13-45' is not a valid date", "line 3")),
    "huge-int": ("config:\n  rampart:hstsSeconds: " + "9" * 5000 + "\n", ("not a valid int",)),
    "encrypted": ("config:\n  rampart:domain:\n    secure: AAABAxyz\n",
                  ("encrypted config values",)),
}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "Pulumi.yaml").write_text("name: rampart\nruntime: python\n")
    return tmp_path


@pytest.mark.parametrize("name", list(BAD))
def test_each_bad_stack_file_is_one_line_naming_file_and_place(project, name):
    text, fragments = BAD[name]
    path = project / "Pulumi.bad.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    started = time.monotonic()
    with pytest.raises(ValidationError) as err:
        config.load("bad", project)
    message = str(err.value)
    assert time.monotonic() - started < 2, f"{name}: took {time.monotonic() - started:.1f} s"
    assert len(message.splitlines()) == 1, message
    # file[:line:column] from the parser, then the key and what is wrong.
    where = re.match(r"Pulumi\.bad\.yaml(?::(\d+):(\d+))?: ", message)
    assert where, message
    for fragment in fragments:
        line = re.fullmatch(r"line (\d+)", fragment)
        found = fragment in message or (line is not None and where[1] == line[1])
        assert found, f"{name}: {fragment!r} not in {message!r}"


@pytest.mark.parametrize("width,depth", [(9, 9), (30, 6), (2, 40), (1000, 3)])
def test_alias_bombs_of_any_shape_are_refused_quickly(project, width, depth):
    (project / "Pulumi.bomb.yaml").write_text(_alias_bomb(width, depth) if depth <= 30 else
                                              _alias_bomb(width, 30))
    started = time.monotonic()
    with pytest.raises(ValidationError, match="expands to more than|nested more than"):
        config.load("bomb", project)
    assert time.monotonic() - started < 2


def test_small_aliases_and_merge_keys_are_fine(project):
    (project / "Pulumi.ok.yaml").write_text(
        "config:\n  rampart:rateLimit: &limits {average: 50, burst: 20}\n"
        "  rampart:loginRateLimit:\n    <<: *limits\n    average: 5\n")
    stack = config.load("ok", project)
    assert stack.values["loginRateLimit"] == {"average": 5, "burst": 20}
    assert stack.model.edge.login_rate_average == 5


def test_strings_the_pulumi_cli_writes_are_accepted(project):
    (project / "Pulumi.cli.yaml").write_text(
        "config:\n  rampart:requireDigests: 'true'\n  rampart:hstsSeconds: '31536000'\n"
        "  rampart:corsOrigins: '[\"https://app.erp.example.com\"]'\n"
        "  rampart:policyAllowedCapabilities: '[\"NET_BIND_SERVICE\"]'\n"
        "  aws:region: eu-west-1\n")
    stack = config.load("cli", project)
    assert stack.model.require_digests is True and stack.policy.require_digests is True
    assert stack.model.edge.hsts_seconds == 31536000
    assert stack.model.edge.cors_origins == ("https://app.erp.example.com",)
    assert "aws:region" not in stack.values, "other namespaces are not Rampart's"


def test_empty_and_config_less_stack_files_are_empty(project):
    (project / "Pulumi.empty.yaml").write_text("# nothing yet\n")
    (project / "Pulumi.bare.yaml").write_text("secretsprovider: passphrase\n")
    assert dict(config.load("empty", project).values) == {}
    assert dict(config.load("bare", project).values) == {}


@pytest.mark.parametrize("stack", ["../etc/passwd", "a/b", ".hidden", "", "x" * 101, "dev\n"])
def test_a_stack_name_cannot_name_another_file(project, stack):
    with pytest.raises(ValidationError, match="is not a stack name"):
        config.load(stack, project)


def test_unknown_stack_names_the_file_and_the_stacks_there(project):
    (project / "Pulumi.dev.yaml").write_text("config: {}\n")
    with pytest.raises(ValidationError,
                       match=r"Pulumi\.prdo\.yaml: no such stack file \(stack 'prdo'; "
                             r"stacks here: dev\)"):
        config.load("prdo", project)


def test_an_oversized_stack_file_is_refused(project):
    (project / "Pulumi.big.yaml").write_text("config:\n" + "  # padding\n" * 200_000)
    with pytest.raises(ValidationError, match="larger than 1024 KiB"):
        config.load("big", project)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_shipped_stacks_read_cleanly(stack):
    raw, _ = stackfile.read_stack_config(ROOT / f"Pulumi.{stack}.yaml", f"Pulumi.{stack}.yaml")
    assert raw["rampart:environment"] == stack


def test_settings_files_are_read_as_strictly(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("rampart:alerts: {diskCritical: 0.9}\nalerts: {diskCritical: 0.1}\n")
    with pytest.raises(ValidationError, match="duplicate key 'alerts'"):
        stackfile.read_settings_file(path, str(path))
    path.write_bytes(b"alerts:\n  x: \xff\n")
    with pytest.raises(ValidationError, match=r"s\.yaml:2:6: .*not UTF-8 text"):
        stackfile.read_settings_file(path, str(path))
    path.write_text("observability:\n  nodeTargets: ['db1:9100']\n")
    assert stackfile.read_settings_file(path, str(path)) == {
        "observability": {"nodeTargets": ["db1:9100"]}}
