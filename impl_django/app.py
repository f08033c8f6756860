"""The API in Django's idiom, with Django Ninja as its API layer: async views on Django's own
ASGI handler, Ninja's HttpBearer auth class carrying each route's scopes, Ninja's generated
OpenAPI document. Every decision is the core's; this module only wires."""

from __future__ import annotations

import itertools
from contextlib import closing
from typing import Any, ClassVar

from impl_django import conf  # first: Django's settings, which Django Ninja reads on import

# isort: split
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.urls import is_valid_path, path, re_path
from django.views.decorators.http import require_GET
from django.views.static import serve
from ninja import NinjaAPI
from ninja.openapi.schema import OpenAPISchema
from ninja.operation import Operation
from ninja.security import HttpBearer

from core import errors, models, openapi, scopes
from core.asgi import ASGIApp, Guard
from core.credentials import Credentials
from core.docs import ASSETS_DIR, ASSETS_PATH, swagger_ui_page
from core.ratelimit import Peer
from core.service import TOKEN_HEADERS, Arena
from core.settings import Settings
from core.users import User

TITLE = "scopes-arena (Django Ninja)"
#: Each app gets its own URLconf and URL namespace: several live in one process (tests).
_instances = itertools.count()


def header_values(request: HttpRequest, name: bytes) -> list[str]:
    """Every value of one request header as received: request.headers joins repeated ones
    with commas, and the profile must see them apart. `name` in lowercase."""
    headers = request.scope["headers"]
    return [value.decode("latin-1") for key, value in headers if key.lower() == name]


async def read_body(request: HttpRequest) -> bytes:
    body: bytes = request.body
    return body


# compare: scopes credentials
# compare: workaround: HttpBearer.__call__ judges the header itself: overridden
class OAuth2PasswordBearer(HttpBearer):
    """HttpBearer as Ninja's docs show it, with the route's scopes: the scopes it documents are
    the scopes it requires, stated once. What counts as a bearer token is the core's call, so
    it hands over the raw credentials instead of the token it would parse."""

    openapi_type = "oauth2"
    openapi_flows: ClassVar[dict[str, Any]] = openapi.security_schemes()[openapi.SCHEME]["flows"]

    def __init__(self, arena: Arena, *chain: list[str], active: bool) -> None:
        super().__init__()
        # compare: workaround: HttpBearer documents an http "bearer" scheme: an oauth2 flow here
        del self.openapi_security_schema["scheme"]
        self.arena = arena
        self.scopes = scopes.chain(*chain)
        self.active = active

    def __call__(self, request: HttpRequest) -> Any:
        authorization = header_values(request, b"authorization")
        credentials = Credentials.of(
            authorization, request.scope["query_string"], lambda: read_body(request)
        )
        return self.authenticate(request, credentials)

    async def authenticate(self, request: HttpRequest, token: Credentials) -> User:  # type: ignore[override]
        return await self.arena.authenticate(token, self.scopes, active=self.active)


# compare: end


# compare: openapi
# compare: workaround: Ninja documents no scopes ("TODO: scopes") and an empty parameter list
class ContractSchema(OpenAPISchema):
    def operation_details(self, operation: Operation) -> dict[str, Any]:
        details: dict[str, Any] = super().operation_details(operation)
        if not details["parameters"]:
            del details["parameters"]
        return details

    def operation_security(self, operation: Operation) -> list[dict[str, Any]] | None:
        security = super().operation_security(operation)  # [{"<class name>": []}]
        for requirement, auth in zip(security or [], operation.auth_callbacks, strict=True):
            assert isinstance(auth, OAuth2PasswordBearer)
            requirement[type(auth).__name__] = list(auth.scopes)
        return security


class ArenaAPI(NinjaAPI):
    def get_openapi_schema(
        self, *, path_prefix: str | None = None, path_params: dict[str, Any] | None = None
    ) -> OpenAPISchema:
        return ContractSchema(self, path_prefix or "")


def answers(ok: Any, table: models.Table, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """A route's `response=` (every answer's model: Ninja writes their schemas) and, as
    `openapi_extra`, what `response=` cannot say: each answer's headers and description."""
    extra = extra or {}
    documented = {s: {k: v for k, v in spec.items() if k != "model"} for s, spec in table.items()}
    responses = {int(s): spec for s, spec in {**documented, **extra.get("responses", {})}.items()}
    models_ = {int(s): spec["model"] for s, spec in table.items() if "model" in spec}
    return {"response": {200: ok, **models_}, "openapi_extra": {**extra, "responses": responses}}


# compare: end


def create_app(settings: Settings | None = None) -> ASGIApp:
    arena = Arena(settings)
    instance = next(_instances)
    api = ArenaAPI(
        title=TITLE,
        urls_namespace=f"arena-{instance}",
        docs_url=None,
        docs_decorator=require_GET,
    )
    documented = arena.answers

    # compare: form
    # compare: workaround: no Form[...] parameters: the core reads the raw body
    @api.post("/token", **answers(models.Token, documented.token, documented.token_extra()))
    async def login_for_access_token(request: HttpRequest, response: HttpResponse) -> Any:
        form = arena.read_token_request(
            header_values(request, b"content-type"), request.body, request.scope["query_string"]
        )
        peer = Peer.of(request.scope.get("client"), header_values(request, b"x-forwarded-for"))
        body = await arena.login(form, peer)
        for name, value in TOKEN_HEADERS.items():
            response[name] = value
        return body

    # compare: end

    # compare: scopes
    @api.get(
        "/users/me/",
        auth=OAuth2PasswordBearer(arena, [scopes.ME], active=True),
        **answers(models.User, documented.active),
    )
    async def read_users_me(request: HttpRequest) -> Any:
        return request.auth.public()

    @api.get(
        "/users/me/items/",
        auth=OAuth2PasswordBearer(arena, [scopes.ITEMS], [scopes.ME], active=True),
        **answers(list[models.Item], documented.active),
    )
    async def read_own_items(request: HttpRequest) -> Any:
        return await arena.items(request.auth)

    @api.get(
        "/status/",
        auth=OAuth2PasswordBearer(arena, active=False),
        **answers(models.Status, documented.auth),
    )
    async def read_system_status(request: HttpRequest) -> Any:
        return {"status": "ok"}

    # compare: end

    # compare: docs
    # compare: workaround: Ninja's Swagger page loads from a CDN: the core's page instead
    async def docs(request: HttpRequest) -> HttpResponse:
        return HttpResponse(swagger_ui_page(title=TITLE))

    def asset(request: HttpRequest, name: str) -> HttpResponseBase:
        # compare: workaround: Django's FileResponse warns under ASGI (a sync iterator): read whole
        response = serve(request, name, document_root=ASSETS_DIR)
        if not response.streaming:
            return response  # 304 Not Modified
        with closing(response):
            return HttpResponse(b"".join(response.streaming_content), headers=response.headers)

    # compare: end

    # compare: errors
    # compare: workaround: Django logs every error answer again (django.request): marked logged
    def render(exc: Exception) -> HttpResponse:
        answer = arena.render(exc)
        response = JsonResponse(answer.body, status=answer.status, headers=answer.headers)
        response._has_been_logged = True  # logged by arena.render where it should be (500)
        return response

    def on_error(request: HttpRequest, exc: Exception | type[Exception]) -> HttpResponse:
        assert isinstance(exc, Exception)  # Ninja hands over what was raised
        return render(exc)

    api.add_exception_handler(Exception, on_error)

    # compare: workaround: Django's and Ninja's own 405 (and 400) answers are plain text
    def framework_error(response: HttpResponseBase) -> HttpResponseBase:
        return render(errors.for_http_status(response.status_code, response.headers))

    # compare: workaround: no APPEND_SLASH (CommonMiddleware redirects with 301 and checks Host)
    def not_found(request: HttpRequest, exception: Exception) -> HttpResponseBase:
        # core.asgi.Guard turns the redirect of any method but GET and HEAD into a 404 (H14).
        if is_valid_path(f"{request.path_info}/", urlconf):
            location = request.get_full_path(force_append_slash=True)
            return HttpResponse(status=307, headers={"Location": location})
        return render(errors.NotFound())

    # compare: end

    urlconf = conf.urlconf(
        f"{__name__}.urls_{instance}",
        [
            path("", api.urls),
            # compare: docs
            path("docs", require_GET(docs)),
            re_path(rf"^{ASSETS_PATH[1:]}/(?P<name>[^/]+)$", require_GET(asset)),
            # compare: end
        ],
        handler404=not_found,
    )
    handler = conf.Handler(urlconf, arena.start, arena.close, framework_error)
    return Guard(handler, arena.render)


app = create_app()
