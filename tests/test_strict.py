"""The strict profile's core pieces (core/strict.py, core.tokens.StrictTokenService, the
settings): what the conformance suite cannot provoke over HTTP (a 429 before H12 exists, a
503), and the rules read directly. The HTTP behaviour is conformance/test_strict.py's."""

from __future__ import annotations

import time

import jwt
import pytest
from pydantic import SecretStr, ValidationError

from core import errors
from core.credentials import Credentials
from core.profiles import TutorialProfile, get_profile
from core.service import Arena
from core.settings import Settings
from core.strict import StrictProfile, read_strict_token_request
from core.tokens import StrictTokenService, TokenService
from core.users import next_token_epoch

KEY = b"k" * 40
FORM = ["application/x-www-form-urlencoded"]
GOOD = b"grant_type=password&username=johndoe&password=secret&scope=me+items"


def strict_tokens(**kwargs: object) -> StrictTokenService:
    options: dict[str, object] = {"issuer": "scopes-arena", "audience": "scopes-arena-api"}
    options.update(kwargs)
    return StrictTokenService(lambda: KEY, 1800, 16, **options)  # type: ignore[arg-type]


def test_get_profile() -> None:
    assert isinstance(get_profile("strict"), StrictProfile)
    assert isinstance(get_profile("tutorial"), TutorialProfile)
    with pytest.raises(ValueError, match="unknown profile"):
        get_profile("lenient")


def test_too_many_attempts_is_an_error_object_with_retry_after() -> None:
    answer = StrictProfile().render(errors.TooManyAttempts(retry_after=42))
    assert answer.status == 429
    assert answer.body["error"] == "invalid_request"
    assert set(answer.body) == {"error", "error_description"}
    assert answer.headers == {"Retry-After": "42", "Cache-Control": "no-store"}


@pytest.mark.parametrize("error", [errors.LoginBusy(), errors.StoreUnavailable()])
def test_unavailable_is_temporarily_unavailable(error: errors.ArenaError) -> None:
    answer = StrictProfile().render(error)
    assert answer.status == 503
    assert answer.body["error"] == "temporarily_unavailable"
    assert answer.headers["Retry-After"] == "5"
    assert answer.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    ("error", "status", "body"),
    [
        (errors.NotFound(), 404, {"detail": "Not Found"}),
        (errors.BodyTooLarge(), 413, {"detail": "Request body too large"}),
        (errors.InternalError(), 500, {"detail": "Internal Server Error"}),
    ],
)
def test_outside_section_s_the_tutorials_answer(
    error: errors.ArenaError, status: int, body: dict[str, str]
) -> None:
    answer = StrictProfile().render(error)
    assert (answer.status, answer.body) == (status, body)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (GOOD + b"&scope=", None),  # an empty parameter is an absent one: not a repeat
        (GOOD + b"&unknown=1&unknown=2", None),  # unknown parameters are ignored
        (GOOD + b"&client_id=" + b"a" * 255, None),
        (GOOD + b"&client_id=" + b"a" * 256, "invalid_request"),
        (GOOD + b"&client_id=%0A", "invalid_request"),
        (b"grant_type=password&grant_type=&username=johndoe&password=secret", None),
        (b"username=johndoe&password=secret&grant_type=foo", "unsupported_grant_type"),
        (b"grant_type=foo", "unsupported_grant_type"),  # the grant type is judged first
        (b"grant_type=password&username=johndoe&password=secret&scope=me%20", "invalid_scope"),
    ],
)
def test_read_strict_token_request(body: bytes, code: str | None) -> None:
    if code is None:
        assert read_strict_token_request(FORM, body, b"").username == "johndoe"
    else:
        with pytest.raises(errors.TokenRequestRefused) as refused:
            read_strict_token_request(FORM, body, b"")
        assert refused.value.code == code


def test_a_body_over_the_limit_stays_413() -> None:
    with pytest.raises(errors.BodyTooLarge):
        read_strict_token_request(FORM, b"a" * (64 * 1024 + 1), b"")


def test_strict_tokens_round_trip_and_cache() -> None:
    tokens = strict_tokens()
    issued = tokens.issue("johndoe", ("me",), client_id="app")
    assert jwt.get_unverified_header(issued.access_token)["typ"] == "at+jwt"
    # PyJWT verifies the same token with the same expectations.
    claims = jwt.decode(
        issued.access_token,
        KEY,
        algorithms=["HS256"],
        audience="scopes-arena-api",
        issuer="scopes-arena",
        options={"require": ["iss", "aud", "sub", "iat", "exp", "jti"]},
    )
    assert claims["client_id"] == "app"
    assert claims["scope"] == "me"
    first = tokens.verify(issued.access_token)
    assert tokens.cached == 1
    assert tokens.verify(issued.access_token) == first  # the cache hit
    assert first.subject == "johndoe"
    assert first.scopes == frozenset({"me"})


def test_other_issuer_or_audience_is_refused() -> None:
    token = strict_tokens().issue("johndoe", ("me",)).access_token
    for other in (strict_tokens(issuer="elsewhere"), strict_tokens(audience="another-api")):
        with pytest.raises(errors.InvalidToken):
            other.verify(token)


def test_profiles_tokens_do_not_mix() -> None:
    tutorial = TokenService(lambda: KEY, 1800)
    strict = strict_tokens()
    with pytest.raises(errors.InvalidToken):
        tutorial.verify(strict.issue("johndoe", ("me",)).access_token)
    with pytest.raises(errors.InvalidToken):
        strict.verify(tutorial.issue("johndoe", ("me",)).access_token)


def test_issuer_and_audience_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARENA_TOKEN_ISSUER", "https://auth.example")
    monkeypatch.setenv("ARENA_TOKEN_AUDIENCE", "https://api.example")
    settings = Settings()
    assert (settings.token_issuer, settings.token_audience) == (
        "https://auth.example",
        "https://api.example",
    )
    for bad in ("", "two words", "tab\there"):
        with pytest.raises(ValidationError):
            Settings(token_issuer=bad)


def _arena(ttl: float = 0.0) -> Arena:
    return Arena(
        Settings(
            secret_key=SecretStr("s" * 40),
            database_url="memory://",
            demo_users=True,
            password_profile="cheap",
            profile="strict",
            user_cache_ttl=ttl,
        )
    )


async def test_h13_cut_off_under_strict() -> None:
    arena = _arena()
    form = arena.read_token_request(FORM, GOOD)
    token = (await arena.login(form))["access_token"]
    credentials = Credentials.of([f"Bearer {token}"])
    assert (await arena.authenticate(credentials, ("items", "me"))).username == "johndoe"
    store = await arena.store()
    await store.update_user("johndoe", scopes=("me",))
    with pytest.raises(errors.InsufficientScope):
        await arena.authenticate(credentials, ("items", "me"))
    await store.update_user("johndoe", tokens_valid_after=next_token_epoch(time.time()))
    with pytest.raises(errors.InvalidToken):
        await arena.authenticate(credentials, ("me",))
    await arena.close()


async def test_disabled_user_refused_everywhere_and_at_login() -> None:
    arena = _arena()
    token = (await arena.login(arena.read_token_request(FORM, GOOD)))["access_token"]
    store = await arena.store()
    await store.update_user("johndoe", disabled=True)
    with pytest.raises(errors.InvalidToken):
        await arena.authenticate(Credentials.of([f"Bearer {token}"]), ())
    with pytest.raises(errors.InvalidCredentials):
        await arena.login(arena.read_token_request(FORM, GOOD))
    await arena.close()
