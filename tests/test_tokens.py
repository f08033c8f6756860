"""Tokens: the issue/verify round trip, and every refusal branch of core/tokens.py.

Tokens that PyJWT refuses to make are crafted by hand; each is signed with the right key so
that the property under test is the only thing wrong with it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import jwt
import pytest

from core.errors import InvalidToken
from core.tokens import MAX_TOKEN_BYTES, Claims, TokenService, _Malformed, _segment

KEY = b"k" * 32
OTHER_KEY = b"o" * 32
NOW = 1_700_000_000
LIFETIME = 1800
HEADER = {"alg": "HS256", "typ": "JWT"}
VALID = {"sub": "johndoe", "scope": "me items", "exp": NOW + 60}
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
DIGESTS = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def as_bytes(value: Any) -> bytes:
    return value if isinstance(value, bytes) else json.dumps(value).encode()


def craft(
    header: Any = HEADER, payload: Any = VALID, key: bytes = KEY, digest: str = "HS256"
) -> str:
    """A compact JWS from raw parts: dicts are JSON-encoded, bytes are taken as they are."""
    signing_input = f"{b64(as_bytes(header))}.{b64(as_bytes(payload))}"
    signature = hmac.new(key, signing_input.encode(), DIGESTS[digest]).digest()
    return f"{signing_input}.{b64(signature)}"


def service(key: bytes = KEY) -> TokenService:
    return TokenService(lambda: key, LIFETIME)


def refused(token: str, now: float = NOW) -> None:
    with pytest.raises(InvalidToken) as caught:
        service().verify(token, now=now)
    assert caught.value.required == ()
    assert caught.value.reason


def test_crafted_baseline_is_valid() -> None:
    # The refusals below change one thing each in a token this test shows to be valid.
    assert service().verify(craft(), now=NOW) == Claims("johndoe", frozenset({"me", "items"}))


def test_round_trip_and_claims() -> None:
    issued = service().issue("johndoe", ("items", "me"), now=NOW)
    assert issued.expires_in == LIFETIME
    assert issued.scope == "items me"
    assert service().verify(issued.access_token, now=NOW) == Claims(
        "johndoe", frozenset({"items", "me"}), issued_at=NOW
    )
    claims = jwt.decode(
        issued.access_token, KEY, algorithms=["HS256"], options={"verify_exp": False}
    )
    assert set(claims) == {"sub", "scope", "exp", "iat", "jti"}
    assert claims["sub"] == "johndoe"
    assert claims["scope"] == "items me"
    assert claims["iat"] == NOW
    assert claims["exp"] == NOW + LIFETIME
    assert isinstance(claims["jti"], str)
    assert len(claims["jti"]) >= 16
    assert jwt.get_unverified_header(issued.access_token) == {"alg": "HS256", "typ": "JWT"}


def test_plain_pyjwt_decode_accepts_a_fresh_token() -> None:
    # The tutorial's own tests decode with nothing but the key and the algorithm (no aud).
    token = service().issue("alice", ()).access_token
    claims = jwt.decode(token, KEY, algorithms=["HS256"])
    assert (claims["sub"], claims["scope"]) == ("alice", "")


def test_fresh_token_verifies_at_the_current_time() -> None:
    token = service().issue("alice", ("me",)).access_token
    claims = service().verify(token)
    assert (claims.subject, claims.scopes) == ("alice", frozenset({"me"}))


def test_each_token_has_its_own_jti() -> None:
    first = service().issue("alice", (), now=NOW).access_token
    second = service().issue("alice", (), now=NOW).access_token
    assert first != second


def test_key_resolved_once_and_lazily() -> None:
    calls: list[int] = []

    def key() -> bytes:
        calls.append(1)
        return KEY

    tokens = TokenService(key, LIFETIME)
    assert calls == []
    token = tokens.issue("a", (), now=NOW).access_token
    tokens.verify(token, now=NOW)
    assert calls == [1]


def test_wrapping_keeps_the_cause_and_hides_pyjwt() -> None:
    with pytest.raises(InvalidToken) as caught:
        service(OTHER_KEY).verify(craft(), now=NOW)
    assert isinstance(caught.value.__cause__, jwt.InvalidSignatureError)
    assert caught.value.reason.startswith("InvalidSignatureError")


def test_length_limit() -> None:
    # A payload grows the token 4/3 characters per byte: these straddle the 8 KiB limit.
    tokens = [craft(payload={**VALID, "pad": "x" * pad}) for pad in range(5990, 6050)]
    longest_ok = max((token for token in tokens if len(token) <= MAX_TOKEN_BYTES), key=len)
    shortest_over = min((token for token in tokens if len(token) > MAX_TOKEN_BYTES), key=len)
    assert MAX_TOKEN_BYTES - 2 <= len(longest_ok) <= MAX_TOKEN_BYTES
    assert MAX_TOKEN_BYTES < len(shortest_over) <= MAX_TOKEN_BYTES + 2
    assert service().verify(longest_ok, now=NOW).subject == "johndoe"
    # Valid in every respect but its length.
    jwt.decode(shortest_over, KEY, algorithms=["HS256"], options={"verify_exp": False})
    refused(shortest_over)


def _flip_stray_bit(segment: str) -> str:
    # A 32-byte signature is 43 characters; the last one carries 2 unused low bits.
    last = ALPHABET.index(segment[-1])
    return segment[:-1] + ALPHABET[last ^ 1]


def _with_signature(token: str, signature: str) -> str:
    return token.rsplit(".", 1)[0] + "." + signature


GOOD = craft()
GOOD_HEADER, GOOD_PAYLOAD, GOOD_SIGNATURE = GOOD.split(".")
OTHER = craft(payload={**VALID, "sub": "alice"})


@pytest.mark.parametrize(
    "token",
    [
        pytest.param("", id="empty"),
        pytest.param(GOOD + "é", id="non-ascii"),
        pytest.param(GOOD.replace("J", "\uff2a", 1), id="non-ascii-fullwidth"),
        pytest.param(f"{GOOD_HEADER}.{GOOD_PAYLOAD}", id="2-segments"),
        pytest.param(f"{GOOD}.{GOOD_SIGNATURE}", id="4-segments"),
        pytest.param(GOOD_HEADER, id="1-segment"),
        pytest.param(_with_signature(GOOD, GOOD_SIGNATURE + "="), id="padding"),
        pytest.param(f"{GOOD_HEADER}=.{GOOD_PAYLOAD}.{GOOD_SIGNATURE}", id="padding-header"),
        pytest.param(GOOD.replace("-", "+").replace("_", "/"), id="standard-alphabet"),
        pytest.param(f"{GOOD_HEADER}.{GOOD_PAYLOAD}+.{GOOD_SIGNATURE}", id="plus"),
        pytest.param(f"{GOOD_HEADER}.{GOOD_PAYLOAD}/.{GOOD_SIGNATURE}", id="slash"),
        pytest.param(f"{GOOD_HEADER} .{GOOD_PAYLOAD}.{GOOD_SIGNATURE}", id="space"),
        pytest.param(_with_signature(GOOD, GOOD_SIGNATURE + "A"), id="length-1-mod-4"),
        pytest.param(_with_signature(GOOD, _flip_stray_bit(GOOD_SIGNATURE)), id="stray-bits"),
        pytest.param(_with_signature(GOOD, ""), id="empty-signature"),
        pytest.param(_with_signature(GOOD, OTHER.split(".")[2]), id="spliced-signature"),
        pytest.param(craft(key=OTHER_KEY), id="wrong-key"),
        pytest.param(craft(key=b""), id="empty-key"),
    ],
)
def test_malformed_compact_form(token: str) -> None:
    refused(token)


@pytest.mark.parametrize(
    "segment",
    [
        _flip_stray_bit(GOOD_SIGNATURE),
        _flip_stray_bit(b64(b"ab")),  # 2 bytes: the last character carries 2 unused bits
        b64(b"a")[:-1] + "R",  # 1 byte: 4 unused bits
        GOOD_SIGNATURE + "=",
        "A",
        "a+b/",
    ],
)
def test_segment_decoder_is_strict(segment: str) -> None:
    # The core's own check: pyproject allows PyJWT releases older than its canonical-form fix.
    with pytest.raises(_Malformed):
        _segment(segment)


@pytest.mark.parametrize("raw", [b"", b"a", b"ab", b"abc", bytes(range(256))])
def test_segment_decoder_round_trip(raw: bytes) -> None:
    assert _segment(b64(raw)) == raw


def test_stray_bits_decode_to_the_same_signature() -> None:
    # What makes the stray-bit token a real test: a lenient decoder reads the same HMAC.
    flipped = _flip_stray_bit(GOOD_SIGNATURE)
    assert flipped != GOOD_SIGNATURE
    assert base64.urlsafe_b64decode(flipped + "=") == base64.urlsafe_b64decode(GOOD_SIGNATURE + "=")


@pytest.mark.parametrize(
    ("header", "digest"),
    [
        pytest.param(b"not json", "HS256", id="not-json"),
        pytest.param(b"", "HS256", id="empty"),
        pytest.param([], "HS256", id="array"),
        pytest.param("HS256", "HS256", id="string"),
        pytest.param(b'{"alg":"HS256","typ":"JWT","typ":"JWT"}', "HS256", id="duplicate-typ"),
        pytest.param(b'{"alg":"none","alg":"HS256"}', "HS256", id="duplicate-alg"),
        pytest.param(b'{"alg":"HS256","x":NaN}', "HS256", id="nan-constant"),
        pytest.param(b'{"alg":"HS256"', "HS256", id="truncated"),
        pytest.param(b'{"alg":"HS256","x":"\xff"}', "HS256", id="invalid-utf8"),
        pytest.param(b"[" * 100_000, "HS256", id="deep-nesting"),
        pytest.param({"typ": "JWT"}, "HS256", id="alg-missing"),
        pytest.param({"alg": "none"}, "HS256", id="alg-none"),
        pytest.param({"alg": None}, "HS256", id="alg-null"),
        pytest.param({"alg": "None"}, "HS256", id="alg-None"),
        pytest.param({"alg": "NONE"}, "HS256", id="alg-NONE"),
        pytest.param({"alg": "hs256"}, "HS256", id="alg-lowercase"),
        pytest.param({"alg": ["HS256"]}, "HS256", id="alg-list"),
        pytest.param({"alg": "HS384"}, "HS384", id="alg-HS384"),
        pytest.param({"alg": "HS512"}, "HS512", id="alg-HS512"),
        pytest.param({"alg": "RS256"}, "HS256", id="alg-RS256"),
        pytest.param({"alg": "ES256"}, "HS256", id="alg-ES256"),
        pytest.param({"alg": "HS256", "crit": ["exp"]}, "HS256", id="crit"),
        pytest.param({"alg": "HS256", "crit": []}, "HS256", id="crit-empty"),
        pytest.param({"alg": "HS256", "b64": False}, "HS256", id="b64-false"),
        pytest.param({"alg": "HS256", "b64": True}, "HS256", id="b64-true"),
    ],
)
def test_header_refused(header: Any, digest: str) -> None:
    refused(craft(header=header, digest=digest))


def test_alg_none_with_empty_signature() -> None:
    unsigned = f"{b64(as_bytes({'alg': 'none'}))}.{b64(as_bytes(VALID))}."
    refused(unsigned)


@pytest.mark.parametrize(
    "header",
    [
        {"alg": "HS256", "kid": "../../etc/passwd"},
        {"alg": "HS256", "jku": "http://127.0.0.1:9/keys"},
        {"alg": "HS256", "x5u": "http://127.0.0.1:9/cert"},
        {"alg": "HS256", "jwk": {"kty": "oct", "k": b64(OTHER_KEY)}},
        {"alg": "HS256"},
    ],
    ids=["kid", "jku", "x5u", "jwk", "no-typ"],
)
def test_key_headers_are_ignored_not_followed(header: dict[str, Any]) -> None:
    # The configured key verifies; a key named by the token itself would not.
    assert service().verify(craft(header=header), now=NOW).subject == "johndoe"
    jwk_signed = craft(header=header, key=OTHER_KEY)
    refused(jwk_signed)


def _without(name: str) -> dict[str, Any]:
    return {key: value for key, value in VALID.items() if key != name}


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(_without("exp"), id="exp-missing"),
        pytest.param({**VALID, "exp": str(NOW + 60)}, id="exp-string"),
        pytest.param({**VALID, "exp": True}, id="exp-true"),
        pytest.param({**VALID, "exp": None}, id="exp-null"),
        pytest.param({**VALID, "exp": [NOW + 60]}, id="exp-list"),
        pytest.param(b'{"sub":"johndoe","exp":NaN}', id="exp-NaN"),
        pytest.param(b'{"sub":"johndoe","exp":Infinity}', id="exp-Infinity"),
        pytest.param(b'{"sub":"johndoe","exp":1e999}', id="exp-overflow"),
        pytest.param({**VALID, "exp": NOW - 1}, id="exp-past"),
        pytest.param({**VALID, "exp": NOW}, id="exp-equal-now"),
        pytest.param({**VALID, "exp": NOW - 0.5 + 0.25}, id="exp-fraction-past"),
        pytest.param({**VALID, "nbf": NOW + 1}, id="nbf-future"),
        pytest.param({**VALID, "nbf": "0"}, id="nbf-string"),
        pytest.param({**VALID, "nbf": False}, id="nbf-bool"),
        pytest.param({**VALID, "iat": NOW + 1}, id="iat-future"),
        pytest.param({**VALID, "iat": str(NOW)}, id="iat-string"),
        pytest.param({**VALID, "iat": None}, id="iat-null"),
        pytest.param(b'{"sub":"johndoe","exp":1800000000,"iat":-Infinity}', id="iat-inf"),
        pytest.param(_without("sub"), id="sub-missing"),
        pytest.param({**VALID, "sub": ""}, id="sub-empty"),
        pytest.param({**VALID, "sub": 42}, id="sub-number"),
        pytest.param({**VALID, "sub": None}, id="sub-null"),
        pytest.param({**VALID, "sub": ["johndoe"]}, id="sub-list"),
        pytest.param({**VALID, "scope": ["me"]}, id="scope-list"),
        pytest.param({**VALID, "scope": None}, id="scope-null"),
        pytest.param({**VALID, "scope": 1}, id="scope-number"),
        pytest.param({**VALID, "jti": 1}, id="jti-number"),
        pytest.param({**VALID, "jti": None}, id="jti-null"),
        pytest.param({**VALID, "aud": "scopes-arena"}, id="aud-string"),
        pytest.param({**VALID, "aud": None}, id="aud-null"),
        pytest.param([VALID], id="payload-array"),
        pytest.param("johndoe", id="payload-string"),
        pytest.param(b"", id="payload-empty"),
        pytest.param(b"\xff\xfe", id="payload-invalid-utf8"),
        pytest.param(b'{"sub":"johndoe","exp":1800000000,"sub":"alice"}', id="payload-dup"),
        pytest.param(b"{" * 50_000, id="payload-deep"),
    ],
)
def test_claims_refused(payload: Any) -> None:
    refused(craft(payload=payload))


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param({**VALID, "exp": NOW + 0.5}, id="exp-fraction-future"),
        pytest.param({**VALID, "nbf": NOW, "iat": NOW}, id="nbf-iat-now"),
        pytest.param({**VALID, "nbf": NOW - 10.5, "iat": NOW - 10}, id="nbf-iat-past"),
        pytest.param({**VALID, "jti": "abc"}, id="jti-string"),
        pytest.param({**VALID, "extra": {"nested": [1, 2]}}, id="unknown-claim"),
    ],
)
def test_claims_accepted(payload: dict[str, Any]) -> None:
    assert service().verify(craft(payload=payload), now=NOW).subject == "johndoe"


@pytest.mark.parametrize(
    ("scope", "granted"),
    [
        (None, frozenset()),
        ("", frozenset()),
        ("me", frozenset({"me"})),
        ("items  me", frozenset({"items", "me"})),
        ("ME", frozenset({"ME"})),
    ],
)
def test_scope_claim(scope: str | None, granted: frozenset[str]) -> None:
    payload = _without("scope") if scope is None else {**VALID, "scope": scope}
    assert service().verify(craft(payload=payload), now=NOW).scopes == granted


def test_expiry_uses_the_clock_by_default() -> None:
    token = craft(payload={**VALID, "exp": 1})
    refused(token, now=0.5 + 1)
    assert service().verify(token, now=0).subject == "johndoe"
    with pytest.raises(InvalidToken):
        service().verify(token)


# --- the verified-token cache -----------------------------------------------------------------


def cached_service(size: int = 8) -> TokenService:
    return TokenService(lambda: KEY, LIFETIME, cache_size=size)


def test_cache_hit_gives_the_same_claims_without_a_second_verification() -> None:
    tokens = cached_service()
    token = craft(payload={**VALID, "iat": NOW - 5})
    first = tokens.verify(token, now=NOW)
    assert tokens.cached == 1
    # A hit does not look at the key again: a service whose key changed would refuse a miss.
    tokens._signing_key = b"another key entirely, long enough to be used 0123"
    assert tokens.verify(token, now=NOW + 1) is first
    assert first == Claims("johndoe", frozenset({"me", "items"}), issued_at=NOW - 5)
    with pytest.raises(InvalidToken):  # a miss is verified in full
        tokens.verify(craft(payload={**VALID, "jti": "other"}), now=NOW)


def test_cache_hit_rechecks_expiry_and_drops_the_entry() -> None:
    tokens = cached_service()
    token = craft()  # exp = NOW + 60
    tokens.verify(token, now=NOW)
    tokens.verify(token, now=NOW + 59.9)
    with pytest.raises(InvalidToken):
        tokens.verify(token, now=NOW + 60)
    assert tokens.cached == 0
    with pytest.raises(InvalidToken):
        tokens.verify(token, now=NOW + 61)


def test_cache_hit_rechecks_not_before() -> None:
    tokens = cached_service()
    token = craft(payload={**VALID, "nbf": NOW - 1, "iat": NOW})
    tokens.verify(token, now=NOW)
    with pytest.raises(InvalidToken):
        tokens.verify(token, now=NOW - 2)  # the clock went back: iat is in the future again
    assert tokens.verify(token, now=NOW).subject == "johndoe"


def test_only_verified_tokens_are_cached() -> None:
    tokens = cached_service(size=4)
    good = [craft(payload={**VALID, "jti": str(n)}) for n in range(4)]
    for token in good:
        tokens.verify(token, now=NOW)
    for n in range(1000):  # a flood of distinct bad tokens
        with pytest.raises(InvalidToken):
            tokens.verify(craft(payload={**VALID, "jti": str(n)}, key=b"x" * 32), now=NOW)
        with pytest.raises(InvalidToken):
            tokens.verify(f"garbage.{n}.x", now=NOW)
    assert tokens.cached == 4
    assert list(tokens._cache) == good  # no good entry evicted


def test_cache_is_bounded_and_least_recently_used_goes_first() -> None:
    tokens = cached_service(size=2)
    a, b, c = (craft(payload={**VALID, "jti": name}) for name in "abc")
    tokens.verify(a, now=NOW)
    tokens.verify(b, now=NOW)
    tokens.verify(a, now=NOW)  # a is now the most recently used
    tokens.verify(c, now=NOW)
    assert list(tokens._cache) == [a, c]
    assert tokens.verify(b, now=NOW).subject == "johndoe"  # verified again, in full


def test_cache_size_zero_disables_it() -> None:
    tokens = cached_service(size=0)
    tokens.verify(craft(), now=NOW)
    assert tokens.cached == 0


@pytest.mark.parametrize(
    "payload",
    [
        b'{"sub":"johndoe","scope":"me","exp":1' + b"0" * 400 + b"}",
        b'{"sub":"johndoe","scope":"me","exp":1800000000,"iat":1' + b"0" * 400 + b"}",
        b'{"sub":"johndoe","scope":"me","exp":1800000000,"nbf":-1' + b"0" * 400 + b"}",
        b'{"sub":"johndoe","scope":"me","exp":1e400}',
    ],
    ids=["exp-beyond-float", "iat-beyond-float", "nbf-beyond-float", "exp-float-overflow"],
)
def test_numbers_beyond_a_float_are_refused(payload: bytes) -> None:
    refused(craft(payload=payload))
