"""The GS1 EPCIS 2.0 JSON schema validator the EPCIS tests share (data in ``tests/epcis/``).

Draft 7, as the schema declares, with a :class:`jsonschema.FormatChecker`: its
``date-time`` (rfc3339-validator) and ``uri`` (rfc3986-validator) checks are
real — :func:`require_format_checks` fails loudly if a checker package is missing,
because without them the schema silently accepts bare words and unprefixed names.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft7Validator, FormatChecker

EPCIS_DIR = Path(__file__).resolve().parent / "epcis"
SCHEMA_PATH = EPCIS_DIR / "epcis-json-schema.ref-gs1-2.0.1.json"
EXAMPLES = sorted((EPCIS_DIR / "examples").glob("*.jsonld"))


@cache
def schema() -> dict[str, Any]:
    value: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return value


@cache
def validator() -> Draft7Validator:
    Draft7Validator.check_schema(schema())
    return Draft7Validator(schema(), format_checker=FormatChecker())


def require_format_checks() -> None:
    checker = validator().format_checker
    assert checker is not None
    assert not checker.conforms("2026-13-45T99:00:00Z", "date-time"), "date-time is not really checked"
    assert not checker.conforms("sealing", "uri"), "uri is not really checked"
    assert checker.conforms("urn:kcl:seal:KA0322406C", "uri")


def errors(document: Any) -> list[str]:
    """Every schema violation of ``document`` (path: message), empty when it is valid."""
    require_format_checks()
    found = sorted(validator().iter_errors(document), key=lambda e: list(e.absolute_path))
    return [f"{'/'.join(str(p) for p in e.absolute_path)}: {e.message[:300]}" for e in found]


def cbv_words(definition: str) -> set[str]:
    """The bare CBV words the schema enumerates for ``bizStep``, ``disposition``, …"""
    for option in schema()["definitions"][definition]["anyOf"]:
        if "enum" in option:
            return set(option["enum"])
    raise AssertionError(f"no enum in {definition}")


def object_event_members() -> set[str]:
    """Member names an ObjectEvent may have without a namespace prefix."""
    definitions = schema()["definitions"]
    common = next(o["enum"] for o in definitions["common-event-properties"]["anyOf"] if "enum" in o)
    own = definitions["ObjectEvent"]["allOf"][1]["propertyNames"]["anyOf"][1]["enum"]
    return set(common) | set(own) | {"type"}
