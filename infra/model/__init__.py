"""The target-neutral platform model.

Everything a target needs to emit a hardened workload is decided here, once; targets only
translate these values into their own resource types. No Pulumi, no network in this
package; the only I/O is reading the catalog and versions files named by the caller.

    platform = build_platform(DEFAULT_CATALOG, {"environment": "dev"})

Bad input raises `ValidationError` (file, service, field, message), which the CLI maps to
exit code 2; any other exception is a bug in the model.

May import: infra.secrets.literals (the literal-secret detector) and nothing else of infra;
every other package imports the model.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from infra.model.build import build
from infra.model.errors import ValidationError
from infra.model.images import load_pins
from infra.model.settings import Settings, parse_settings
from infra.model.source import display_path, parse_yaml_with_positions, read_text
from infra.model.types import Platform

DEFAULT_CATALOG = Path(__file__).resolve().parent.parent / "catalog" / "erp.yaml"
DEFAULT_VERSIONS_NAME = "versions.yaml"

__all__ = [
    "DEFAULT_CATALOG",
    "Settings",
    "ValidationError",
    "build_platform",
    "build_platform_from_data",
    "parse_settings",
]


def build_platform(
    catalog_path: str | Path,
    settings: Settings | Mapping[str, Any] | None = None,
    *,
    settings_source: str = "<stack config>",
) -> Platform:
    """Read the catalog (and the versions file it names), apply the stack settings and the
    hardened defaults, validate, and return the `Platform`."""
    parsed = settings if isinstance(settings, Settings) else parse_settings(settings,
                                                                            settings_source)
    path = Path(catalog_path)
    shown = display_path(path)
    catalog, catalog_positions = parse_yaml_with_positions(
        read_text(path, shown, "catalog file"), shown)
    versions_name = DEFAULT_VERSIONS_NAME
    if isinstance(catalog, Mapping) and "versions" in catalog:
        versions_name = catalog["versions"]
        if (not isinstance(versions_name, str) or not versions_name
                or Path(versions_name).is_absolute() or ".." in Path(versions_name).parts):
            # the pins live next to the catalog they belong to, never elsewhere on disk
            raise ValidationError(shown, "must be the path of the versions file, relative to "
                                         "the catalog and inside its directory",
                                  field="versions")
    versions_path = path.parent / versions_name
    versions_shown = display_path(versions_path)
    versions, versions_positions = parse_yaml_with_positions(
        read_text(versions_path, versions_shown, "versions file"), versions_shown)
    try:
        return build_platform_from_data(
            catalog, versions, parsed,
            catalog_file=shown, versions_file=versions_shown, settings_source=settings_source,
        )
    except ValidationError as exc:
        # file:line:column from the parser, for the file the error names.
        if exc.file == shown:
            raise exc.located(catalog_positions) from None
        if exc.file == versions_shown:
            raise exc.located(versions_positions, by_service=False) from None
        raise


def build_platform_from_data(
    catalog: Any,
    versions: Any,
    settings: Settings | Mapping[str, Any] | None = None,
    *,
    catalog_file: str = "<catalog>",
    versions_file: str = "<versions>",
    settings_source: str = "<stack config>",
) -> Platform:
    """The same as `build_platform` for already-parsed data (tests, benchmarks, generated
    catalogs)."""
    parsed = settings if isinstance(settings, Settings) else parse_settings(settings,
                                                                              settings_source)
    pins = load_pins(versions, versions_file)
    return build(catalog, pins, parsed, catalog_file=catalog_file, versions_file=versions_file,
                 settings_source=settings_source)
