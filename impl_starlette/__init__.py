"""The Starlette implementation: its adapter (app.py), bare endpoint (bare.py), wiring ceiling
(ceiling.py) and documented way (native.py); what the tools show about it is META."""

from core.registry import Implementation

META = Implementation(
    display="Starlette",
    packages=("starlette",),
    colour="#5161d6",
    order=30,
    served="ASGI (uvicorn)",
)
