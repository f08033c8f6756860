"""The API in Starlette's idiom: a Route list of plain async endpoints, a decorator for the scope
check, one exception-handler table, and an OpenAPI document assembled by core.openapi. Every
decision is the core's; this module only wires."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from functools import wraps

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from core import errors, models, openapi, scopes
from core.asgi import Guard
from core.credentials import Credentials
from core.docs import ASSETS_DIR, ASSETS_PATH, swagger_ui_page
from core.ratelimit import Peer
from core.service import TOKEN_HEADERS, Arena
from core.settings import Settings
from core.users import User

TITLE = "scopes-arena (Starlette)"
# compare: scopes
#: Required scopes in the order FastAPI's SecurityScopes chains them (the route's own first).
ME = scopes.chain([scopes.ME])
ITEMS = scopes.chain([scopes.ITEMS], ME)
# compare: end

Endpoint = Callable[[Request], Awaitable[Response]]
UserEndpoint = Callable[[Request, User], Awaitable[Response]]


def arena_of(request: Request) -> Arena:
    arena: Arena = request.app.state.arena
    return arena


# compare: scopes credentials
# compare: workaround: not starlette.authentication.requires: a bare 403, no route scopes
def requires_scopes(*required: str, active: bool = False) -> Callable[[UserEndpoint], Endpoint]:
    """Guard an endpoint that takes the caller. Not starlette.authentication.requires: that one
    answers a bare 403, where the contract wants 401 with the route's Bearer challenge, and its
    AuthenticationMiddleware runs before routing, without knowing the route's scopes."""

    def decorate(endpoint: UserEndpoint) -> Endpoint:
        @wraps(endpoint)
        async def guarded(request: Request) -> Response:
            arena = arena_of(request)
            credentials = Credentials.of(
                request.headers.getlist("Authorization"),
                request.scope["query_string"],
                request.body,
            )
            user = await arena.authenticate(credentials, required, active=active)
            return await endpoint(request, user)

        return guarded

    return decorate


# compare: end


# compare: form
# compare: workaround: not request.form(): the core reads the raw body
async def login_for_access_token(request: Request) -> Response:
    # The body is read by the core (one reading of a body in every implementation), not by
    # request.form(); core.asgi.Guard has already buffered it.
    arena = arena_of(request)
    form = arena.read_token_request(
        request.headers.getlist("content-type"), await request.body(), request.scope["query_string"]
    )
    peer = Peer.of(request.scope.get("client"), request.headers.getlist("x-forwarded-for"))
    body = await arena.login(form, peer)
    return JSONResponse(body, headers=TOKEN_HEADERS)


# compare: end


async def read_users_me(request: Request, user: User) -> Response:
    return JSONResponse(user.public())


async def read_own_items(request: Request, user: User) -> Response:
    return JSONResponse(await arena_of(request).items(user))


async def read_system_status(request: Request, user: User) -> Response:
    return JSONResponse({"status": "ok"})


# compare: scopes openapi
# compare: workaround: Starlette has no OpenAPI generator: core.openapi documents the route table
def protected(
    operation: openapi.Operation, endpoint: UserEndpoint, *, active: bool
) -> tuple[openapi.Operation, Endpoint]:
    """A protected route: the scopes it documents are the scopes it requires, stated once."""
    assert operation.security is not None
    return operation, requires_scopes(*operation.security, active=active)(endpoint)


#: The route table; core.openapi documents each operation from it, with the active profile's
#: answers (`arena.answers`).
API: tuple[tuple[openapi.Operation, Endpoint], ...] = (
    (
        openapi.Operation(
            "POST", "/token", models.Token,
            form=True, name="login_for_access_token",
        ),
        login_for_access_token,
    ),
    protected(
        openapi.Operation(
            "GET", "/users/me/", models.User,
            security=ME, name="read_users_me",
        ),
        read_users_me, active=True,
    ),
    protected(
        openapi.Operation(
            "GET", "/users/me/items/", list[models.Item],
            security=ITEMS, name="read_own_items",
        ),
        read_own_items, active=True,
    ),
    protected(
        openapi.Operation(
            "GET", "/status/", models.Status,
            security=(), name="read_system_status",
        ),
        read_system_status, active=False,
    ),
)  # fmt: skip
# compare: end


def create_app(settings: Settings | None = None) -> Starlette:
    arena = Arena(settings)
    # compare: openapi
    document = openapi.document(
        (operation for operation, _ in API), title=TITLE, answers=arena.answers
    )

    async def openapi_json(_: Request) -> Response:
        return JSONResponse(document)

    # compare: end

    # compare: docs
    async def docs(_: Request) -> Response:
        return HTMLResponse(swagger_ui_page(title=TITLE))

    # compare: end

    # compare: errors
    # compare: workaround: Starlette's HTTPException mapped to the core's errors
    def render(exc: Exception) -> Response:
        response = arena.render(exc)
        return JSONResponse(response.body, response.status, headers=dict(response.headers))

    async def on_error(_: Request, exc: Exception) -> Response:
        return render(exc)

    async def on_http(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        error = errors.for_http_status(exc.status_code, exc.headers)
        error.__cause__ = exc  # a 500's log shows what the framework raised
        return render(error)

    # compare: end

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await arena.start()
        yield
        await arena.close()

    routes: list[BaseRoute] = [
        Route(op.path, endpoint, methods=[op.method]) for op, endpoint in API
    ]
    routes += [
        Route("/openapi.json", openapi_json, include_in_schema=False),
        # compare: docs
        Route("/docs", docs, include_in_schema=False),
        Mount(ASSETS_PATH, StaticFiles(directory=ASSETS_DIR), name="docs-assets"),
        # compare: end
    ]
    app = Starlette(
        routes=routes,
        # compare: errors
        # Outside Starlette's ExceptionMiddleware, so that 413 and the path rules come before
        # routing (as in the other adapters); inside ServerErrorMiddleware, so that a fault is
        # answered (and logged once) by Guard, never re-raised to the server to log again.
        middleware=[Middleware(Guard, render=arena.render)],
        exception_handlers={
            errors.ArenaError: on_error,
            HTTPException: on_http,
            Exception: on_error,
        },
        # compare: end
        lifespan=lifespan,
    )
    app.state.arena = arena
    return app


app = create_app()
