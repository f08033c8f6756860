"""Wiring ceilings: each real adapter app with the core's per-request work stubbed out.

`impl_<name>/ceiling.py` (the bench's ceiling-<name>), as uvicorn imports it, calls
`stub_core()`, which patches `core.service.Arena.authenticate` and `Arena.items` in this server
process only, then builds the real `impl_<name>.app.create_app(settings)`: routing, dependency
injection, parameter parsing, response models and serialization all run as in the
implementation, but authentication returns a constant johndoe and the items query a constant
list. The gap between this and the bare
framework endpoint is what the adapter's idiom costs; the gap between this and the
implementation is what the core costs inside that framework. The adapters are untouched.
"""

from __future__ import annotations

from collections.abc import Sequence

from core.credentials import Credentials
from core.service import Arena
from core.users import DEMO_USERS, User

JOHNDOE: User = next(user for user in DEMO_USERS if user.username == "johndoe")
ITEMS: list[dict[str, str]] = [{"item_id": "Foo", "owner": "johndoe"}]


async def constant_user(
    self: Arena, credentials: Credentials, required: Sequence[str] = (), *, active: bool = False
) -> User:
    return JOHNDOE


async def constant_items(self: Arena, user: User) -> list[dict[str, str]]:
    return ITEMS


def stub_core() -> None:
    """Replace the core's per-request work on the class, for every Arena of this process."""
    Arena.authenticate = constant_user  # type: ignore[method-assign]
    Arena.items = constant_items  # type: ignore[method-assign]
