"""The canonical OpenAPI document and the normalisation that compares documents.

Two documents are equal when, after `normalize`, they are the same JSON: every `$ref` is
inlined, and titles, descriptions, summaries, operationIds, `info` and key order are set aside
(CONTRACT.md "OpenAPI document").
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

CANONICAL_PATH = Path(__file__).with_name("openapi.json")
#: The strict profile's canonical document (CONTRACT.md S5).
STRICT_CANONICAL_PATH = Path(__file__).with_name("openapi.strict.json")
_IGNORED_KEYS = frozenset({"title", "description", "summary", "operationId"})


def canonical() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(CANONICAL_PATH.read_text())
    return document


def strict_canonical() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(STRICT_CANONICAL_PATH.read_text())
    return document


def _inline(node: Any, schemas: dict[str, Any], seen: tuple[str, ...] = ()) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            name = ref.rsplit("/", 1)[1]
            if name in seen:  # a recursive schema stays a reference
                return {"$ref": name}
            return _inline(schemas[name], schemas, (*seen, name))
        return {
            key: _inline(value, schemas, seen)
            for key, value in node.items()
            if key not in _IGNORED_KEYS
            or not isinstance(value, str)  # a property *named* "title" is kept
        }
    if isinstance(node, list):
        return [_inline(item, schemas, seen) for item in node]
    return node


def normalize(document: dict[str, Any]) -> dict[str, Any]:
    """The parts of a document that the contract fixes, in a comparable form."""
    components = document.get("components", {})
    schemas = components.get("schemas", {})
    return {
        "openapi": str(document.get("openapi", ""))[:3],  # "3.1"
        "paths": _inline(document.get("paths", {}), schemas),
        "securitySchemes": _inline(components.get("securitySchemes", {}), schemas),
    }
