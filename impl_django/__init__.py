"""The API in Django, with Django Ninja as its API layer, served by Django's own ASGI handler.
Importing this package imports no framework: it only says what the tools need to know."""

from core.registry import Implementation

META = Implementation(
    display="Django (Ninja)",
    packages=("django", "django-ninja"),
    colour="#0c4b33",  # Django's own dark green
    order=50,
    served="ASGI: Django's own ASGI handler under uvicorn",
)
