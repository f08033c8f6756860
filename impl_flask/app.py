"""The API in Flask's idiom: plain synchronous views on a Blueprint, `request`, a decorator that
routes a view and carries its scopes, error handlers. Flask is WSGI: a2wsgi bridges it to ASGI
and runs it in a thread pool, and the views reach the async core through core.sync. Every
decision is the core's; this module only wires."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import wraps
from typing import TYPE_CHECKING, Any
from urllib.parse import quote_from_bytes

from a2wsgi import WSGIMiddleware
from flask import Blueprint, Flask, current_app, request, send_from_directory
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

from core import errors, models, openapi, scopes
from core.asgi import ASGIApp, Guard, Receive, Scope, Send
from core.credentials import Credentials
from core.docs import ASSETS_DIR, ASSETS_PATH, swagger_ui_page
from core.ratelimit import Peer
from core.service import TOKEN_HEADERS, Arena
from core.settings import Settings
from core.sync import SyncArena
from core.users import User

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

TITLE = "scopes-arena (Flask)"
# compare: scopes
#: Required scopes in the order FastAPI's SecurityScopes chains them (the route's own first).
ME = scopes.chain([scopes.ME])
ITEMS = scopes.chain([scopes.ITEMS], ME)
# compare: end

#: Every ASCII character: what `ascii_query` leaves as it is.
ASCII = "".join(map(chr, range(128)))
View = Callable[[], ResponseReturnValue]
UserView = Callable[[User], ResponseReturnValue]

api = Blueprint("api", __name__)
#: The route table, as `route` fills it; core.openapi documents it.
OPERATIONS: list[openapi.Operation] = []


def arena() -> SyncArena:
    sync: SyncArena = current_app.extensions["scopes_arena"]
    return sync


# compare: credentials form
# compare: workaround: WSGI joins repeated headers (PEP 3333): read from the ASGI scope
def header_values(name: bytes) -> list[str]:
    """Every value of one request header, as received (two Authorization or Content-Type
    headers are not one header with a comma)."""
    scope = request.environ["asgi.scope"]
    return [value.decode("latin-1") for key, value in scope["headers"] if key.lower() == name]


# compare: end


# compare: scopes credentials
def requires_scopes(*required: str, active: bool = False) -> Callable[[UserView], View]:
    """Guard a view that takes the caller: the core reads the raw credentials and decides."""

    def decorate(view: UserView) -> View:
        @wraps(view)
        def guarded() -> ResponseReturnValue:
            credentials = Credentials.of(
                header_values(b"authorization"), request.environ["asgi.scope"]["query_string"], body
            )
            return view(arena().authenticate(credentials, required, active=active))

        return guarded

    return decorate


async def body() -> bytes:
    # Awaited only by a profile that looks for a token in the body, in this thread (core.sync).
    return request.get_data()


# compare: end


# compare: scopes openapi
# compare: workaround: Flask has no OpenAPI generator: core.openapi documents the route table
def route(operation: openapi.Operation, *, active: bool = False) -> Callable[[Any], Any]:
    """Route a view for `operation` on the blueprint; a protected one requires exactly the
    scopes it documents, stated once."""

    def decorate(view: Any) -> Any:
        endpoint = view
        if operation.security is not None:
            endpoint = requires_scopes(*operation.security, active=active)(view)
        api.add_url_rule(operation.path, operation.name, endpoint, methods=[operation.method])
        OPERATIONS.append(operation)
        return view

    return decorate


# compare: end


# compare: form
# compare: workaround: not request.form: the core reads the raw body
@route(openapi.Operation("POST", "/token", models.Token, form=True, name="login_for_access_token"))
def login_for_access_token() -> ResponseReturnValue:
    sync, scope = arena(), request.environ["asgi.scope"]
    content_type = header_values(b"content-type")
    form = sync.read_token_request(content_type, request.get_data(), scope["query_string"])
    peer = Peer.of(scope.get("client"), header_values(b"x-forwarded-for"))
    return sync.login(form, peer), TOKEN_HEADERS


# compare: workaround: a2wsgi leaves a chunked body open-ended, which Werkzeug reads as empty
def chunked_bodies(app: WSGIApplication) -> WSGIApplication:
    def framed(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if "HTTP_TRANSFER_ENCODING" in environ:
            # The bridge ends the stream where the ASGI body ends (PEP 3333's extension flag).
            environ["wsgi.input_terminated"] = True
        return app(environ, start_response)

    return framed


# compare: end


@route(
    openapi.Operation("GET", "/users/me/", models.User, security=ME, name="read_users_me"),
    active=True,
)
def read_users_me(user: User) -> ResponseReturnValue:
    return user.public()


@route(
    openapi.Operation(
        "GET", "/users/me/items/", list[models.Item], security=ITEMS, name="read_own_items"
    ),
    active=True,
)
def read_own_items(user: User) -> ResponseReturnValue:
    return arena().items(user)


@route(openapi.Operation("GET", "/status/", models.Status, security=(), name="read_system_status"))
def read_system_status(user: User) -> ResponseReturnValue:
    return {"status": "ok"}


# compare: errors
# compare: workaround: a2wsgi reads the query string as ASCII: any other byte would be a 500
def ascii_query(app: ASGIApp) -> ASGIApp:
    async def escaped(scope: Scope, receive: Receive, send: Send) -> None:
        query = scope.get("query_string", b"")
        if not query.isascii():  # (uvicorn's parser refuses such a request line itself)
            scope = {**scope, "query_string": quote_from_bytes(query, ASCII).encode()}
        await app(scope, receive, send)

    return escaped


# compare: end


def create_app(settings: Settings | None = None) -> ASGIApp:
    sync = SyncArena(Arena(settings))
    app = Flask(__name__, static_folder=None)
    # Werkzeug redirects /users/me to /users/me/ with a 308, which the contract does not list
    # (307, or the slash form's answer): the slash form's answer, then.
    app.url_map.strict_slashes = False
    app.extensions["scopes_arena"] = sync
    app.register_blueprint(api)
    # compare: openapi
    document = openapi.document(OPERATIONS, title=TITLE, answers=sync.arena.answers)
    app.add_url_rule("/openapi.json", "openapi", lambda: document)
    # compare: end
    # compare: docs
    app.add_url_rule("/docs", "docs", lambda: swagger_ui_page(title=TITLE))

    @app.get(f"{ASSETS_PATH}/<name>")
    def docs_asset(name: str) -> ResponseReturnValue:
        # compare: workaround: not Flask's static folder: its files carry Cache-Control: no-cache
        response = send_from_directory(ASSETS_DIR, name)
        del response.headers["Cache-Control"]  # (no other framework's static files send it)
        return response

    # compare: end

    # compare: errors
    def render(exc: Exception) -> ResponseReturnValue:
        response = sync.render(exc)
        return response.body, response.status, dict(response.headers)

    @app.errorhandler(HTTPException)
    def on_http(exc: HTTPException) -> ResponseReturnValue:
        # compare: workaround: Werkzeug's HTTPException (404, 405) mapped to the core's errors
        error = errors.for_http_status(exc.code or 500, dict(exc.get_headers()))
        error.__cause__ = exc  # a 500's log shows what the framework raised
        return render(error)

    app.register_error_handler(Exception, render)
    # compare: end

    # Outside Flask and the bridge: 413 and the path rules come before routing, as in the
    # other adapters, and a fault is answered (and logged once) by Guard.
    bridged = WSGIMiddleware(chunked_bodies(app), workers=sync.threads)  # type: ignore[arg-type]
    return Guard(ascii_query(sync.asgi(bridged)), render=sync.render)  # type: ignore[arg-type]


app = create_app()
