"""Reading catalog and versions YAML: safe loading, and duplicate keys refused.

PyYAML keeps the last of two equal keys silently; in a catalog that hides a duplicated
service (or a second `port:` overriding the first), so duplicates are an error here.
YAML merge keys (`<<: *anchor`) stay allowed: overriding a merged default is their purpose.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from infra.model.errors import ValidationError
from infra.model.reader import show_key

# libyaml's loader when PyYAML was built with it (several times faster on the catalog)
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


# Key path (mapping keys and sequence indexes from the document root) -> (line, column), both
# 1-based, of the key (for a mapping entry) or the item (for a sequence entry), as the parser
# saw it: what messages and SARIF/Markdown reports point at.
Positions = Mapping[tuple[str | int, ...], tuple[int, int]]


def positions(node: yaml.Node | None) -> dict[tuple[str | int, ...], tuple[int, int]]:
    """Every key's and item's position in a composed document (aliases walked once)."""
    out: dict[tuple[str | int, ...], tuple[int, int]] = {}
    seen: set[int] = set()
    stack: list[tuple[yaml.Node, tuple[str | int, ...]]] = [(node, ())] if node else []
    while stack:
        current, path = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, yaml.MappingNode):
            for key_node, value_node in current.value:
                if not isinstance(key_node, yaml.ScalarNode) or key_node.tag.endswith(":merge"):
                    continue
                key = (*path, str(key_node.value))
                out.setdefault(key, (key_node.start_mark.line + 1, key_node.start_mark.column + 1))
                stack.append((value_node, key))
        elif isinstance(current, yaml.SequenceNode):
            for index, item in enumerate(current.value):
                key = (*path, index)
                out.setdefault(key, (item.start_mark.line + 1, item.start_mark.column + 1))
                stack.append((item, key))
    return out


def display_path(path: Path) -> str:
    """Relative to the working directory when inside it (stable messages, SARIF locations)."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return str(path)


def read_text(path: Path, shown: str, what: str, max_bytes: int | None = None) -> str:
    """The file's text, UTF-8 only (the first bad byte's line is named), at most `max_bytes`
    when given: the one reader of every catalog, versions, stack and settings file."""
    try:
        with path.open("rb") as handle:
            raw = handle.read() if max_bytes is None else handle.read(max_bytes + 1)
    except FileNotFoundError:
        raise ValidationError(shown, f"no such {what}") from None
    except IsADirectoryError:
        raise ValidationError(shown, f"{what} is a directory, not a file") from None
    except OSError as exc:
        raise ValidationError(shown, f"{what} cannot be read: {exc.strerror or exc}") from None
    if max_bytes is not None and len(raw) > max_bytes:
        raise ValidationError(shown, f"{what} is larger than {max_bytes // 1024} KiB")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        raise ValidationError(shown, f"{what} is not UTF-8 text (byte 0x{raw[exc.start]:02x})",
                              line=before.count(b"\n") + 1,
                              column=exc.start - (before.rfind(b"\n") + 1) + 1) from None


def parse_yaml(text: str, shown: str) -> Any:
    return parse_yaml_with_positions(text, shown)[0]


def parse_yaml_with_positions(text: str, shown: str) -> tuple[Any, dict[tuple[str | int, ...],
                                                                      tuple[int, int]]]:
    """The document and the parser's position of every key and item in it."""
    loader = _LOADER(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {}
        _refuse_duplicates(node, shown, (), set())
        # Before construction: it folds merge keys (`<<: *x`) into their mappings, which
        # would put an overriding key at its anchor's line.
        where = positions(node)
        return loader.construct_document(node), where
    except ValidationError:
        raise
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise ValidationError(shown, f"not valid YAML: {exc.problem or exc}",
                              line=mark.line + 1 if mark else None,
                              column=mark.column + 1 if mark else None) from None
    except (yaml.YAMLError, RecursionError, ValueError, TypeError, OverflowError) as exc:
        # ValueError & co: PyYAML's resolver accepts some scalars its constructor chokes on
        # (e.g. out-of-range timestamps); RecursionError: absurdly deep nesting.
        raise ValidationError(shown, f"not valid YAML: {type(exc).__name__}") from None
    finally:
        loader.dispose()


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
