"""Settings: the ARENA_* environment variables of CONTRACT.md, also buildable by keyword.

Nothing here touches the disk at construction time (H10); the key file is read or created
the first time a key is needed, through `Settings.resolve_secret_key()`.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import secrets
import stat
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

MIN_KEY_BYTES = 32
KEY_FILE_NAME = "secret.key"

Profile = Literal["tutorial", "strict"]
PasswordProfile = Literal["recommended", "cheap"]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class SettingsError(ValueError):
    """A setting that cannot be used; the message is meant for a person."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ARENA_", frozen=True, extra="forbid")

    secret_key: SecretStr | None = None
    # repr=False: a postgresql:// URL holds a password, and a repr can end up in a log.
    database_url: str | None = Field(default=None, repr=False)
    profile: Profile = "tutorial"
    access_token_expire_minutes: int = Field(default=30, gt=0, le=60 * 24 * 365)
    demo_users: bool = False
    data_dir: Path = Path("var")
    # Tests only: argon2 with minimal cost where the hash cost is not the point.
    password_profile: PasswordProfile = "recommended"  # noqa: S105 (a profile name)
    # Speed (README "Settings"): caches on the authentication path and the login queue.
    #: Verified tokens kept (LRU); 0 disables the cache.
    token_cache_size: int = Field(default=10_000, ge=0, le=10_000_000)
    #: Seconds a user record (and their items) is reused before the store is asked again; 0
    #: disables. A disabled, deleted or changed user is seen by every instance within this time.
    user_cache_ttl: float = Field(default=3.0, ge=0, le=3600)
    #: Users kept in that cache (LRU).
    user_cache_size: int = Field(default=10_000, ge=1, le=10_000_000)
    #: Password-hashing threads; None: one per core the process may run on.
    password_workers: int | None = Field(default=None, ge=1, le=256)
    #: Logins that may wait for a hashing thread; one more gets 503 at once (H11).
    login_queue: int = Field(default=16, ge=0, le=100_000)
    #: How much the hashing threads lower their priority (0-19), so reads keep the CPU.
    password_nice: int = Field(default=10, ge=0, le=19)
    # Limits below the app, applied by core.server (uvicorn): see README "Limits".
    #: Request line plus header fields, in bytes; more is 431. Above AUTH-015's 32 KiB token.
    max_header_bytes: int = Field(default=64 * 1024, ge=1024, le=16 * 1024 * 1024)
    #: Header fields per request; more is 431.
    max_headers: int = Field(default=128, ge=8, le=10_000)
    #: Seconds from a request's first byte until its head and body are in; later is 408.
    request_timeout: float = Field(default=10.0, gt=0, le=3600)
    #: Seconds a connection may stay idle (before its first request, between requests).
    keepalive_timeout: int = Field(default=5, ge=1, le=3600)
    #: Open connections (and running requests) per server process; more get 503.
    max_connections: int = Field(default=512, ge=1, le=1_000_000)
    # Strict profile (CONTRACT.md S6, RFC 9068): what its tokens say they come from and are for.
    #: `iss` of every strict token, and the only issuer a strict instance accepts.
    token_issuer: str = Field(default="scopes-arena", min_length=1, max_length=255)
    #: `aud` of every strict token, and the audience a strict instance requires.
    token_audience: str = Field(default="scopes-arena-api", min_length=1, max_length=255)
    # H12 brute-force protection (README "Brute-force protection").
    #: `off` (false): no login is counted or refused; for benchmarks and fuzzing only.
    login_rate_limit: bool = True
    #: Failed logins for one username (known or not) within the window; one more gets 429.
    login_failures_per_username: int = Field(default=10, ge=1, le=1_000_000)
    #: Failed logins from one client address (an IPv6 /64) within the window; one more: 429.
    login_failures_per_address: int = Field(default=100, ge=1, le=1_000_000)
    #: Seconds a window of failed logins lasts, from its first failure.
    login_failure_window: float = Field(default=900.0, gt=0, le=30 * 24 * 3600)
    #: Peers whose X-Forwarded-For is believed ("127.0.0.1/32,10.0.0.0/8"); none by default.
    trusted_proxies: Annotated[tuple[Network, ...], NoDecode] = ()
    # PostgreSQL store (README "PostgreSQL").
    #: Connections per process, at most (the pool opens one, more as requests wait).
    db_pool_size: int = Field(default=10, ge=1, le=1000)
    #: Seconds any database call may take (waiting for a connection, connecting, a
    #: statement); longer is 503 Service Unavailable.
    db_timeout: float = Field(default=5.0, gt=0, le=600)

    @field_validator("secret_key")
    @classmethod
    def _key_long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value().encode()) < MIN_KEY_BYTES:
            raise ValueError(
                f"ARENA_SECRET_KEY must be at least {MIN_KEY_BYTES} bytes "
                "(generate one with: python -c 'import secrets; print(secrets.token_hex(32))')"
            )
        return value

    @field_validator("token_issuer", "token_audience")
    @classmethod
    def _printable(cls, value: str) -> str:
        # A StringOrURI claim (RFC 7519 §2) compared exactly: no spaces or control characters
        # that a reader could trim or fold.
        if not value.isprintable() or not value.strip() == value or " " in value:
            raise ValueError("must be printable, without spaces")
        return value

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _networks(cls, value: Any) -> Any:
        # A comma-separated list in the environment; a bare address is its own /32 or /128.
        if isinstance(value, str):
            value = [part for part in value.replace(",", " ").split()]
        if isinstance(value, list | tuple):
            try:
                return tuple(ipaddress.ip_network(str(part).strip()) for part in value)
            except ValueError as exc:
                raise ValueError(f"expected networks such as 10.0.0.0/8: {exc}") from None
        return value

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'arena.db'}"

    @property
    def key_file(self) -> Path:
        return self.data_dir / KEY_FILE_NAME

    def resolve_secret_key(self) -> bytes:
        """The HMAC key: ARENA_SECRET_KEY, else the key file, created (mode 0600) if absent."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value().encode()
        return _read_or_create_key_file(self.key_file)


def _read_or_create_key_file(path: Path) -> bytes:
    """The key in `path`, or a new one put there. The file appears whole or not at all: the key
    is written to a private temporary file beside it, synced, then hard-linked into place, and a
    link fails if the name exists. So of processes starting together exactly one key wins, and
    every one of them (the losers read the winner's file) ends with it."""
    # 0700: the directory holds the key and, by default, the store with the password hashes.
    # An existing directory keeps its mode (it may be shared on purpose); the files do not.
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        return _read_key_file(path)
    except FileNotFoundError:
        pass
    key = secrets.token_hex(32).encode()
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(key + b"\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            return _read_key_file(path)  # another process's key won: whole, since linked
        _sync_directory(path.parent)
        return key
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)


def _read_key_file(path: Path) -> bytes:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        # Refused, not tightened: whoever could read it may have the key already.
        raise SettingsError(
            f"key file {path} is readable by group or others (mode {mode:04o}): "
            f"make it private with chmod 600 {path}, or delete it to have a new one generated"
        )
    key = path.read_bytes().strip()
    if len(key) < MIN_KEY_BYTES:
        raise SettingsError(
            f"key file {path} holds fewer than {MIN_KEY_BYTES} bytes; "
            "delete it to have a new one generated"
        )
    return key


def _sync_directory(directory: Path) -> None:
    """The new name on disk too: a crash right after the start keeps the key it handed out."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - a directory that cannot be opened for reading
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)
