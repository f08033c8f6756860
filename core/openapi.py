"""The OpenAPI document assembled from the core's models and form rules, for an adapter whose
framework has no generator (Starlette): the adapter lists its operations, this module writes
the rest exactly as FastAPI documents it (conformance/openapi.json)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

from pydantic import TypeAdapter

from core import forms, scopes

OPENAPI_VERSION = "3.1.0"
REF_TEMPLATE = "#/components/schemas/{model}"
SCHEME = "OAuth2PasswordBearer"
FORM_SCHEMA = "TokenForm"
FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"
#: The password flow's tokenUrl: /token relative to the document, as the tutorial declares it.
FLOW_URL = "token"

#: FastAPI's own schemas for its 422 answer (fastapi.openapi.utils), written out the same way.
VALIDATION_ERROR: dict[str, Any] = {
    "properties": {
        "loc": {
            "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
            "type": "array",
            "title": "Location",
        },
        "msg": {"type": "string", "title": "Message"},
        "type": {"type": "string", "title": "Error Type"},
        "input": {"title": "Input"},
        "ctx": {"type": "object", "title": "Context"},
    },
    "type": "object",
    "required": ["loc", "msg", "type"],
    "title": "ValidationError",
}
HTTP_VALIDATION_ERROR: dict[str, Any] = {
    "properties": {
        "detail": {
            "items": {"$ref": REF_TEMPLATE.format(model="ValidationError")},
            "type": "array",
            "title": "Detail",
        }
    },
    "type": "object",
    "title": "HTTPValidationError",
}


@dataclasses.dataclass(frozen=True, slots=True)
class Operation:
    """One documented route, as an adapter's route table states it."""

    method: str
    path: str
    #: The 200 body's type: a model, or e.g. `list[models.Item]`.
    response: Any
    #: The other answers, in the `models.*_RESPONSES` shape ({"model", "description", "headers"}).
    responses: Mapping[int | str, Mapping[str, Any]]
    #: The required scope chain; `()` needs a valid token only, None no authentication at all.
    security: Sequence[str] | None = None
    #: Whether the body is the /token form (which also makes a 422 answer possible).
    form: bool = False
    name: str = ""


def security_schemes() -> dict[str, Any]:
    return {
        SCHEME: {
            "type": "oauth2",
            "flows": {"password": {"scopes": dict(scopes.SCOPES), "tokenUrl": FLOW_URL}},
        }
    }


def token_form_schema() -> dict[str, Any]:
    """The /token form as OAuth2PasswordRequestForm documents it, read off core/forms.py."""
    defaults = {field.name: field.default for field in dataclasses.fields(forms.TokenRequest)}
    properties: dict[str, Any] = {}
    for name in forms.FIELDS:
        text: dict[str, Any] = {"type": "string"}
        if name == "grant_type":
            text["pattern"] = forms.GRANT_TYPE_PATTERN
        if name in forms.REQUIRED:
            schema = {**text, "minLength": 1}  # an empty value counts as absent: 422
        elif isinstance(defaults.get(name), str):
            schema = {**text, "default": defaults[name]}
        else:
            schema = {"anyOf": [text, {"type": "null"}]}
        if name in forms.SECRET_FIELDS:
            schema["format"] = "password"
        properties[name] = {**schema, "title": name.replace("_", " ").title()}
    return {
        "properties": properties,
        "type": "object",
        "required": list(forms.REQUIRED),
        "title": FORM_SCHEMA,
    }


def token_request_body(schema: dict[str, Any] | None = None) -> dict[str, Any]:
    """/token's requestBody: the form schema (inline unless a `$ref` to it is given)."""
    return {
        "content": {FORM_MEDIA_TYPE: {"schema": schema or token_form_schema()}},
        "required": True,
    }


def validation_error_answer(schema: dict[str, Any] | None = None) -> dict[str, Any]:
    """/token's 422 answer: FastAPI's HTTPValidationError (inline unless a `$ref` is given),
    for an adapter that reads the form itself, so that no framework documents it."""
    inline = {
        **HTTP_VALIDATION_ERROR,
        "properties": {
            "detail": {**HTTP_VALIDATION_ERROR["properties"]["detail"], "items": VALIDATION_ERROR}
        },
    }
    return {
        "description": "Validation Error",
        "content": {"application/json": {"schema": schema or inline}},
    }


def _answers(operation: Operation) -> dict[str, dict[str, Any]]:
    """Every answer of an operation, keyed by status, each with its body's type under "model"."""
    answers: dict[str, dict[str, Any]] = {
        "200": {"description": "Successful Response", "model": operation.response}
    }
    for status, spec in operation.responses.items():
        answers[str(status)] = {**answers.get(str(status), {}), **spec}
    return answers


def without_none(node: Any) -> Any:
    # FastAPI serialises its document with exclude_none, which drops pydantic's "default": null.
    if isinstance(node, dict):
        return {key: without_none(value) for key, value in node.items() if value is not None}
    if isinstance(node, list):
        return [without_none(item) for item in node]
    return node


def document(
    operations: Iterable[Operation], *, title: str, version: str = "1.0.0"
) -> dict[str, Any]:
    """The whole document for these operations."""
    table = [(operation, _answers(operation)) for operation in operations]
    mode: Literal["serialization"] = "serialization"
    inputs = [
        ((index, status), mode, TypeAdapter(answer["model"]))
        for index, (_, answers) in enumerate(table)
        for status, answer in answers.items()
        if "model" in answer
    ]
    refs, definitions = TypeAdapter.json_schemas(inputs, ref_template=REF_TEMPLATE)
    schemas: dict[str, Any] = dict(definitions.get("$defs", {}))
    paths: dict[str, dict[str, Any]] = {}
    for index, (operation, answers) in enumerate(table):
        responses: dict[str, Any] = {}
        for status, answer in answers.items():
            rendered = {key: value for key, value in answer.items() if key != "model"}
            if "model" in answer:
                schema = refs[((index, status), mode)]
                rendered["content"] = {"application/json": {"schema": schema}}
            responses[status] = rendered
        spec: dict[str, Any] = {"summary": operation.name.replace("_", " ").title()}
        spec["operationId"] = operation.name
        if operation.form:
            schemas[FORM_SCHEMA] = token_form_schema()
            schemas["ValidationError"] = VALIDATION_ERROR
            schemas["HTTPValidationError"] = HTTP_VALIDATION_ERROR
            form_ref = {"$ref": REF_TEMPLATE.format(model=FORM_SCHEMA)}
            spec["requestBody"] = token_request_body(form_ref)
            error_ref = {"$ref": REF_TEMPLATE.format(model="HTTPValidationError")}
            responses["422"] = validation_error_answer(error_ref)
        spec["responses"] = responses
        if operation.security is not None:
            spec["security"] = [{SCHEME: list(operation.security)}]
        paths.setdefault(operation.path, {})[operation.method.lower()] = spec
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {
            "schemas": without_none(dict(sorted(schemas.items()))),
            "securitySchemes": security_schemes(),
        },
    }
