"""core.usernames: one canonical form, refusals that say why, and the stores' last guard."""

from __future__ import annotations

import pytest

from core import usernames
from core.stores import MemoryStore, SQLiteStore, UserStore
from core.usernames import RULE, UsernameError, check, describe, is_canonical, suggestion
from core.users import DEMO_USERS, User

CANONICAL = ["a", "7", "johndoe", "alice", "bob.smith", "b_2-x", "0day", "a.", "a-", "x" * 64]
NOT_CANONICAL = [
    "",
    "JohnDoe",
    "johndoe ",
    " johndoe",
    "john doe",
    "\uff4a\uff4f\uff48\uff4e\uff44\uff4f\uff45",  # full-width
    "johnd\u043ee",  # Cyrillic o
    "joh\u0435",  # Cyrillic ie
    "john\u200ddoe",  # zero-width joiner
    "john\u200bdoe",  # zero-width space
    "\u202ejohndoe",  # right-to-left override
    "jo\u0308rg",  # NFD
    "j\u00f6rg",  # NFC, still not ASCII
    "\ud800",  # lone surrogate
    "bob\n",
    "bob\x00",
    "\u212aelvin",  # Kelvin sign
    ".bob",
    "_bob",
    "-bob",
    "x" * 65,
    "bob@example.com",
    "bob/../x",
]


@pytest.mark.parametrize("name", CANONICAL)
def test_canonical(name: str) -> None:
    assert is_canonical(name) is True
    assert check(name) == name
    assert suggestion(name) is None


@pytest.mark.parametrize("name", NOT_CANONICAL)
def test_not_canonical(name: str) -> None:
    assert is_canonical(name) is False
    with pytest.raises(UsernameError):
        check(name)


@pytest.mark.parametrize("value", [None, 1, b"johndoe", ["johndoe"]])
def test_only_strings_are_canonical(value: object) -> None:
    assert is_canonical(value) is False


def test_demo_users_are_canonical() -> None:
    assert all(is_canonical(user.username) for user in DEMO_USERS)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "the username is empty"),
        ("JohnDoe", "usernames are lowercase: did you mean johndoe?"),
        ("johndoe ", "usernames have no whitespace: did you mean johndoe?"),
        (" johndoe\t", "usernames have no whitespace: did you mean johndoe?"),
        ("\uff4a\uff4f\uff48\uff4e", f"{RULE}: did you mean john?"),
        ("john\u200ddoe", f"{RULE}: did you mean johndoe?"),
        ("\u202ejohndoe", f"{RULE}: did you mean johndoe?"),
        ("\u212aelvin", "usernames are lowercase: did you mean kelvin?"),
        ("joh\u0435", f"{RULE}; U+0435 (CYRILLIC SMALL LETTER IE) is not allowed"),
        ("jo\u0308rg", f"{RULE}; U+0308 (COMBINING DIAERESIS) is not allowed"),
        ("\ud800", f"{RULE}; U+D800 is not allowed"),
        ("bob\n", "usernames have no whitespace: did you mean bob?"),
        ("bob\nx", f"{RULE}; U+000A is not allowed"),
        ("john doe", f"{RULE}; ' ' is not allowed"),
        ("bob@example.com", f"{RULE}; '@' is not allowed"),
        (".bob", "usernames start with a letter or digit"),
        ("x" * 65, "usernames are at most 64 characters (this one has 65)"),
    ],
)
def test_messages(name: str, message: str) -> None:
    with pytest.raises(UsernameError) as caught:
        check(name)
    assert str(caught.value) == message
    # A message never carries a raw character of the name that is not canonical itself.
    assert str(caught.value).isprintable()
    assert str(caught.value).isascii()


def test_username_error_is_a_value_error() -> None:
    assert issubclass(UsernameError, ValueError)


@pytest.mark.parametrize(
    ("ch", "shown"),
    [
        ("A", "'A'"),
        (" ", "' '"),
        ("\x1b", "U+001B"),
        ("\u0435", "U+0435 (CYRILLIC SMALL LETTER IE)"),
    ],
)
def test_describe(ch: str, shown: str) -> None:
    assert describe(ch) == shown


# The stores refuse what the rule refuses, whatever called them.


@pytest.fixture(params=["memory", "sqlite"])
async def store(request: pytest.FixtureRequest, tmp_path: object) -> UserStore:
    from pathlib import Path

    assert isinstance(tmp_path, Path)
    return MemoryStore() if request.param == "memory" else SQLiteStore(tmp_path / "arena.db")


@pytest.mark.parametrize("name", ["JohnDoe", "johndoe ", "\ud800", "jo\u0308rg", ""])
async def test_stores_refuse_non_canonical_names(store: UserStore, name: str) -> None:
    try:
        with pytest.raises(UsernameError):
            await store.add_user(User(name, "hash"))
        await store.add_user(User("johndoe", "hash"))
        assert [user.username for user in await store.list_users()] == ["johndoe"]
    finally:
        await store.close()


def test_rule_matches_the_stated_length() -> None:
    assert usernames.MAX_LENGTH == 64
    assert is_canonical("a" * 64)
    assert not is_canonical("a" * 65)
