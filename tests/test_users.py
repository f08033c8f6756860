"""User and item records: their public views and the demo users of CONTRACT.md."""

from __future__ import annotations

from core.users import DEMO_ITEMS, DEMO_USERS, Item, User


def test_user_public_view_has_exactly_four_keys() -> None:
    user = User("bob", "hash", "bob@example.com", "Bob B", True, ("me",))
    assert user.public() == {
        "username": "bob",
        "email": "bob@example.com",
        "full_name": "Bob B",
        "disabled": True,
    }
    assert User("x", "hash").public() == {
        "username": "x",
        "email": None,
        "full_name": None,
        "disabled": False,
    }


def test_item_public_view() -> None:
    assert Item("Foo", "bob").public() == {"item_id": "Foo", "owner": "bob"}


def test_demo_users() -> None:
    assert [
        (user.username, user.full_name, user.email, user.disabled, user.scopes)
        for user in DEMO_USERS
    ] == [
        ("johndoe", "John Doe", "johndoe@example.com", False, ("me", "items")),
        ("alice", "Alice Chains", "alicechains@example.com", True, ("me", "items")),
    ]
    assert all(user.hashed_password.startswith("$argon2id$") for user in DEMO_USERS)
    assert list(DEMO_ITEMS) == [Item("Foo", "johndoe"), Item("Foo", "alice")]
