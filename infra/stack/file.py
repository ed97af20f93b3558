"""Reading `Pulumi.<stack>.yaml` (and `observability build --settings` files) strictly.

A stack file decides what is deployed where, so it is read at least as strictly as the
catalog (infra/model/source.py), and every refusal is one `ValidationError` line naming the
file, the key and the line:

- bytes: at most `MAX_BYTES`, UTF-8 only (the first bad byte's line is named);
- YAML: one document; duplicate keys refused (PyYAML silently keeps the last, so an appended
  `rampart:adminAllowlist` would override the reviewed one); `rampart:x` and `x` are the same
  key; aliases may not expand to more than `MAX_NODES` nodes (a "billion laughs" file is
  refused in milliseconds instead of exhausting memory) and may not be recursive; nesting
  at most `MAX_DEPTH`; keys are plain strings (`on:`/`yes:` are booleans in YAML 1.1, so
  they must be quoted); only plain YAML types (no `!!binary`, `!!set`, ...);
- shape: a mapping with known top-level keys, `config` a mapping;
- types of the keys Rampart knows (`KNOWN_TYPES`): a string where a string is expected, a
  list of strings for capabilities, ... Values the `pulumi config set` CLI writes as strings
  (`"true"`, `"5"`, JSON lists) are accepted where the engine would decode them.

The model and the other owners (observability, policies, secrets) still validate values and
ranges; this module guarantees they only ever see well-formed, bounded, plainly typed data.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from infra.model import source
from infra.model.errors import ValidationError
from infra.model.reader import type_name  # one wording of types for catalog and stack
from infra.model.source import Positions, positions

NAMESPACE = "rampart"
MAX_BYTES = 1 << 20  # a stack file is a few KiB
MAX_NODES = 10_000  # YAML nodes after alias expansion (the prod stack has ~100)
MAX_DEPTH = 32

# Top-level keys of a Pulumi stack file (pulumi/sdk/go/common/workspace: ProjectStack).
TOP_LEVEL_KEYS = frozenset({"config", "secretsprovider", "encryptedkey", "encryptionsalt",
                            "environment"})

_STR, _BOOL, _INT, _NUMBER, _STR_LIST, _MAPPING, _LIST = (
    "a string", "true or false", "an integer", "a number", "a list of strings", "a mapping",
    "a list")
# Key of the `rampart:` namespace -> the type its value must have (docs/configuration.md).
KNOWN_TYPES: dict[str, str] = {
    **dict.fromkeys(("target", "environment", "catalog", "domain", "tls", "acmeEmail",
                     "acmeCaServer", "acmeChallenge", "minTlsVersion", "vaultAddr",
                     "vaultMount"), _STR),
    **dict.fromkeys(("requireDigests", "vaultAllowInsecureHttp"), _BOOL),
    **dict.fromkeys(("ipStrategyDepth", "inflightRequests", "hstsSeconds",
                     "adminAllowlistMinPrefix", "policyWaiverMaxDays"), _INT),
    "adminAllowlistMaxShare": _NUMBER,
    **dict.fromkeys(("corsOrigins", "adminAllowlist", "policyAllowedCapabilities"), _STR_LIST),
    **dict.fromkeys(("rateLimit", "loginRateLimit", "resources", "alerts", "observability",
                     "kubernetes"),
                    _MAPPING),
    "policyWaivers": _LIST,
}

_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_T = "tag:yaml.org,2002:"
_SCALAR_TAGS = frozenset(f"{_T}{t}" for t in ("str", "int", "float", "bool", "null",
                                              "timestamp"))
_CHECKED_SCALARS = frozenset(f"{_T}{t}" for t in ("int", "float", "timestamp"))
_MERGE = f"{_T}merge"
_INT_TEXT = re.compile(r"[+-]?[0-9]+")
_NUMBER_TEXT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


Where = tuple[int, int] | None  # (line, column), 1-based, as the parser saw it


def _at(mark: Any) -> tuple[int, int]:
    return mark.line + 1, mark.column + 1


def _error(shown: str, message: str, where: Where = None, key: str | None = None
           ) -> ValidationError:
    """One refusal naming the file, the position (`file:line:column`) and the key."""
    line, column = where if where is not None else (None, None)
    return ValidationError(shown, message, field=key, line=line, column=column)


def _show(text: str) -> str:
    text = re.sub(r"[^\x20-\x7e]", "?", text)
    return text if len(text) <= 60 else text[:57] + "..."


def read_text(path: Path, shown: str, what: str = "stack file") -> str:
    """The file's text: bounded in size, UTF-8 only (the model's one file reader)."""
    return source.read_text(path, shown, what, MAX_BYTES)


class _Walk:
    """One pass over the composed node graph: duplicates, key types, tags, depth, and the
    size the document would have with every alias expanded (memoised per node, so a file of
    nested aliases costs time linear in its length, not in its expansion)."""

    def __init__(self, shown: str) -> None:
        self.shown = shown
        self.sizes: dict[int, int] = {}
        self.active: set[int] = set()
        self.constructor = yaml.constructor.SafeConstructor()

    def size(self, node: yaml.Node, path: tuple[str, ...], depth: int) -> int:
        key = id(node)
        if key in self.sizes:
            return self.sizes[key]
        line = _at(node.start_mark)
        if key in self.active:
            raise _error(self.shown, "recursive YAML alias", line, _dotted(path))
        if depth > MAX_DEPTH:
            raise _error(self.shown, f"nested more than {MAX_DEPTH} levels deep", line,
                         _dotted(path))
        self.active.add(key)
        total = 1
        if isinstance(node, yaml.MappingNode):
            total += self._mapping(node, path, depth)
        elif isinstance(node, yaml.SequenceNode):
            if node.tag != f"{_T}seq":
                raise self._tag(node, path)
            for index, item in enumerate(node.value):
                total += self.size(item, (*path, f"[{index}]"), depth + 1)
                self._bound(total, node, path)
        else:
            self._scalar(node, path)
        self._bound(total, node, path)
        self.active.discard(key)
        self.sizes[key] = total
        return total

    def _mapping(self, node: yaml.MappingNode, path: tuple[str, ...], depth: int) -> int:
        if node.tag != f"{_T}map":
            raise self._tag(node, path)
        total = 0
        first: dict[str, tuple[int, int]] = {}
        for key_node, value_node in node.value:
            line = _at(key_node.start_mark)
            if key_node.tag == _MERGE:  # `<<: *defaults`: explicit keys override merged ones
                total += 1 + self.size(value_node, path, depth + 1)
                self._bound(total, node, path)
                continue
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag != f"{_T}str":
                shown_key = _show(str(key_node.value)) if isinstance(
                    key_node, yaml.ScalarNode) else "<complex key>"
                kind = _tag_name(key_node.tag)
                raise _error(self.shown, f"key '{shown_key}' is read as {kind}, not a string "
                                         "(quote it)", line, _dotted(path))
            key = key_node.value
            if key in first:
                raise _error(self.shown, f"duplicate key '{_show(key)}' at line {line[0]} (first "
                                         f"defined at line {first[key][0]})", line,
                             _dotted((*path, key)))
            first[key] = line
            total += 1 + self.size(value_node, (*path, key), depth + 1)
            self._bound(total, node, path)
        return total

    def _scalar(self, node: yaml.Node, path: tuple[str, ...]) -> None:
        if node.tag not in _SCALAR_TAGS:
            raise self._tag(node, path)
        if node.tag in _CHECKED_SCALARS:
            # Resolved by pattern, constructed later: a `2027-13-45` expiry or a 5000-digit
            # integer would fail there without a line.
            try:
                self.constructor.construct_object(node, deep=True)
            except (ValueError, OverflowError, yaml.YAMLError) as exc:
                raise _error(self.shown, f"'{_show(str(node.value))}' is not a valid "
                                         f"{_tag_name(node.tag)} ({exc})",
                             _at(node.start_mark), _dotted(path)) from None

    def _bound(self, total: int, node: yaml.Node, path: tuple[str, ...]) -> None:
        if total > MAX_NODES:
            raise _error(self.shown, f"expands to more than {MAX_NODES} YAML nodes (an alias "
                                     "bomb?)", _at(node.start_mark), _dotted(path))

    def _tag(self, node: yaml.Node, path: tuple[str, ...]) -> ValidationError:
        return _error(self.shown, f"unsupported YAML type '{_tag_name(node.tag)}'",
                      _at(node.start_mark), _dotted(path))


def _tag_name(tag: str) -> str:
    if tag == f"{_T}timestamp":
        return "date"
    return tag.removeprefix(_T) if tag.startswith(_T) and tag[len(_T):] in (
        "bool", "int", "float", "null", "str") else (
        f"!!{tag.removeprefix(_T)}" if tag.startswith(_T) else _show(tag))


def _dotted(path: tuple[str, ...]) -> str | None:
    if path[:1] == ("config",):  # a stack file's keys are named as in `pulumi config`
        path = path[1:]
    return ".".join(path).replace(".[", "[") if path else None


def parse(text: str, shown: str) -> tuple[Any, Positions]:
    """The one YAML document in `text`, checked (see the module docstring), and the position
    of every key and item (taken before construction, which folds merge keys into their
    mappings and would move an overriding key to its anchor's line)."""
    loader = _LOADER(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {}
        _Walk(shown).size(node, (), 0)
        where = positions(node)
        return loader.construct_document(node), where
    except ValidationError:
        raise
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = ", ".join(p for p in (exc.context, exc.problem) if p) or "syntax error"
        raise _error(shown, f"not valid YAML: {problem}",
                     _at(mark) if mark else None) from None
    except yaml.reader.ReaderError as exc:
        before = text[: exc.position]
        at = (before.count("\n") + 1, exc.position - (before.rfind("\n") + 1) + 1)
        raise _error(shown, f"not valid YAML: unacceptable character #x{exc.character:04x}"
                     if isinstance(exc.character, int) else f"not valid YAML: {exc.reason}",
                     at) from None
    except (yaml.YAMLError, RecursionError, ValueError, TypeError, OverflowError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise _error(shown, f"not valid YAML: {_show(first)}") from None
    finally:
        loader.dispose()


def _key_lines(where: Positions, *path: str) -> dict[str, tuple[int, int]]:
    """Position of each key of the mapping at `path` (empty if there is none)."""
    depth = len(path)
    return {str(p[depth]): at for p, at in where.items()
            if len(p) == depth + 1 and p[:depth] == path and isinstance(p[depth], str)}


def decoded(value: Any) -> Any:
    """What the engine makes of a string value (JSON if it parses, else the string)."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def check_type(key: str, value: Any, shown: str, line: Where, field: str) -> None:
    """Refuse a value of the wrong type for a known key of the `rampart:` namespace."""
    expected = KNOWN_TYPES.get(key)
    if expected is None or value is None or (value == "" and expected != _STR):
        return  # unknown keys are the model's to refuse; null (or empty) means "the default"
    ok: bool
    if expected == _STR:
        ok = isinstance(value, str)
    elif expected == _BOOL:
        ok = isinstance(value, bool) or (isinstance(value, str)
                                        and value.strip().lower() in ("true", "false"))
    elif expected == _INT:
        ok = (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, str) and bool(_INT_TEXT.fullmatch(value.strip())))
    elif expected == _NUMBER:
        ok = (isinstance(value, int | float) and not isinstance(value, bool)) or (
            isinstance(value, str) and bool(_NUMBER_TEXT.fullmatch(value.strip())))
    elif expected == _STR_LIST:
        items = decoded(value)
        ok = isinstance(items, list) and all(isinstance(v, str) for v in items)
        if isinstance(items, list) and not ok:
            index, bad = next((i, v) for i, v in enumerate(items) if not isinstance(v, str))
            raise _error(shown, f"must be a list of strings, item {index} is {type_name(bad)}",
                         line, field)
    elif expected == _MAPPING:
        ok = isinstance(decoded(value), Mapping)
    else:
        ok = isinstance(decoded(value), list)
    if not ok:
        raise _error(shown, f"must be {expected}, got {type_name(value)}", line, field)


def read_stack_config(path: Path, shown: str) -> tuple[dict[str, Any], Positions]:
    """`config:` of a stack file: {full key (`rampart:domain`): value}, every check applied,
    and the parser's position of every key and item (for messages and policy reports).

    A key without a namespace belongs to the project's (`rampart`), as for the Pulumi CLI."""
    document, where = parse(read_text(path, shown), shown)
    if document is None:
        return {}, {}
    if not isinstance(document, Mapping):
        raise _error(shown, f"must be a mapping with a 'config' key, got {type_name(document)}")
    top_lines = _key_lines(where)
    for key in document:
        if key not in TOP_LEVEL_KEYS:
            raise _error(shown, f"unknown top-level key '{_show(str(key))}' (a stack file has: "
                                f"{', '.join(sorted(TOP_LEVEL_KEYS))})", top_lines.get(key))
    config = document.get("config")
    if config is None:
        return {}, {}
    if not isinstance(config, Mapping):
        raise _error(shown, f"'config' must be a mapping of keys to values, got "
                            f"{type_name(config)}", top_lines.get("config"))
    lines = _key_lines(where, "config")
    out: dict[str, Any] = {}
    written: dict[str, str] = {}
    for key, value in config.items():
        full = key if ":" in key else f"{NAMESPACE}:{key}"
        if full in written:
            raise _error(shown, f"duplicate key '{_show(full)}': '{_show(key)}' at line "
                                f"{lines[key][0]} and '{_show(written[full])}' at line "
                                f"{lines[written[full]][0]}", lines.get(key), full)
        written[full] = key
        if isinstance(value, Mapping) and "secure" in value:
            # Secrets come from the secrets provider, never from stack config.
            raise _error(shown, "encrypted config values are not used by Rampart; secrets "
                                "come from the secrets provider", lines.get(key), full)
        if full.startswith(f"{NAMESPACE}:"):
            check_type(full[len(NAMESPACE) + 1:], value, shown, lines.get(key), full)
        out[full] = value
    # Positions under the full key (`rampart:domain`), whichever spelling the file used.
    full_of = {key: full for full, key in written.items()}
    return out, {(p[0], full_of[str(p[1])], *p[2:])
                 if p[:1] == ("config",) and len(p) > 1 and p[1] in full_of else p: at
                 for p, at in where.items()}


def read_settings_file(path: Path, shown: str) -> dict[str, Any]:
    """A YAML mapping shaped like the `rampart:` namespace (keys with or without the
    `rampart:` prefix), e.g. for `rampart observability build --settings FILE`."""
    document, where = parse(read_text(path, shown, "settings file"), shown)
    if document is None:
        return {}
    if not isinstance(document, Mapping):
        raise _error(shown, f"must be a mapping of rampart settings, got {type_name(document)}")
    lines = _key_lines(where)
    out: dict[str, Any] = {}
    for key, value in document.items():
        short = key.removeprefix(f"{NAMESPACE}:")
        if short in out:
            raise _error(shown, f"duplicate key '{_show(short)}' (with and without the "
                                f"'{NAMESPACE}:' prefix)", lines.get(key), key)
        check_type(short, value, shown, lines.get(key), key)
        out[short] = value
    return out
