"""Flask: the API as plain synchronous views (app.py), served as WSGI through a2wsgi."""

from core.registry import Implementation

META = Implementation(
    display="Flask",
    packages=("flask", "a2wsgi"),
    colour="#c2185b",
    order=40,
    served="WSGI, bridged to ASGI by a2wsgi under uvicorn",
)
