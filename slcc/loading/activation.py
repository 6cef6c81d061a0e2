"""The ``ALTER SESSION SET SCRIPT_LANGUAGES=...`` statement for an exported flavor in BucketFS.

Two sources, as exaslct has them:

- ``flavor_base/language_definition``: exaslct's ``generate-language-activation`` renders
  this Jinja template with ``bucketfs_name``, ``bucket_name``, ``path_in_bucket`` (with a
  trailing ``/`` when not empty) and ``release_name`` (the container name), strips it and
  wraps it as ``ALTER SESSION SET SCRIPT_LANGUAGES='...';``. slcc renders exactly these four
  ``{{ name }}`` placeholders and refuses any other Jinja, so the text is exaslct's.
- ``language_definitions.json`` (schema version 2; what the database reads from the
  container): each alias becomes ``ALIAS=<protocol>:///<bucketfs>/<bucket>/<path><name>?
  <parameters>#buckets/<bucketfs>/<bucket>/<path><name><executable>``, the URL form of
  exaslct's LanguageDefinitionURL.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from slcc.errors import InputError

TEMPLATE = Path("flavor_base/language_definition")
DEFINITIONS = "language_definitions.json"
SCHEMA_VERSION = 2
_VARIABLES = ("bucketfs_name", "bucket_name", "path_in_bucket", "release_name")
_PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")
_JINJA = re.compile(r"\{\{|\{%|\{#")


@dataclass(frozen=True)
class BucketLocation:
    bucketfs_name: str
    bucket_name: str
    container_name: str  # exaslct's release name: the directory the archive is extracted to
    path_in_bucket: str = ""

    @property
    def path_prefix(self) -> str:
        path = self.path_in_bucket
        return path + "/" if path and not path.endswith("/") else path


@dataclass(frozen=True)
class Activation:
    definition: str  # the SCRIPT_LANGUAGES value
    source: Path  # the file it was made from

    @property
    def alter_session(self) -> str:
        return f"ALTER SESSION SET SCRIPT_LANGUAGES='{self.definition}';"

    @property
    def alter_system(self) -> str:
        return f"ALTER SYSTEM SET SCRIPT_LANGUAGES='{self.definition}';"


def from_template(path: Path, location: BucketLocation) -> Activation:
    values = {
        "bucketfs_name": location.bucketfs_name,
        "bucket_name": location.bucket_name,
        "path_in_bucket": location.path_prefix,
        "release_name": location.container_name,
    }
    text = _read(path)
    lines = []
    for number, line in enumerate(text.split("\n"), start=1):
        def value(match: re.Match[str], number: int = number) -> str:
            name = match.group(1)
            if name not in values:
                raise InputError(f"unknown placeholder {{{{ {name} }}}} (known: {', '.join(_VARIABLES)})",
                                 f"{path}:{number}")
            return values[name]

        rendered = _PLACEHOLDER.sub(value, line)
        if _JINJA.search(_PLACEHOLDER.sub("", line)):
            raise InputError("Jinja beyond {{ name }} is not supported", f"{path}:{number}")
        lines.append(rendered)
    return Activation("\n".join(lines).strip(), path)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read ({exc.__class__.__name__})", path) from None


def _strings(value: Any, where: str, path: Path, allow_empty: bool = False) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value) or \
            (not value and not allow_empty):
        raise InputError(f"{where} must be a non-empty list of non-empty strings", path)
    return list(value)


def _field(item: dict[str, Any], key: str, where: str, path: Path) -> str:
    value = item.get(key)
    if not isinstance(value, str) or not value:
        raise InputError(f"{where}.{key} must be a non-empty string", path)
    return value


def load_definitions(path: Path) -> list[dict[str, Any]]:
    """The language definitions of a schema version 2 file, validated."""
    try:
        data = json.loads(_read(path))
    except ValueError as exc:
        raise InputError(f"invalid JSON: {exc}", path) from None
    if not isinstance(data, dict):
        raise InputError("must be a JSON object with schema_version and language_definitions", path)
    if data.get("schema_version") != SCHEMA_VERSION:
        raise InputError(f"schema_version is {data.get('schema_version')!r}; slcc (like exaslct) supports "
                         f"{SCHEMA_VERSION}", path)
    definitions = data.get("language_definitions")
    if not isinstance(definitions, list) or not definitions:
        raise InputError("language_definitions must be a non-empty list", path)
    for index, item in enumerate(definitions):
        where = f"language_definitions[{index}]"
        if not isinstance(item, dict):
            raise InputError(f"{where} must be an object", path)
        _field(item, "protocol", where, path)
        _strings(item.get("aliases"), f"{where}.aliases", path)
        parameters = item.get("parameters")
        if not isinstance(parameters, list) or not all(
                isinstance(p, dict) and isinstance(p.get("key"), str) and isinstance(p.get("value"), str)
                for p in parameters):
            raise InputError(f"{where}.parameters must be a list of {{\"key\": ..., \"value\": ...}}", path)
        client = item.get("udf_client_path")
        if not isinstance(client, dict):
            raise InputError(f"{where}.udf_client_path must be an object with executable", path)
        _field(client, "executable", f"{where}.udf_client_path", path)
    return definitions


def from_definitions(path: Path, location: BucketLocation) -> Activation:
    chroot = f"{location.bucketfs_name}/{location.bucket_name}/{location.path_prefix}{location.container_name}"
    parts: list[str] = []
    for item in load_definitions(path):
        query = urlencode([(p["key"], p["value"]) for p in item["parameters"]])
        executable = item["udf_client_path"]["executable"]
        fragment = f"buckets/{chroot}/{executable.lstrip('/')}"
        url = f"{item['protocol']}:///{chroot}" + (f"?{query}" if query else "") + f"#{fragment}"
        parts.extend(f"{alias}={url}" for alias in item["aliases"])
    return Activation(" ".join(parts), path)


def find_source(flavor_dir: Path, step_files: list[Path], kind: str) -> tuple[str, Path]:
    """``("template", path)`` or ``("json", path)``; ``kind`` is auto, template or json.

    auto prefers exaslct's template (its statement is exactly exaslct's), else the JSON file
    a step puts into its context, else one beside flavor.toml or in flavor_base/.
    """
    template = flavor_dir / TEMPLATE
    if kind in ("auto", "template") and template.is_file():
        return "template", template
    if kind in ("auto", "json"):
        candidates = [*step_files, flavor_dir / DEFINITIONS, flavor_dir / "flavor_base" / DEFINITIONS]
        for path in candidates:
            if path.is_file():
                return "json", path
    wanted = {"template": str(TEMPLATE), "json": DEFINITIONS}.get(kind, f"{TEMPLATE} or {DEFINITIONS}")
    raise InputError(f"no language definition: {wanted} not found", flavor_dir)
