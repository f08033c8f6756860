"""Django's bare endpoint: the JSON of GET /status/, /users/me/ and /users/me/items/ (as
bench/baseline.py's BODIES), no auth, as plain async Django views on Django's own ASGI handler:
Django's own limit for these paths."""

from __future__ import annotations

from impl_django import conf  # first: Django's settings

# isort: split
from django.http import HttpRequest, JsonResponse
from django.urls import path

from bench.baseline import ITEMS, ITEMS_PATH, ME, ME_PATH, STATUS, STATUS_PATH


async def status(request: HttpRequest) -> JsonResponse:
    return JsonResponse(STATUS)


async def me(request: HttpRequest) -> JsonResponse:
    return JsonResponse(ME)


async def items(request: HttpRequest) -> JsonResponse:
    return JsonResponse(ITEMS, safe=False)  # a list: Django's JsonResponse wants safe=False


urlpatterns = [
    path(STATUS_PATH[1:], status),
    path(ME_PATH[1:], me),
    path(ITEMS_PATH[1:], items),
]

app = conf.Handler(__name__)
