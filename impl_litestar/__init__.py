"""The Litestar implementation: its adapter (app.py), bare endpoint (bare.py), wiring ceiling
(ceiling.py) and documented way (native.py); what the tools show about it is META."""

from core.registry import Implementation

META = Implementation(
    display="Litestar",
    packages=("litestar", "msgspec"),
    colour="#c98a00",
    order=20,
    served="ASGI (uvicorn)",
)
