"""Usernames have one canonical form, so that two names that look alike are one name.

The rule (a stated subset of RFC 8265's UsernameCaseMapped profile, narrower on purpose): 1 to
64 characters from ASCII lowercase letters `a-z`, digits `0-9`, `.`, `_` and `-`, the first a
letter or digit. What it keeps out: capitals (`JohnDoe` beside `johndoe`), spaces, full-width
letters, other scripts' look-alikes (a Cyrillic `\u0435`), zero-width and bidi characters,
combining marks (NFD beside NFC), control characters and lone surrogates.

A name outside the rule is never changed into another one silently: `check` refuses it, and
suggests the canonical form where one exists (case folded, width and compatibility forms
normalised with NFKC, invisible format characters and outer spaces dropped). At login a
non-canonical name is simply an unknown user: no such user can exist.
"""

from __future__ import annotations

import re
import unicodedata

MAX_LENGTH = 64
RULE = (
    f"usernames are 1-{MAX_LENGTH} characters from a-z, 0-9, '.', '_' and '-', "
    "starting with a letter or digit"
)
_CANONICAL = re.compile(rf"[a-z0-9][a-z0-9._-]{{0,{MAX_LENGTH - 1}}}", re.ASCII)


class UsernameError(ValueError):
    """A username outside the canonical form; the message is meant for a person and holds no
    raw character of the name (it may be a control sequence)."""


def is_canonical(name: object) -> bool:
    return isinstance(name, str) and _CANONICAL.fullmatch(name) is not None


def suggestion(name: str) -> str | None:
    """The canonical name `name` most likely means, if there is one and it differs."""
    folded = unicodedata.normalize("NFKC", name)
    folded = "".join(ch for ch in folded if unicodedata.category(ch) != "Cf").strip().lower()
    return folded if folded != name and is_canonical(folded) else None


def check(name: str) -> str:
    """`name` if it is canonical, else UsernameError saying why (and what was meant)."""
    if is_canonical(name):
        return name
    if not name:
        raise UsernameError("the username is empty")
    if len(name) > MAX_LENGTH:
        raise UsernameError(
            f"usernames are at most {MAX_LENGTH} characters (this one has {len(name)})"
        )
    meant = suggestion(name)
    if meant is not None:
        if name.lower() == meant:
            reason = "usernames are lowercase"
        elif name.strip() == meant:
            reason = "usernames have no whitespace"
        else:
            reason = RULE
        raise UsernameError(f"{reason}: did you mean {meant}?")
    bad = next((ch for ch in name if not _CANONICAL.fullmatch("a" + ch)), None)
    if bad is None:  # only the first character is wrong: `.`, `_` or `-`
        raise UsernameError("usernames start with a letter or digit")
    raise UsernameError(f"{RULE}; {describe(bad)} is not allowed")


def describe(ch: str) -> str:
    """A character for a message, never the raw character: `'A'`, or `U+0435 (CYRILLIC SMALL
    LETTER IE)`."""
    if ch.isascii() and ch.isprintable():
        return repr(ch)
    try:
        return f"U+{ord(ch):04X} ({unicodedata.name(ch)})"
    except ValueError:  # unnamed: controls, surrogates, unassigned
        return f"U+{ord(ch):04X}"
