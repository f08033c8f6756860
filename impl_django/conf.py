"""Django's settings, configured in code once per process (no settings module, no manage.py),
and Django's ASGI handler serving one URLconf of its own: the adapter, its bare endpoint and
Ninja's documented way share the process's settings, so what differs between apps (their
routes) goes with each handler. Import this module before Django Ninja, which reads the
settings when it is imported."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from types import ModuleType
from typing import Any

import django
from django.conf import settings
from django.core.handlers.asgi import ASGIHandler
from django.http import HttpRequest, HttpResponseBase

from core.lifespan import Lifespan

#: The process's own URLconf names no route: every handler brings its own (`Handler`).
urlpatterns: list[Any] = []


def configure() -> None:
    """Settings for an API without database, sessions, middleware or translations. Touches
    no disk (H10)."""
    if settings.configured:
        return
    settings.configure(
        DEBUG=False,
        # core.asgi.Guard checks the Host header (H14). Django's own check (request.get_host(),
        # which CommonMiddleware calls on every request) would refuse an empty Host, which is
        # valid (RFC 9112 §3.2), and names outside its own narrower pattern.
        ALLOWED_HOSTS=["*"],
        ROOT_URLCONF=__name__,
        INSTALLED_APPS=[],
        MIDDLEWARE=[],
        DATABASES={},
        USE_I18N=False,
        # Ninja's own /docs (the documented way, impl_django.native) renders a template.
        TEMPLATES=[{"BACKEND": "django.template.backends.django.DjangoTemplates"}],
        # core.asgi.Guard limits the body (413 over 64 KiB) before Django reads it; Django's
        # own check would parse Content-Length again, and fail on one it cannot read.
        DATA_UPLOAD_MAX_MEMORY_SIZE=None,
        # An app must not reconfigure the process's logging when it is built.
        LOGGING_CONFIG=None,
    )
    django.setup(set_prefix=False)


configure()

Hook = Callable[[], Awaitable[None]]
Rewrite = Callable[[HttpResponseBase], HttpResponseBase]


class Handler(ASGIHandler):  # type: ignore[misc]  # Django is untyped (Any)
    """Django's ASGI handler for one URLconf, with ASGI lifespan events (Django's handler
    refuses any scope but "http"). `framework_error`, where given, answers in the app's words
    what Django and Ninja answer in their own plain text: a 405, and a request Django cannot
    build (a query string that is not UTF-8: 400)."""

    def __init__(
        self,
        urlconf: ModuleType | str,
        startup: Hook | None = None,
        shutdown: Hook | None = None,
        framework_error: Rewrite | None = None,
    ) -> None:
        super().__init__()
        self.urlconf = urlconf
        self.lifespan = Lifespan(super().__call__, startup, shutdown)
        self.framework_error = framework_error

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.lifespan(scope, receive, send)

    def create_request(self, scope: Any, body_file: Any) -> tuple[Any, Any]:
        request, error = super().create_request(scope, body_file)
        if error is not None and self.framework_error is not None:
            error = with_length(self.framework_error(error))
        return request, error

    async def get_response_async(self, request: HttpRequest) -> HttpResponseBase:
        request.urlconf = self.urlconf  # read by Django's resolver, as a middleware would set it
        response = await super().get_response_async(request)
        if response.status_code == 405 and self.framework_error is not None:
            response = self.framework_error(response)
        return with_length(response)


def with_length(response: HttpResponseBase) -> HttpResponseBase:
    """Content-Length set, as CommonMiddleware would set it (not used here: it also checks the
    Host, see `configure`); without it, every answer goes out chunked."""
    if not response.streaming and not response.has_header("Content-Length"):
        response.headers["Content-Length"] = str(len(response.content))
    return response


def urlconf(name: str, urlpatterns: list[Any], **handlers: Any) -> ModuleType:
    """A URLconf of its own for one app (Django's resolver caches one per URLconf object)."""
    module = ModuleType(name)
    module.urlpatterns = urlpatterns  # type: ignore[attr-defined]
    for key, handler in handlers.items():
        setattr(module, key, handler)
    return module
