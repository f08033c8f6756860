"""Users and items: the records the store keeps, their public views, and the demo users."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from core.scopes import ITEMS, ME


class UserExists(ValueError):
    pass


class UnknownUser(LookupError):
    pass


class DuplicateItem(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class User:
    username: str
    hashed_password: str
    email: str | None = None
    full_name: str | None = None
    disabled: bool = False
    #: The scopes this user may be granted (H1).
    scopes: tuple[str, ...] = field(default=())
    #: H13: tokens issued (`iat`) before this Unix second are refused; 0: no such bound. Set
    #: when the account is created, its password changed or its tokens revoked.
    tokens_valid_after: int = 0

    def public(self) -> dict[str, Any]:
        """The body of GET /users/me/: exactly these four keys."""
        return {
            "username": self.username,
            "email": self.email,
            "full_name": self.full_name,
            "disabled": self.disabled,
        }


@dataclass(frozen=True, slots=True)
class Item:
    item_id: str
    owner: str

    def public(self) -> dict[str, str]:
        return {"item_id": self.item_id, "owner": self.owner}


def next_token_epoch(now: float | None = None) -> int:
    """The `tokens_valid_after` that cuts off every token issued up to now: the next whole
    second (`iat` counts whole seconds, so tokens of the current second are cut off too, and a
    login waits for that second to end before it issues one)."""
    return int(time.time() if now is None else now) + 1


#: CONTRACT.md "Demo users": the tutorial's users with its argon2id hashes.
DEMO_USERS: tuple[User, ...] = (
    User(
        username="johndoe",
        full_name="John Doe",
        email="johndoe@example.com",
        # The tutorial's published hashes of "secret" and "secretalice", public on purpose.
        hashed_password="$argon2id$v=19$m=65536,t=3,p=4$wagCPXjifgvUFBzq4hqe3w$CYaIb8sB+wtD+Vu/P4uod1+Qof8h+1g7bbDlBID48Rc",  # noqa: S106
        disabled=False,
        scopes=(ME, ITEMS),
    ),
    User(
        username="alice",
        full_name="Alice Chains",
        email="alicechains@example.com",
        hashed_password="$argon2id$v=19$m=65536,t=3,p=4$g2/AV1zwopqUntPKJavBFw$BwpRGDCyUHLvHICnwijyX8ROGoiUPwNKZ7915MeYfCE",  # noqa: S106
        disabled=True,
        scopes=(ME, ITEMS),
    ),
)
DEMO_ITEMS: tuple[Item, ...] = (Item("Foo", "johndoe"), Item("Foo", "alice"))
