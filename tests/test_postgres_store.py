"""PostgresStore's own behaviour on a real throwaway server: the password never shows, the
pool opens on first use, timeouts bound every call, outages end by themselves."""

from __future__ import annotations

import asyncio
import logging
import time
import traceback

import psycopg
import pytest

from core.errors import StoreUnavailable
from core.settings import Settings
from core.stores import PostgresStore
from core.stores.postgresql import BadPostgresURL
from core.stores.redaction import redact
from deploy.postgres import TempPostgres, free_port
from tests.test_stores import BOB

SECRET = "Sup3r-Secret-pw%2Fwith-escapes"


def _everything_said(exc: BaseException, caplog: pytest.LogCaptureFixture) -> str:
    """The exception's text, its whole traceback (causes included) and every log record."""
    return "\n".join([str(exc), *traceback.format_exception(exc), caplog.text])


@pytest.mark.parametrize("encoded", [SECRET, "plain-secret-password-123"])
async def test_a_wrong_password_is_never_shown(
    postgres_server: TempPostgres, caplog: pytest.LogCaptureFixture, encoded: str
) -> None:
    caplog.set_level(logging.DEBUG)
    url = postgres_server.url.replace(postgres_server.password, encoded)
    store = PostgresStore(url, timeout=1)
    try:
        started = time.monotonic()
        with pytest.raises(StoreUnavailable) as caught:
            await store.get_user("bob")
        assert time.monotonic() - started < 3
    finally:
        await store.close()
    said = _everything_said(caught.value, caplog)
    assert 'password authentication failed for user "arena"' in str(caught.value)
    assert str(caught.value).startswith(
        f"postgresql://arena:***@127.0.0.1:{postgres_server.port}/arena: "
    )
    for form in (encoded, SECRET.replace("%2F", "/")):
        assert form not in said
    assert "\n" not in str(caught.value)


async def test_a_wrong_password_in_the_query_is_never_shown(
    postgres_server: TempPostgres, caplog: pytest.LogCaptureFixture
) -> None:
    # F6: libpq takes the password from the query too (`?password=`), and its name may be
    # percent-encoded; neither form of the value is ever said.
    caplog.set_level(logging.DEBUG)
    where = f"postgresql://arena@127.0.0.1:{postgres_server.port}/arena"
    store = PostgresStore(f"{where}?sslmode=disable&pass%77ord={SECRET}", timeout=1)
    assert repr(store) == f"PostgresStore('{where}?sslmode=disable&pass%77ord=***')"
    try:
        with pytest.raises(StoreUnavailable) as caught:
            await store.get_user("bob")
    finally:
        await store.close()
    said = _everything_said(caught.value, caplog)
    assert 'password authentication failed for user "arena"' in str(caught.value)
    assert str(caught.value).startswith(f"{where}?sslmode=disable&pass%77ord=***: ")
    for form in (SECRET, SECRET.replace("%2F", "/")):
        assert form not in said


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://u:pw@h:5/db", "postgresql://u:***@h:5/db"),
        ("postgresql://u:p@ss@h/db", "postgresql://u:***@h/db"),
        ("postgresql://u@h/db", "postgresql://u@h/db"),
        ("postgresql://:pw@h/db", "postgresql://:***@h/db"),
        (
            "postgresql:///db?password=pw&sslmode=require",
            "postgresql:///db?password=***&sslmode=require",
        ),
        (
            "postgresql://h/db?PASSWORD=x&sslpassword=y",
            "postgresql://h/db?PASSWORD=x&sslpassword=***",
        ),
        (
            "postgresql://h/db?pass%77ord=x&oauth_client_secret=y",
            "postgresql://h/db?pass%77ord=***&oauth_client_secret=***",
        ),
        ("postgresql://h/db?password", "postgresql://h/db?password=***"),
        ("postgresql://h/db?options=-c%20x", "postgresql://h/db?options=-c%20x"),
        ("host=h password=pw port=5", "host=h password=*** port=5"),
        ("host=h password = 'p w\\' x' port=5", "host=h password=*** port=5"),
        ("arena.db", "arena.db"),
    ],
)
def test_redact(url: str, expected: str) -> None:
    assert redact(url) == expected


@pytest.mark.parametrize(
    "url", ["postgresql://u:pa?ss@h/db", "postgresql://u:pa#ss@h/db", "postgresql://u:pa%3Fss@h/db"]
)
def test_the_password_is_found_where_libpq_finds_it(url: str) -> None:
    store = PostgresStore(url)
    assert "pa" not in store.where
    assert "ss" not in store.where
    assert store.where.endswith("@h/db")


@pytest.mark.parametrize("url", ["postgresql://u:pw@[::1/db", "postgresql://u:pw@h\uff03/db"])
def test_a_url_that_cannot_be_parsed_is_refused_without_its_text(url: str) -> None:
    with pytest.raises(BadPostgresURL) as caught:
        PostgresStore(url)
    assert "pw" not in str(caught.value)
    assert str(caught.value).startswith("bad database URL: it cannot be parsed (")


async def test_an_unreachable_server_is_503_material_without_the_password(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    store = PostgresStore(f"postgresql://arena:{SECRET}@127.0.0.1:{free_port()}/arena", timeout=1)
    try:
        started = time.monotonic()
        with pytest.raises(StoreUnavailable) as caught:
            await store.is_empty()
        assert time.monotonic() - started < 3  # bounded by the timeout, never a hang
    finally:
        await store.close()
    assert "Connection refused" in str(caught.value)
    said = _everything_said(caught.value, caplog)
    assert SECRET not in said
    assert SECRET.replace("%2F", "/") not in said


async def test_the_pool_opens_on_first_use_and_stays_bounded(postgres_url: str) -> None:
    store = PostgresStore(postgres_url, pool_size=3, timeout=10)
    assert store._pool is None  # nothing opened at construction (H10)
    try:
        await store.add_user(BOB)
        assert store._pool is not None
        # 20 reads at once share at most 3 connections.
        await asyncio.gather(*(store.get_user("bob") for _ in range(20)))
        with psycopg.connect(postgres_url) as conn:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'scopes-arena'"
                " AND datname = current_database()"
            ).fetchone()
        assert row is not None
        assert 1 <= row[0] <= 3
    finally:
        await store.close()
    assert store._pool is None


async def test_store_usable_after_close(postgres_url: str) -> None:
    store = PostgresStore(postgres_url, timeout=10)
    await store.add_user(BOB)
    await store.close()
    try:
        assert await store.get_user("bob") == BOB
    finally:
        await store.close()


def test_settings_never_show_the_database_url() -> None:
    settings = Settings(database_url=f"postgresql://arena:{SECRET}@db.internal:5432/arena")
    assert SECRET not in repr(settings)
    assert SECRET not in str(settings)
    assert settings.effective_database_url.endswith("@db.internal:5432/arena")


async def test_concurrent_requests_to_a_database_down_from_the_start_fail_together() -> None:
    # The first use opens and migrates: requests arriving meanwhile share that one attempt, so
    # each fails within the timeout, not one timeout after another.
    store = PostgresStore(f"postgresql://arena:pw@127.0.0.1:{free_port()}/arena", timeout=0.5)
    try:
        started = time.monotonic()
        results = await asyncio.gather(
            *(store.get_user("bob") for _ in range(10)), return_exceptions=True
        )
        assert time.monotonic() - started < 2.5
        assert all(isinstance(result, StoreUnavailable) for result in results), results
        # The next request tries again (and fails again, as fast).
        started = time.monotonic()
        with pytest.raises(StoreUnavailable):
            await store.is_empty()
        assert time.monotonic() - started < 1.5
    finally:
        await store.close()
