"""Settings: environment variables, keyword construction, the key file, the key length rule."""

from __future__ import annotations

import multiprocessing
import secrets
import stat
import time
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from core.settings import KEY_FILE_NAME, Settings, SettingsError

KEY = "k" * 32
SHORT_KEY_MESSAGE = (
    "Value error, ARENA_SECRET_KEY must be at least 32 bytes "
    "(generate one with: python -c 'import secrets; print(secrets.token_hex(32))')"
)


def test_defaults() -> None:
    settings = Settings()
    assert settings.secret_key is None
    assert settings.database_url is None
    assert settings.profile == "tutorial"
    assert settings.access_token_expire_minutes == 30
    assert settings.demo_users is False
    assert settings.data_dir == Path("var")
    assert settings.password_profile == "recommended"
    assert settings.effective_database_url == "sqlite:///var/arena.db"
    assert settings.key_file == Path("var") / KEY_FILE_NAME


def test_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ARENA_SECRET_KEY", KEY)
    monkeypatch.setenv("ARENA_DATABASE_URL", "memory://")
    monkeypatch.setenv("ARENA_PROFILE", "strict")
    monkeypatch.setenv("ARENA_ACCESS_TOKEN_EXPIRE_MINUTES", "5")
    monkeypatch.setenv("ARENA_DEMO_USERS", "1")
    monkeypatch.setenv("ARENA_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("ARENA_PASSWORD_PROFILE", "cheap")
    settings = Settings()
    assert settings.resolve_secret_key() == KEY.encode()
    assert settings.effective_database_url == "memory://"
    assert settings.profile == "strict"
    assert settings.access_token_expire_minutes == 5
    assert settings.demo_users is True
    assert settings.data_dir == tmp_path
    assert settings.password_profile == "cheap"


def test_keywords(tmp_path: Path) -> None:
    settings = Settings(
        secret_key=SecretStr(KEY),
        database_url="sqlite:///x.db",
        profile="strict",
        demo_users=True,
        data_dir=tmp_path,
        password_profile="cheap",
    )
    assert settings.resolve_secret_key() == KEY.encode()
    assert settings.effective_database_url == "sqlite:///x.db"
    assert (settings.profile, settings.demo_users, settings.password_profile) == (
        "strict",
        True,
        "cheap",
    )
    assert list(tmp_path.iterdir()) == []


def test_default_database_url_follows_data_dir(tmp_path: Path) -> None:
    assert Settings(data_dir=tmp_path).effective_database_url == f"sqlite:///{tmp_path}/arena.db"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ARENA_PROFILE", "lenient"),
        ("ARENA_ACCESS_TOKEN_EXPIRE_MINUTES", "0"),
        ("ARENA_PASSWORD_PROFILE", "none"),
        ("ARENA_DEMO_USERS", "maybe"),
    ],
)
def test_bad_environment_values(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        Settings()


def test_unknown_keyword_refused() -> None:
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        Settings(secret=KEY)  # type: ignore[call-arg]


@pytest.mark.parametrize("key", ["", "x" * 31, "é" * 15])
def test_short_key_from_environment(monkeypatch: pytest.MonkeyPatch, key: str) -> None:
    monkeypatch.setenv("ARENA_SECRET_KEY", key)
    with pytest.raises(ValidationError) as caught:
        Settings()
    assert [error["msg"] for error in caught.value.errors()] == [SHORT_KEY_MESSAGE]


def test_key_length_counts_bytes() -> None:
    # 16 two-byte characters are 32 bytes: long enough.
    assert Settings(secret_key=SecretStr("é" * 16)).resolve_secret_key() == ("é" * 16).encode()
    with pytest.raises(ValidationError, match="at least 32 bytes"):
        Settings(secret_key=SecretStr("x" * 31))


def test_construction_touches_no_disk(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    settings = Settings(data_dir=data_dir)
    assert settings.key_file == data_dir / "secret.key"
    assert not data_dir.exists()


def test_key_file_created_once_with_mode_0600(tmp_path: Path) -> None:
    data_dir = tmp_path / "nested" / "data"
    key = Settings(data_dir=data_dir).resolve_secret_key()
    key_file = data_dir / "secret.key"
    assert len(key) == 64
    int(key, 16)  # hex
    assert key_file.read_bytes() == key + b"\n"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    # Reused by the next process (a new Settings), not regenerated.
    assert Settings(data_dir=data_dir).resolve_secret_key() == key
    assert key_file.read_bytes() == key + b"\n"


def test_environment_key_wins_over_key_file(tmp_path: Path) -> None:
    assert (
        Settings(secret_key=SecretStr(KEY), data_dir=tmp_path).resolve_secret_key() == KEY.encode()
    )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("content", [b"", b"short\n", b" " * 40, b"k" * 31 + b"\n"])
def test_short_key_file_refused(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "secret.key").write_bytes(content)
    (tmp_path / "secret.key").chmod(0o600)
    with pytest.raises(SettingsError) as caught:
        Settings(data_dir=tmp_path).resolve_secret_key()
    assert str(caught.value) == (
        f"key file {tmp_path / 'secret.key'} holds fewer than 32 bytes; "
        "delete it to have a new one generated"
    )
    assert (tmp_path / "secret.key").read_bytes() == content


def test_data_dir_created_private(tmp_path: Path) -> None:
    data_dir = tmp_path / "nested" / "data"
    Settings(data_dir=data_dir).resolve_secret_key()
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700


def test_existing_data_dir_keeps_its_mode(tmp_path: Path) -> None:
    # A directory chosen by the operator may be shared on purpose; the files in it are not.
    tmp_path.chmod(0o755)
    Settings(data_dir=tmp_path).resolve_secret_key()
    assert stat.S_IMODE(tmp_path.stat().st_mode) == 0o755
    assert stat.S_IMODE((tmp_path / "secret.key").stat().st_mode) == 0o600


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o606, 0o700 | 0o004])
def test_key_file_others_can_read_is_refused(tmp_path: Path, mode: int) -> None:
    key_file = tmp_path / "secret.key"
    key_file.write_bytes(b"h" * 40 + b"\n")
    key_file.chmod(mode)
    with pytest.raises(SettingsError) as caught:
        Settings(data_dir=tmp_path).resolve_secret_key()
    assert str(caught.value) == (
        f"key file {key_file} is readable by group or others (mode {mode:04o}): make it private "
        f"with chmod 600 {key_file}, or delete it to have a new one generated"
    )
    assert stat.S_IMODE(key_file.stat().st_mode) == mode  # refused, not changed


@pytest.mark.parametrize("mode", [0o600, 0o400, 0o700])
def test_private_key_file_is_used(tmp_path: Path, mode: int) -> None:
    key_file = tmp_path / "secret.key"
    key_file.write_bytes(b"h" * 40 + b"\n")
    key_file.chmod(mode)
    assert Settings(data_dir=tmp_path).resolve_secret_key() == b"h" * 40


def test_server_limit_defaults_and_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings()
    assert (
        settings.max_header_bytes,
        settings.max_headers,
        settings.request_timeout,
        settings.keepalive_timeout,
        settings.max_connections,
    ) == (65536, 128, 10.0, 5, 512)
    for name, value in [
        ("ARENA_MAX_HEADER_BYTES", "100"),
        ("ARENA_MAX_HEADERS", "0"),
        ("ARENA_REQUEST_TIMEOUT", "0"),
        ("ARENA_KEEPALIVE_TIMEOUT", "0"),
        ("ARENA_MAX_CONNECTIONS", "0"),
    ]:
        with monkeypatch.context() as env:
            env.setenv(name, value)
            with pytest.raises(ValidationError):
                Settings()


def test_key_file_written_by_hand_is_used(tmp_path: Path) -> None:
    (tmp_path / "secret.key").write_bytes(b"  " + b"h" * 40 + b"\n\n")
    (tmp_path / "secret.key").chmod(0o600)
    assert Settings(data_dir=tmp_path).resolve_secret_key() == b"h" * 40


# F7 (issue 20): first starts at once on a fresh data directory.


def _start(data_dir: str, barrier: Any, results: Any) -> None:
    """One process's first start: the key, or what refused it."""
    real = secrets.token_hex

    def slow_token_hex(nbytes: int | None = None) -> str:
        # Making a key takes a while: a process that let its key file be seen before the key
        # was in it is caught out by every other process.
        time.sleep(0.2)
        return real(nbytes)

    secrets.token_hex = slow_token_hex  # this process only (forked)
    barrier.wait()
    try:
        results.put(Settings(data_dir=Path(data_dir)).resolve_secret_key().decode())
    except Exception as exc:  # reported to the test, which expects none
        results.put(f"{type(exc).__name__}: {exc}")


def test_concurrent_first_starts_all_get_the_same_key(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    processes = 40
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(processes)
    results = context.Queue()
    started = [
        context.Process(target=_start, args=(str(data_dir), barrier, results))
        for _ in range(processes)
    ]
    for process in started:
        process.start()
    keys = [results.get(timeout=60) for _ in started]
    for process in started:
        process.join(timeout=60)
    assert len(set(keys)) == 1, sorted(set(keys))
    [key] = set(keys)
    assert len(key) == 64
    assert (data_dir / "secret.key").read_bytes() == key.encode() + b"\n"
    assert stat.S_IMODE((data_dir / "secret.key").stat().st_mode) == 0o600
    assert sorted(p.name for p in data_dir.iterdir()) == ["secret.key"]  # no temporary left


def test_a_start_that_loses_the_race_takes_the_winners_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another process links its key into place between this one's look and its own link.
    winner = b"w" * 64

    def link(source: str, target: str) -> None:
        Path(target).write_bytes(winner + b"\n")
        Path(target).chmod(0o600)
        raise FileExistsError(target)

    monkeypatch.setattr("core.settings.os.link", link)
    assert Settings(data_dir=tmp_path).resolve_secret_key() == winner
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secret.key"]  # its own temporary gone
