"""The FastAPI implementation: its adapter (app.py), bare endpoint (bare.py), wiring ceiling
(ceiling.py) and documented way (native.py); what the tools show about it is META."""

from core.registry import Implementation

META = Implementation(
    display="FastAPI",
    packages=("fastapi", "starlette"),
    colour="#05998b",
    order=10,
    served="ASGI (uvicorn)",
)
