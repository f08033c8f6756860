"""deploy.postgres.TempPostgres: the throwaway server the PostgreSQL tests, the bench and the
cluster run on, and the fixture's skip-or-fail rule."""

from __future__ import annotations

import os
import pwd
import re
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from deploy import postgres
from deploy.postgres import PostgresNotFound, TempPostgres
from tests.conftest import REQUIRE_POSTGRES_ENV, new_postgres


def test_url_logs_in_with_the_password_only(postgres_server: TempPostgres) -> None:
    with psycopg.connect(postgres_server.url, connect_timeout=5) as conn:
        assert conn.execute("SELECT current_user, current_database()").fetchone() == (
            "arena",
            "arena",
        )
        # Not a superuser: the app's role can do what the app needs and no more.
        assert conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = 'arena'").fetchone() == (
            False,
        )
    wrong = postgres_server.url.replace(postgres_server.password, "wrong-password")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(wrong, connect_timeout=5)
    assert postgres_server.url.startswith("postgresql://arena:")
    assert f"@127.0.0.1:{postgres_server.port}/arena" in postgres_server.url


def test_fresh_database_per_test(postgres_url: str) -> None:
    with psycopg.connect(postgres_url, connect_timeout=5) as conn:
        tables = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchone()
        assert tables == (0,)


def test_stop_start_keeps_data_and_port_close_deletes() -> None:
    pg = new_postgres()
    with pg:
        assert pg.root is not None
        root = pg.root
        if os.geteuid() == 0:  # initdb refuses root: the server runs as the postgres user
            assert root.stat().st_uid == pwd.getpwnam(postgres.SYSTEM_USER).pw_uid
        with psycopg.connect(pg.url, autocommit=True) as conn:
            conn.execute("CREATE TABLE kept (n int); INSERT INTO kept VALUES (7)")
        port = pg.port
        pg.stop()
        assert not pg.running
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(pg.url, connect_timeout=2)
        pg.start()
        assert pg.port == port
        with psycopg.connect(pg.url) as conn:
            assert conn.execute("SELECT n FROM kept").fetchone() == (7,)
    assert not root.exists()
    assert not pg.running


def test_missing_binaries_are_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv(postgres.BINDIR_ENV, raising=False)
    monkeypatch.setattr(postgres, "DEBIAN_ROOT", tmp_path / "none")
    with pytest.raises(PostgresNotFound, match=r"initdb, postgres\) not found: install"):
        TempPostgres()
    monkeypatch.delenv(REQUIRE_POSTGRES_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception, match="PostgreSQL is not installed"):
        new_postgres()
    monkeypatch.setenv(REQUIRE_POSTGRES_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match="must run"):
        new_postgres()


def test_the_conformance_suite_runs_on_postgresql(tmp_path: Path) -> None:
    # What `make test` runs in full: the live servers on databases of a throwaway server.
    result = subprocess.run(  # noqa: S603 (our own suite)
        [
            sys.executable, "-m", "conformance", "--serve-all", "--postgres", "--impl", "fastapi",
            "-k", "test_no_credentials or test_login_body", "--report-dir", str(tmp_path),
        ],
        cwd=Path(__file__).resolve().parent.parent,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert re.search(
        r"serving impl_fastapi \(tutorial profile\) at http://127\.0\.0\.1:\d+ on PostgreSQL",
        result.stdout,
    )
    assert "OK: every MUST check passed on every target" in result.stdout
    assert "fastapi: 0 checks" not in result.stdout
