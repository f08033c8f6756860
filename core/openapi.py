"""The OpenAPI document assembled from the core's models and form rules, for an adapter whose
framework has no generator (Starlette): the adapter lists its operations, this module writes
the rest exactly as FastAPI documents it (conformance/openapi.json)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from pydantic import TypeAdapter

from core import forms, scopes

if TYPE_CHECKING:
    from core.models import Answers

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
    #: The other answers, in the `models.*_RESPONSES` shape ({"model", "description", "headers"});
    #: None: the active profile's, given to `document` as `answers`.
    responses: Mapping[int | str, Mapping[str, Any]] | None = None
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


#: The strict profile's `scope`: known scope names separated by single spaces (RFC 6749
#: §3.3's syntax, restricted to the names this API knows: anything else is invalid_scope).
_KNOWN = "|".join(scopes.SCOPES)
SCOPE_PATTERN = f"^(?:{_KNOWN})(?: (?:{_KNOWN}))*$"
#: RFC 6749 Appendix A.1: client-id = *VSCHAR; at most CLIENT_ID_MAX_LENGTH here (it is put
#: into the token, which must stay below the 8 KiB a token may have).
CLIENT_ID_PATTERN = r"^[\x20-\x7E]*$"
CLIENT_ID_MAX_LENGTH = 255


def strict_token_form_schema() -> dict[str, Any]:
    """The strict profile's /token form (CONTRACT.md S1, RFC 6749 §4.3.2): grant_type, username
    and password required; scope known names, single spaces apart; client_id optional (RFC 9068
    puts it into the token); client_secret accepted and ignored. An empty value is an absent
    one (RFC 6749 §3.2), hence minLength."""
    text: dict[str, Any] = {"type": "string", "minLength": 1}
    properties: dict[str, Any] = {
        "grant_type": {**text, "pattern": forms.GRANT_TYPE_PATTERN},
        "username": dict(text),
        "password": {**text, "format": "password"},
        "scope": {**text, "pattern": SCOPE_PATTERN},
        "client_id": {
            **text,
            "maxLength": CLIENT_ID_MAX_LENGTH,
            "pattern": CLIENT_ID_PATTERN,
        },
        "client_secret": {**text, "format": "password"},
    }
    return {
        "properties": {
            name: {**schema, "title": name.replace("_", " ").title()}
            for name, schema in properties.items()
        },
        "type": "object",
        "required": ["grant_type", *forms.REQUIRED],
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


def token_form(
    answers: Answers | None,
) -> tuple[dict[str, Any], dict[str, dict[str, Any]], dict[str, Any]]:
    """/token's form as a document states it by reference: its requestBody, the answers it adds
    (422, in a profile that has it) and the schemas those refer to."""
    form_schema = token_form_schema if answers is None else answers.form_schema
    schemas: dict[str, Any] = {FORM_SCHEMA: form_schema()}
    responses: dict[str, dict[str, Any]] = {}
    if answers is None or answers.validation_error:
        schemas["ValidationError"] = VALIDATION_ERROR
        schemas["HTTPValidationError"] = HTTP_VALIDATION_ERROR
        error_ref = {"$ref": REF_TEMPLATE.format(model="HTTPValidationError")}
        responses["422"] = validation_error_answer(error_ref)
    body = token_request_body({"$ref": REF_TEMPLATE.format(model=FORM_SCHEMA)})
    return body, responses, schemas


def _answers(operation: Operation, profile: Answers | None) -> dict[str, dict[str, Any]]:
    """Every answer of an operation, keyed by status, each with its body's type under "model"."""
    answers: dict[str, dict[str, Any]] = {
        "200": {"description": "Successful Response", "model": operation.response}
    }
    table = operation.responses
    if table is None:
        assert profile is not None, f"{operation.path}: no responses and no profile answers"
        table = profile.for_path(operation.path)
    for status, spec in table.items():
        answers[str(status)] = {**answers.get(str(status), {}), **spec}
    return answers


def rendered_answers(
    table: Mapping[int | str, Mapping[str, Any]],
) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """A table's answers as a document states them (a body as a `$ref` to its schema), and the
    schemas those refer to: for an adapter whose framework cannot say them (Litestar)."""
    mode: Literal["serialization"] = "serialization"
    inputs = [
        (str(status), mode, TypeAdapter(spec["model"]))
        for status, spec in table.items()
        if "model" in spec
    ]
    refs, definitions = TypeAdapter.json_schemas(inputs, ref_template=REF_TEMPLATE)
    rendered: dict[str, dict[str, Any]] = {}
    for status, spec in table.items():
        answer = {key: value for key, value in spec.items() if key != "model"}
        if "model" in spec:
            answer["content"] = {"application/json": {"schema": refs[(str(status), mode)]}}
        rendered[str(status)] = answer
    return rendered, dict(definitions.get("$defs", {}))


def without_none(node: Any) -> Any:
    # FastAPI serialises its document with exclude_none, which drops pydantic's "default": null.
    if isinstance(node, dict):
        return {key: without_none(value) for key, value in node.items() if value is not None}
    if isinstance(node, list):
        return [without_none(item) for item in node]
    return node


def document(
    operations: Iterable[Operation],
    *,
    title: str,
    version: str = "1.0.0",
    answers: Answers | None = None,
) -> dict[str, Any]:
    """The whole document for these operations; `answers` (the active profile's, from
    `arena.answers`) for the operations that name no responses of their own, and for the form."""
    table = [(operation, _answers(operation, answers)) for operation in operations]
    mode: Literal["serialization"] = "serialization"
    inputs = [
        ((index, status), mode, TypeAdapter(answer["model"]))
        for index, (_, listed) in enumerate(table)
        for status, answer in listed.items()
        if "model" in answer
    ]
    refs, definitions = TypeAdapter.json_schemas(inputs, ref_template=REF_TEMPLATE)
    schemas: dict[str, Any] = dict(definitions.get("$defs", {}))
    paths: dict[str, dict[str, Any]] = {}
    for index, (operation, listed) in enumerate(table):
        responses: dict[str, Any] = {}
        for status, answer in listed.items():
            rendered = {key: value for key, value in answer.items() if key != "model"}
            if "model" in answer:
                schema = refs[((index, status), mode)]
                rendered["content"] = {"application/json": {"schema": schema}}
            responses[status] = rendered
        spec: dict[str, Any] = {"summary": operation.name.replace("_", " ").title()}
        spec["operationId"] = operation.name
        if operation.form:
            spec["requestBody"], form_answers, form_schemas = token_form(answers)
            responses.update(form_answers)
            schemas.update(form_schemas)
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
