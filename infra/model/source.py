"""Reading catalog and versions YAML: safe loading, and duplicate keys refused.

PyYAML keeps the last of two equal keys silently; in a catalog that hides a duplicated
service (or a second `port:` overriding the first), so duplicates are an error here.
YAML merge keys (`<<: *anchor`) stay allowed: overriding a merged default is their purpose.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from infra.model.errors import ValidationError
from infra.model.reader import show_key

# libyaml's loader when PyYAML was built with it (several times faster on the catalog)
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def display_path(path: Path) -> str:
    """Relative to the working directory when inside it (stable messages, SARIF locations)."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return str(path)


def read_text(path: Path, shown: str, what: str) -> str:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ValidationError(shown, f"{what} not found") from None
    except IsADirectoryError:
        raise ValidationError(shown, f"{what} is a directory, not a file") from None
    except OSError as exc:
        raise ValidationError(shown, f"{what} cannot be read: {exc.strerror}") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ValidationError(shown, f"{what} is not UTF-8 text") from None


def parse_yaml(text: str, shown: str) -> Any:
    try:
        node = yaml.compose(text, Loader=_LOADER)
        if node is None:
            return None
        _refuse_duplicates(node, shown, (), set())
        return yaml.load(text, Loader=_LOADER)  # noqa: S506 - a safe loader
    except ValidationError:
        raise
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ValidationError(shown, f"not valid YAML: {exc.problem or exc}{where}") from None
    except (yaml.YAMLError, RecursionError, ValueError, TypeError, OverflowError) as exc:
        # ValueError & co: PyYAML's resolver accepts some scalars its constructor chokes on
        # (e.g. out-of-range timestamps); RecursionError: absurdly deep nesting.
        raise ValidationError(shown, f"not valid YAML: {type(exc).__name__}") from None


def _refuse_duplicates(node: yaml.Node, shown: str, path: tuple[str, ...], seen: set[int],
                       depth: int = 0) -> None:
    if depth > 64:
        raise ValidationError(shown, "not valid YAML: nested more than 64 levels deep")
    # An alias points at a node already walked; walking it again would let a small file of
    # nested aliases ("billion laughs") take exponential time.
    if id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        first_line: dict[str, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else "<complex>"
            line = key_node.start_mark.line + 1
            if key in first_line:
                raise _duplicate(shown, path, key, first_line[key], line)
            first_line[key] = line
            _refuse_duplicates(value_node, shown, (*path, key), seen, depth + 1)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _refuse_duplicates(item, shown, (*path, f"[{index}]"), seen, depth + 1)


def _duplicate(
    shown: str, path: tuple[str, ...], key: str, first: int, again: int
) -> ValidationError:
    where = f"(line {again}; first defined at line {first})"
    if path == ("services",):
        return ValidationError(
            shown, f"duplicate service '{show_key(key)}' {where}",
            service=show_key(key), field="name",
        )
    if len(path) >= 2 and path[0] == "services":
        field = ".".join((*path[2:], key)).replace(".[", "[")
        return ValidationError(
            shown, f"duplicate key '{show_key(key)}' {where}", service=path[1], field=field
        )
    field = ".".join((*path, key)).replace(".[", "[")
    return ValidationError(shown, f"duplicate key '{show_key(key)}' {where}", field=field)
