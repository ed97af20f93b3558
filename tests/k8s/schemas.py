"""Schema validation of rendered Kubernetes objects, offline.

Two authorities, one per kind of object:

- built-in kinds (core, apps, batch, networking.k8s.io, ...) against the official OpenAPI
  schema of a pinned Kubernetes minor, in strict mode (unknown fields are errors), by the
  `kubernetes-validate` package;
- custom resources against the openAPIV3Schema of the CRD vendored under `crds/` for the
  operator release the project targets (see crds/SOURCES.md), with jsonschema.

A custom resource's schema is made as strict as the API server is in effect: the server prunes
every field that a structural schema does not declare, so a misspelt field would be silently
dropped there; here it is an error. Only objects marked `x-kubernetes-preserve-unknown-fields`
keep unknown fields. What the server decides beyond the schema is not judged here: CEL rules
(`x-kubernetes-validations`), admission webhooks and the operators' own checks.

Every function returns human-readable errors, "<kind>/<name>: <path>: <message>", [] when valid.
"""

from __future__ import annotations

import base64
import binascii
import copy
import datetime
import functools
import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import importlib_resources
import jsonschema
import kubernetes_validate
import yaml
from kubernetes_validate.utils import all_versions, major_minor

CRDS = Path(__file__).resolve().parent / "crds"
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: the CRDs weigh 4 MB
SOURCES = CRDS / "SOURCES.md"
DEFAULT_VERSION = "1.31"

_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)
_INT_OR_STRING = [{"type": "integer"}, {"type": "string"}]
# The one thing checked of a custom resource's metadata (the API server validates the rest
# itself, the same way for every kind).
_METADATA = {"type": "object", "required": ["name"],
             "properties": {"name": {"type": "string", "minLength": 1}}}
# Fields every object of an embedded resource may carry besides its declared ones.
_EMBEDDED = {"apiVersion": {"type": "string"}, "kind": {"type": "string"},
             "metadata": {"type": "object"}}


# ---------------------------------------------------------------------------------------------
# Reporting


def _where(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata")
    name = meta.get("name") if isinstance(meta, Mapping) else None
    return f"{obj.get('kind') or '<no kind>'}/{name or '<no name>'}"


def _path(parts: Iterable[object]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text.lstrip(".") or "<root>"


def _short(value: object, limit: int = 60) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _describe(error: jsonschema.ValidationError, unknown: str) -> list[tuple[str, str]]:
    """(path, message) pairs for one jsonschema error, naming the offending field itself."""
    where = list(error.absolute_path)
    instance, schema = error.instance, error.schema
    if _is_unknown_field(error):
        declared = schema.get("properties", {})
        extra = sorted(key for key in instance if key not in declared)
        return [(_path([*where, key]), unknown) for key in extra]
    if error.validator == "required" and isinstance(instance, Mapping):
        missing = [key for key in error.validator_value if key not in instance]
        return [(_path([*where, key]), "required field missing") for key in missing]
    if error.validator == "type":
        expected = error.validator_value
        expected = " or ".join(expected) if isinstance(expected, list) else expected
        return [(_path(where), f"expected {expected}, got {_json_type(instance)} "
                              f"{_short(instance)}")]
    if error.validator == "enum":
        allowed = _short(error.validator_value, 200)
        return [(_path(where), f"{_short(instance)} is not one of {allowed}")]
    if error.validator in ("anyOf", "oneOf"):
        return [(_path(where), f"{_short(instance)} matches none of the allowed forms")]
    message = error.message
    if message.startswith(repr(instance)):  # jsonschema opens with the whole value
        message = _short(instance) + message[len(repr(instance)):]
    return [(_path(where), message if len(message) <= 300 else message[:297] + "...")]


def _format(obj: Mapping[str, Any], pairs: Iterable[tuple[str, str]]) -> list[str]:
    where = _where(obj)
    return sorted({f"{where}: {path}: {message}" for path, message in pairs})


def _api_group(api_version: object) -> str:
    if not isinstance(api_version, str) or not api_version:
        raise ValueError(f"apiVersion must be a non-empty string, got {api_version!r}")
    return api_version.rpartition("/")[0]


# ---------------------------------------------------------------------------------------------
# Built-in kinds: the official OpenAPI schema


def _schema_version(version: str) -> str:
    """The shipped schema set of exactly this minor (no silent fallback to an older one)."""
    wanted = major_minor(version.removeprefix("v"))
    for shipped in all_versions():
        if major_minor(shipped) == wanted:
            return shipped
    raise ValueError(f"kubernetes-validate {kubernetes_validate.__version__} ships no schemas "
                     f"for Kubernetes {wanted} (it has {', '.join(all_versions())})")


@functools.cache
def builtin_groups(version: str = DEFAULT_VERSION) -> frozenset[str]:
    """API groups the Kubernetes `version` serves itself ("" is the core group)."""
    shipped = _schema_version(version)
    definitions = importlib_resources.files("kubernetes_validate").joinpath(
        f"kubernetes-json-schema/v{shipped}-local-strict/_definitions.json")
    schemas = json.loads(definitions.read_text())["$defs"]
    return frozenset(gvk["group"] for schema in schemas.values()
                     for gvk in schema.get("x-kubernetes-group-version-kind", ()))


def is_builtin(obj: Mapping[str, Any], version: str = DEFAULT_VERSION) -> bool:
    return _api_group(obj.get("apiVersion")) in builtin_groups(version)


def validate_official(obj: dict, version: str = DEFAULT_VERSION) -> list[str]:
    """Errors of a built-in object against the official schema of Kubernetes `version`,
    strict (unknown fields are errors). kubernetes-validate stops at the first error it
    finds (jsonschema's best match), so an invalid object yields one error per run.

    Raises ValueError for a custom resource (see `validate_custom`) or an unshipped version.
    """
    group = _api_group(obj.get("apiVersion"))
    if group not in builtin_groups(version):
        raise ValueError(f"{_where(obj)}: {obj.get('apiVersion')} is not a built-in API group "
                         f"of Kubernetes {version}; validate it with validate_custom")
    shipped = _schema_version(version)
    try:
        used = kubernetes_validate.validate(obj, shipped, strict=True)
    except kubernetes_validate.SchemaNotFoundError:
        return _format(obj, [("apiVersion", f"Kubernetes {major_minor(shipped)} serves no kind "
                                            f"{obj.get('kind')!r} in {obj.get('apiVersion')}")])
    except kubernetes_validate.ValidationError as error:
        return _format(obj, _describe(error, "unknown field (not in the schema)"))
    if used != major_minor(shipped):  # the library picked another schema set than asked
        raise RuntimeError(f"validated against Kubernetes {used}, not {shipped}")
    return []


# ---------------------------------------------------------------------------------------------
# Custom resources: the vendored CRDs


@functools.cache
def _crds() -> dict[tuple[str, str], tuple[str, dict[str, Any]]]:
    """(group, kind) -> (operator directory, CustomResourceDefinition)."""
    found: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {}
    for path in sorted(CRDS.glob("*/*.yaml")):
        for doc in yaml.load_all(path.read_text(), Loader=_LOADER):
            if not doc or doc.get("kind") != "CustomResourceDefinition":
                continue
            key = (doc["spec"]["group"], doc["spec"]["names"]["kind"])
            if key in found:
                raise ValueError(f"{path}: a second CRD for {key[1]} in {key[0]}")
            found[key] = (path.parent.name, doc)
    return found


def _python_pattern(pattern: str) -> str:
    """A Go (RE2) pattern as Python's re reads it. The two agree on what CRDs use, except that
    Go takes inline flags anywhere while Python wants global ones first: `^(?i)x` is
    `(?i)^x` to both."""
    try:
        re.compile(pattern)
        return pattern
    except re.error:
        moved = re.sub(r"^\^\(\?([ims]+)\)", r"(?\1)^", pattern)
        re.compile(moved)  # anything else is not for a silent rewrite
        return moved


def _strict(node: Mapping[str, Any], *, structural: bool = True) -> dict[str, Any]:
    """A jsonschema equivalent of one CRD schema node, pruning turned into refusal.

    `structural` is False inside anyOf/allOf/oneOf/not: those only add value checks and do not
    declare fields, so they get no additionalProperties of their own.
    """
    out = {key: value for key, value in node.items() if key != "description"}
    declared_type = out.get("type")
    if isinstance(out.get("pattern"), str):
        out["pattern"] = _python_pattern(out["pattern"])
    if out.get("x-kubernetes-int-or-string"):
        out["type"] = ["integer", "string"]
        if out.get("anyOf") == _INT_OR_STRING:
            del out["anyOf"]
    if out.pop("nullable", False):
        if isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
    for bound, limit in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        # OpenAPI 3.0 (and so Kubernetes) writes these as flags on minimum/maximum.
        flag = out.get(bound)
        if isinstance(flag, bool):
            del out[bound]
            if flag and limit in out:
                out[bound] = out.pop(limit)
    properties = {name: _strict(sub, structural=structural)
                  for name, sub in out.get("properties", {}).items()}
    if out.get("x-kubernetes-embedded-resource"):
        properties = {**_EMBEDDED, **properties}
    if "properties" in out or properties:
        out["properties"] = properties
    if structural and "required" in out:
        # The API server applies defaults before it validates: a required field with a
        # default is never missing there.
        required = [name for name in out["required"]
                    if "default" not in node.get("properties", {}).get(name, {})]
        if required:
            out["required"] = required
        else:
            del out["required"]
    if isinstance(out.get("items"), Mapping):
        out["items"] = _strict(out["items"], structural=structural)
    if isinstance(out.get("additionalProperties"), Mapping):
        out["additionalProperties"] = _strict(out["additionalProperties"], structural=structural)
    for combinator in ("anyOf", "allOf", "oneOf"):
        if combinator in out:
            out[combinator] = [_strict(sub, structural=False) for sub in out[combinator]]
    if "not" in out:
        out["not"] = _strict(out["not"], structural=False)
    if (structural and declared_type == "object" and "additionalProperties" not in out
            and not out.get("x-kubernetes-preserve-unknown-fields")):
        out["additionalProperties"] = False
    return out


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


_FORMATS = jsonschema.FormatChecker(formats=())


@_FORMATS.checks("int32")
def _int32(value: object) -> bool:  # the operators' Go types cannot hold more
    return not _is_int(value) or _INT32[0] <= value <= _INT32[1]  # type: ignore[operator]


@_FORMATS.checks("int64")
def _int64(value: object) -> bool:
    return not _is_int(value) or _INT64[0] <= value <= _INT64[1]  # type: ignore[operator]


@_FORMATS.checks("byte", raises=binascii.Error)
def _byte(value: object) -> bool:
    return not isinstance(value, str) or base64.b64decode(value, validate=True) is not None


@_FORMATS.checks("date-time", raises=ValueError)
def _date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not re.fullmatch(r"\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d:\d\d(\.\d+)?([Zz]|[+-]\d\d:\d\d)", value):
        raise ValueError(f"{value!r} is not RFC 3339")
    return datetime.datetime.fromisoformat(value.upper().replace("Z", "+00:00")) is not None


@functools.cache
def _validator(group: str, version: str, kind: str) -> jsonschema.Draft202012Validator:
    _, crd = _crds()[(group, kind)]
    served = next(v for v in crd["spec"]["versions"] if v["name"] == version)
    schema = _strict(served["schema"]["openAPIV3Schema"])
    schema["properties"]["metadata"] = copy.deepcopy(_METADATA)
    schema.setdefault("required", [])
    for field in ("apiVersion", "kind", "metadata"):
        if field not in schema["required"]:
            schema["required"].append(field)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=_FORMATS)


def validate_custom(obj: dict) -> list[str]:
    """Errors of a custom resource against the vendored CRD of its group and kind.

    Raises ValueError for a built-in kind (see `validate_official`).
    """
    api_version = obj.get("apiVersion")
    group = _api_group(api_version)
    if not group or group in builtin_groups(DEFAULT_VERSION):
        raise ValueError(f"{_where(obj)}: {api_version} is a built-in API group; validate it "
                         "with validate_official")
    version = str(api_version).rpartition("/")[2]
    kind = obj.get("kind")
    known = _crds()
    if not isinstance(kind, str) or (group, kind) not in known:
        kinds = sorted(k for g, k in known if g == group)
        hint = f"it has {', '.join(kinds)}" if kinds else "no vendored CRD has that group"
        return _format(obj, [("kind", f"no vendored CRD for kind {kind!r} of {group} ({hint})")])
    operator, crd = known[(group, kind)]
    versions = {v["name"]: v for v in crd["spec"]["versions"]}
    served = sorted(name for name, v in versions.items() if v.get("served"))
    if not versions.get(version, {}).get("served"):
        state = "is not served" if version in versions else "does not exist"
        return _format(obj, [("apiVersion", f"{api_version} {state} for {kind} in {operator} "
                                            f"{crd_versions().get(operator, '?')} (served: "
                                            f"{', '.join(group + '/' + s for s in served)})")])
    # As the API server does: prune undeclared fields and null values of non-nullable fields,
    # then validate what is left (so a stray field does not also count against, say,
    # maxProperties). What the server would silently drop is an error here.
    validator = _validator(group, version, kind)
    dropped: list[tuple[list[Any], Any, str]] = []
    for error in validator.iter_errors(obj):
        path = list(error.absolute_path)
        if _is_unknown_field(error):
            dropped += [(path, key, _PRUNED) for key in error.instance
                        if key not in error.schema.get("properties", {})]
        elif error.validator == "type" and error.instance is None and path \
                and isinstance(path[-1], str):
            dropped.append((path[:-1], path[-1], _NULL))
    pruned = copy.deepcopy(obj)
    for path, key, _ in dropped:
        node = pruned
        for part in path:
            node = node[part]
        del node[key]
    pairs = [(_path([*path, key]), why) for path, key, why in dropped]
    for error in validator.iter_errors(pruned):
        pairs += _describe(error, _PRUNED)
    return _format(obj, pairs)


_PRUNED = "unknown field (the API server would prune it)"
_NULL = "null for a field that is not nullable (the API server would prune it)"


def _is_unknown_field(error: jsonschema.ValidationError) -> bool:
    return (error.validator == "additionalProperties" and error.validator_value is False
            and isinstance(error.instance, Mapping) and isinstance(error.schema, Mapping))


def validate(obj: dict, version: str = DEFAULT_VERSION) -> list[str]:
    """Errors of any rendered object: official schema for built-in kinds, CRD otherwise."""
    if is_builtin(obj, version):
        return validate_official(obj, version)
    return validate_custom(obj)


# ---------------------------------------------------------------------------------------------
# What was vendored

def sources_table(section: str) -> list[dict[str, str]]:
    """The rows of the table under `## <section>` in crds/SOURCES.md, by column heading."""
    lines = SOURCES.read_text().splitlines()
    body = lines[lines.index(f"## {section}") + 1:]
    body = body[: next((i for i, line in enumerate(body) if line.startswith("## ")), len(body))]
    cells = [[cell.strip().strip("`") for cell in line.strip().strip("|").split("|")]
             for line in body if line.startswith("|")]
    heading, rows = cells[0], cells[2:]  # cells[1] is the |---| rule
    return [dict(zip(heading, row, strict=True)) for row in rows]


@functools.cache
def crd_versions() -> dict[str, str]:
    """{operator (its directory under crds/): upstream release tag}, from SOURCES.md."""
    return {row["Operator"]: row["Release"] for row in sources_table("Releases")}


def vendored_kinds() -> dict[str, dict[str, dict[str, list[str]]]]:
    """{operator: {kind: {"served"|"storage"|"unserved": [apiVersion, ...]}}} of the CRDs."""
    out: dict[str, dict[str, dict[str, list[str]]]] = {}
    for (group, kind), (operator, crd) in sorted(_crds().items()):
        versions = crd["spec"]["versions"]
        out.setdefault(operator, {})[kind] = {
            "served": [f"{group}/{v['name']}" for v in versions if v.get("served")],
            "storage": [f"{group}/{v['name']}" for v in versions if v.get("storage")],
            "unserved": [f"{group}/{v['name']}" for v in versions if not v.get("served")]}
    return out
