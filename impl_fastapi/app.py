"""The API in FastAPI's idiom, as the tutorial writes it: OAuth2PasswordBearer with the scopes,
Security/SecurityScopes/Depends. Every decision is the core's; this module only wires."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.security import OAuth2PasswordBearer, SecurityScopes
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from core import errors, models, scopes
from core.asgi import Guard
from core.credentials import Credentials
from core.docs import ASSETS_DIR, ASSETS_PATH
from core.forms import TokenRequest, normalize_errors
from core.ratelimit import Peer
from core.service import TOKEN_HEADERS, Arena
from core.settings import Settings
from core.users import User


# compare: credentials
# compare: workaround: OAuth2PasswordBearer judges the header and answers 401 itself: overridden
class BearerCredentials(OAuth2PasswordBearer):
    """OAuth2PasswordBearer as the docs show it; what counts as a bearer token is the core's
    call, so it hands over the raw credentials instead of a token."""

    async def __call__(self, request: Request) -> Credentials:  # type: ignore[override]
        return Credentials.of(
            request.headers.getlist("Authorization"),
            request.scope["query_string"],
            request.body,
        )


oauth2_scheme = BearerCredentials(
    tokenUrl="token",
    scopes=dict(scopes.SCOPES),
    scheme_name="OAuth2PasswordBearer",
    auto_error=False,
)
# compare: end


def arena_of(request: Request) -> Arena:
    arena: Arena = request.app.state.arena
    return arena


async def get_arena(request: Request) -> Arena:
    # async: FastAPI would run a plain `def` dependency in its thread pool, on every request.
    return arena_of(request)


ArenaDep = Annotated[Arena, Depends(get_arena)]


# The security dependencies reach the arena through the request, not through another
# Depends: each sub-dependency is solved per request, and FastAPI's dependency solving is most
# of what a protected route costs here; the chain is the tutorial's own three.
# compare: scopes credentials
async def get_current_user(
    security_scopes: SecurityScopes,
    credentials: Annotated[Credentials, Depends(oauth2_scheme)],
    request: Request,
) -> User:
    return await arena_of(request).authenticate(credentials, security_scopes.scopes)


async def get_current_active_user(
    current_user: Annotated[User, Security(get_current_user, scopes=[scopes.ME])],
    request: Request,
) -> User:
    return arena_of(request).require_active(current_user)


# compare: end


# compare: form
# compare: workaround: not OAuth2PasswordRequestForm: the core reads the raw body
async def token_form(request: Request) -> TokenRequest:
    """The /token form, read by the core from the raw request (one reading of a body in every
    implementation) instead of OAuth2PasswordRequestForm: FastAPI would parse it first."""
    return arena_of(request).read_token_request(
        request.headers.getlist("content-type"), await request.body(), request.scope["query_string"]
    )


# compare: end


async def login_for_access_token(
    form: Annotated[TokenRequest, Depends(token_form)], arena: ArenaDep, request: Request
) -> JSONResponse:
    peer = Peer.of(request.scope.get("client"), request.headers.getlist("x-forwarded-for"))
    return JSONResponse(await arena.login(form, peer), headers=TOKEN_HEADERS)


async def read_users_me(
    current_user: Annotated[User, Depends(get_current_active_user)],
) -> dict[str, Any]:
    return current_user.public()


# compare: scopes
async def read_own_items(
    current_user: Annotated[User, Security(get_current_active_user, scopes=[scopes.ITEMS])],
    request: Request,
) -> list[dict[str, str]]:
    return await arena_of(request).items(current_user)


# compare: end


async def read_system_status(
    current_user: Annotated[User, Depends(get_current_user)],
) -> dict[str, str]:
    return {"status": "ok"}


def create_app(settings: Settings | None = None) -> FastAPI:
    arena = Arena(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await arena.start()
        yield
        await arena.close()

    app = FastAPI(title="scopes-arena (FastAPI)", docs_url=None, redoc_url=None, lifespan=lifespan)
    app.state.arena = arena
    # compare: openapi
    # compare: workaround: the form FastAPI no longer parses is documented by hand
    # The active profile's answers, from the core. `token_extra` is what
    # OAuth2PasswordRequestForm documented: FastAPI documents no body it does not parse.
    answers = arena.answers
    app.post(
        "/token",
        response_model=models.Token,
        responses=answers.token,
        openapi_extra=answers.token_extra(),
    )(login_for_access_token)
    app.get("/users/me/", response_model=models.User, responses=answers.active)(read_users_me)
    app.get("/users/me/items/", response_model=list[models.Item], responses=answers.active)(
        read_own_items
    )
    app.get("/status/", response_model=models.Status, responses=answers.auth)(read_system_status)
    # compare: end
    # compare: docs
    # compare: workaround: FastAPI's own /docs loads Swagger UI from a CDN: replaced
    app.mount(ASSETS_PATH, StaticFiles(directory=ASSETS_DIR), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title=app.title,
            swagger_js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_PATH}/favicon-32x32.png",
        )

    # compare: end

    # compare: errors
    # compare: workaround: FastAPI's validation and HTTP exceptions mapped to the core's errors
    def render(exc: Exception) -> JSONResponse:
        response = arena.render(exc)
        return JSONResponse(response.body, response.status, headers=dict(response.headers))

    async def on_error(_: Request, exc: Exception) -> JSONResponse:
        return render(exc)

    async def on_validation(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return render(errors.FormError(normalize_errors(exc.errors())))

    async def on_http(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        error = errors.for_http_status(exc.status_code, exc.headers)
        error.__cause__ = exc  # a 500's log shows what the framework raised
        return render(error)

    app.add_exception_handler(errors.ArenaError, on_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_error)
    # Inside ServerErrorMiddleware: a fault is answered (and logged once) by core.asgi.Guard, so
    # Starlette's middleware never re-raises it to the server to be logged a second time.
    app.add_middleware(Guard, render=arena.render)
    # compare: end
    return app


app = create_app()
