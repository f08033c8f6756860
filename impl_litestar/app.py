"""The API in Litestar's idiom: handlers declare their scope chain in `opt`, one `Provide`d
dependency authenticates through the core, one exception handler renders every error.
Every decision is the core's; this module only wires."""

from __future__ import annotations

import copy
from typing import Any, Literal, cast

from litestar import Litestar, MediaType, Request, Response, Router, get, post
from litestar.datastructures import Headers
from litestar.di import NamedDependency, Provide
from litestar.exceptions import HTTPException, NotFoundException
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.openapi.spec import Components, OAuthFlow, OAuthFlows, SecurityScheme
from litestar.static_files import create_static_files_router
from pydantic.json_schema import models_json_schema

from core import errors, models, openapi, scopes
from core.asgi import Guard
from core.credentials import Credentials
from core.docs import ASSETS_DIR, ASSETS_PATH, swagger_ui_page
from core.ratelimit import Peer
from core.service import TOKEN_HEADERS, Arena
from core.settings import Settings
from core.users import User

TOKEN, ME, ITEMS, STATUS = "/token", "/users/me/", "/users/me/items/", "/status/"
PATHS = (TOKEN, ME, ITEMS, STATUS)


# compare: scopes
def protected(path: str, *chain: list[str], active: bool) -> dict[str, Any]:
    """A protected route's options: its scope chain, read by `provide_user` and documented."""
    required = scopes.chain(*chain)
    return {
        "path": path,
        "opt": {"scopes": required, "active": active},
        "security": [{openapi.SCHEME: list(required)}],
    }


# compare: end


# compare: credentials scopes
# compare: workaround: not OAuth2PasswordBearerAuth: it decodes the JWT itself, not the core
async def provide_user(request: Request[Any, Any, Any], arena: NamedDependency[Arena]) -> User:
    opt = request.route_handler.opt
    authorization = request.headers.getall("Authorization", [])
    credentials = Credentials.of(authorization, request.scope["query_string"], request.body)
    user = await arena.authenticate(credentials, opt["scopes"])
    return arena.require_active(user) if opt["active"] else user


# compare: end


# compare: form
# compare: workaround: not request.form(): the core reads the raw body
@post(TOKEN, status_code=200)
async def login_for_access_token(
    request: Request[Any, Any, Any], arena: NamedDependency[Arena]
) -> Response[models.Token]:
    # The raw body, read by the core (one reading of a body in every implementation), not by
    # request.form(); core.asgi.Guard has already buffered it.
    content_type = request.headers.getall("content-type", [])
    peer = Peer.of(request.scope.get("client"), request.headers.getall("x-forwarded-for", []))
    form = arena.read_token_request(
        content_type, await request.body(), request.scope["query_string"]
    )
    body = await arena.login(form, peer)
    return Response(models.Token(**body), headers=TOKEN_HEADERS)


# compare: end


# The annotations document the answers (Litestar builds the OpenAPI schema from them and does
# not validate what a handler returns); the values are the core's JSON-ready dicts, sent as
# they are: building pydantic models from them here cost ~20 us a request for nothing.
STATUS_OK = {"status": "ok"}


# compare: scopes
@get(**protected(ME, [scopes.ME], active=True))
async def read_users_me(current_user: NamedDependency[User]) -> models.User:
    return cast(models.User, current_user.public())


@get(**protected(ITEMS, [scopes.ITEMS], [scopes.ME], active=True))
async def read_own_items(
    current_user: NamedDependency[User], arena: NamedDependency[Arena]
) -> list[models.Item]:
    return cast(list[models.Item], await arena.items(current_user))


@get(**protected(STATUS, active=False))
async def read_system_status(current_user: NamedDependency[User]) -> models.Status:
    return cast(models.Status, STATUS_OK)


# compare: end


# compare: docs
# compare: workaround: Litestar's Swagger UI plugin loads from a CDN: the core's page instead
@get("/docs", media_type=MediaType.HTML, include_in_schema=False, sync_to_thread=False)
def docs() -> str:
    return swagger_ui_page()


# compare: end


# compare: openapi
# compare: workaround: the generated document strips trailing slashes, the error answers, the form
# compare: workaround: Litestar's /openapi.json router answers unknown paths with HTML
def contract_document(generated: dict[str, Any], answers: models.Answers) -> dict[str, Any]:
    """Litestar's document, completed where Litestar cannot say what the contract says: path
    keys keep their trailing slash (Litestar strips it from routes); the answers besides 200 are
    the active profile's, from the core (`ResponseSpec` has no headers, and a handler's
    decorator cannot know the profile of the app it is registered in); /token documents its
    form (and, in the tutorial profile, 422: the handler reads the raw form so that the core
    checks it); schemas are pydantic's own, as FastAPI writes them (Litestar writes `oneOf` for
    optionals, sorts `required` and drops `extra="forbid"`)."""
    document = copy.deepcopy(generated)
    document["paths"] = {path: document["paths"][path.rstrip("/")] for path in PATHS}
    schemas: dict[str, Any] = {}
    for path, item in document["paths"].items():
        rendered, definitions = openapi.rendered_answers(answers.for_path(path))
        schemas.update(definitions)
        for operation in item.values():
            operation.pop("deprecated", None)
            ok = dict(operation["responses"]["200"])
            ok.pop("headers", None)
            operation["responses"] = {"200": {**ok, **rendered.pop("200", {})}, **rendered}
    token = document["paths"][TOKEN]["post"]
    token["requestBody"], form_answers, extra = openapi.token_form(answers)
    token["responses"].update(form_answers)
    mode: Literal["serialization"] = "serialization"
    inputs = [(model, mode) for model in answers.models]
    _, generated_schemas = models_json_schema(inputs, ref_template=openapi.REF_TEMPLATE)
    document["components"]["schemas"] = {
        **openapi.without_none({**schemas, **generated_schemas["$defs"]}),
        **extra,
    }
    return document


async def json_not_found(response: Response[Any]) -> Response[Any]:
    """Litestar's OpenAPI router answers unknown paths below it with an HTML page; the contract
    wants every error as JSON (H7), rendered by the one handler below."""
    if response.status_code == 404:
        raise NotFoundException()
    return response


class ContractJson(JsonRenderPlugin):
    def __init__(self, answers: models.Answers, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.answers = answers

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        return self.render_json(request, contract_document(openapi_schema, self.answers))


# compare: end


def create_app(settings: Settings | None = None) -> Litestar:
    arena = Arena(settings)

    # compare: errors
    # compare: workaround: Litestar's HTTPException mapped to the core's errors
    def render(_: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
        if isinstance(exc, HTTPException):  # Litestar's own: routing, body parsing, faults
            error = errors.for_http_status(exc.status_code, Headers(exc.headers or {}))
            error.__cause__ = exc  # a 500's log shows what Litestar raised, and from what
            exc = error
        answer = arena.render(exc)
        return Response(answer.body, status_code=answer.status, headers=dict(answer.headers))

    # compare: end

    def provide_arena() -> Arena:
        return arena

    # compare: openapi
    password = OAuthFlow(token_url=openapi.FLOW_URL, scopes=dict(scopes.SCOPES))
    scheme = SecurityScheme(type="oauth2", flows=OAuthFlows(password=password))
    # compare: end
    app = Litestar(
        route_handlers=[
            login_for_access_token,
            read_users_me,
            read_own_items,
            read_system_status,
            # compare: docs
            docs,
            create_static_files_router(ASSETS_PATH, [ASSETS_DIR], name="docs-assets"),
            # compare: end
        ],
        dependencies={
            "arena": Provide(provide_arena, use_cache=True, sync_to_thread=False),
            "current_user": Provide(provide_user),
        },
        # compare: errors
        exception_handlers={Exception: render},
        # compare: end
        # compare: openapi
        openapi_config=OpenAPIConfig(
            title="scopes-arena (Litestar)",
            version="1.0.0",
            # The document itself at /openapi.json, and no other docs route of Litestar's.
            path="/openapi.json",
            render_plugins=[ContractJson(arena.answers, path="/", media_type=MediaType.JSON)],
            openapi_router=Router(
                "/openapi.json",
                route_handlers=[],
                include_in_schema=False,
                after_request=json_not_found,
            ),
            components=Components(security_schemes={openapi.SCHEME: scheme}),
        ),
        # compare: end
        on_startup=[arena.start],
        on_shutdown=[arena.close],
        # An app must not reconfigure the process's logging when it is built or started.
        logging_config=None,
    )
    # compare: errors
    # Around the router, as Litestar puts its own CORS middleware: `middleware=` runs only once
    # a route matched, and 413 and the path rules (Litestar's router strips trailing slashes
    # and collapses repeated ones) must come before any routing, as in the other adapters.
    # Litestar types ASGI scopes and messages as TypedDicts, core.asgi as plain mappings.
    app.asgi_handler = Guard(app.asgi_handler, arena.render)  # type: ignore[arg-type,assignment]
    # compare: end
    return app


app = create_app()
