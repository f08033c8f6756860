"""`scopes-arena`: serve one implementation, and manage the users and items of the store.

Settings come from the ARENA_* environment, as for the apps. Every refusal is one line on stderr
and exit status 1, never a traceback. Usernames are checked against core.usernames' canonical
form before anything else; whatever comes from the store, the environment or the command line is
printed with its control and invisible characters escaped (`shown`; every refusal whole), so
that no value can fake output or reach the terminal as a control sequence. A database URL is
shown without its password.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sys
import unicodedata
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table
from rich.text import Text
from typer.core import TyperCommand, TyperGroup, TyperOption

from core import registry, usernames
from core import scopes as scope_rules
from core.errors import StoreUnavailable
from core.passwords import PasswordService
from core.profiles import get_profile
from core.registry import IMPLEMENTATIONS
from core.service import seed_demo
from core.settings import Settings, SettingsError
from core.stores import (
    BadDatabaseURL,
    DuplicateItem,
    MigratingStore,
    NoSuchDatabase,
    SchemaStatus,
    SchemaTooNew,
    UserStore,
    open_store,
)
from core.users import DEMO_USERS, Item, UnknownUser, User, UserExists, next_token_epoch

T = TypeVar("T")


def _quiet_help(option: TyperOption | None) -> TyperOption | None:
    # Typer's rich help gives every option a type column; --help's would read "<bool>".
    if option is not None:
        option.metavar = ""
    return option


class _Command(TyperCommand):
    def get_help_option(self, ctx: Any) -> TyperOption | None:
        return _quiet_help(super().get_help_option(ctx))


class _Group(TyperGroup):
    def get_help_option(self, ctx: Any) -> TyperOption | None:
        return _quiet_help(super().get_help_option(ctx))


# Locals would show passwords and keys in a crash report: never print them.
app = typer.Typer(
    cls=_Group,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    help="Serve one implementation; manage the users and items of the store (ARENA_* settings).",
)
users_app = typer.Typer(cls=_Group, no_args_is_help=True, help="Manage the users of the store.")
items_app = typer.Typer(cls=_Group, no_args_is_help=True, help="Manage the items of the store.")
app.add_typer(users_app, name="users")
app.add_typer(items_app, name="items")
db_app = typer.Typer(
    cls=_Group, no_args_is_help=True, help="The store's schema: its version and migrations."
)
app.add_typer(db_app, name="db")


def _fail(message: str) -> NoReturn:
    # Escaped whole: a message may quote the command line, the environment or the store.
    typer.echo(f"error: {shown(message)}", err=True)
    raise typer.Exit(1)


#: Shown as escapes: controls, format characters (zero-width, bidi), line and paragraph
#: separators, surrogates, private use and unassigned code points.
_HIDDEN = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\"}


def shown(text: str) -> str:
    """`text` safe to print: every hidden character as a Python-style escape (`\\x1b`, `\\n`,
    `\\u202e`), backslashes doubled so an escape cannot be faked."""
    if text.isprintable() and "\\" not in text:
        return text
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif unicodedata.category(ch) in _HIDDEN:
            code = ord(ch)
            out.append(
                f"\\x{code:02x}" if code < 0x100 else
                f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"
            )  # fmt: skip
        else:
            out.append(ch)
    return "".join(out)


def _username(name: str) -> str:
    """NAME as given, if canonical (core.usernames); else one line saying why."""
    try:
        return usernames.check(name)
    except usernames.UsernameError as exc:
        _fail(str(exc))


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        field = "ARENA_" + "_".join(str(part) for part in first["loc"]).upper()
        message = first["msg"].removeprefix("Value error, ")
        _fail(message if message.startswith(field) else f"{field}: {message}")


def _open_store(*, writes: bool = True, create: bool = True) -> UserStore:
    """The configured store; nothing is opened yet, so a bad URL is refused before any prompt.
    A command that `writes` refuses memory:// (the change would end with the command); without
    `create` a missing SQLite file stays missing (NoSuchDatabase on first use)."""
    url = _settings().effective_database_url
    if writes and url == "memory://":
        _fail(
            "ARENA_DATABASE_URL is memory://: the change would vanish when this command ends "
            "(use a sqlite:/// store)"
        )
    settings = _settings()
    try:
        return open_store(
            url, create=create, pool_size=settings.db_pool_size, timeout=settings.db_timeout
        )
    except BadDatabaseURL as exc:
        _fail(str(exc))


def _run(work: Callable[[UserStore], Awaitable[T]], store: UserStore | None = None) -> T:
    """Run `work` against the store, turning every expected refusal into one line."""
    opened = store if store is not None else _open_store()
    # The pool's reconnection warnings would reach stderr (logging's last resort) beside the
    # one line a refusal prints.
    logging.getLogger("psycopg").addHandler(logging.NullHandler())

    async def session() -> T:
        try:
            return await work(opened)
        finally:
            await opened.close()

    try:
        return asyncio.run(session())
    except UserExists as exc:
        _fail(f"user {exc} already exists")
    except UnknownUser as exc:
        _fail(f"no user named {exc}")
    except NoSuchDatabase as exc:  # before StoreUnavailable, which it is
        _fail(f"{exc} (`scopes-arena users add` or `scopes-arena demo` creates it)")
    except SchemaTooNew as exc:  # it was reached: the message says what to do
        _fail(str(exc))
    except StoreUnavailable as exc:
        _fail(f"the store cannot be reached: {exc}")
    except DuplicateItem as exc:
        _fail(str(exc))
    except usernames.UsernameError as exc:  # the stores' own guard, should a name get that far
        _fail(str(exc))


def _scope_names(text: str) -> tuple[str, ...]:
    try:
        return scope_rules.validate_names(name for name in re.split(r"[\s,]+", text) if name)
    except ValueError as exc:
        _fail(str(exc))


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.read().removesuffix("\n").removesuffix("\r")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    if not password:
        _fail("the password is empty")
    return password


@app.command(cls=_Command)
def serve(
    impl: Annotated[str, typer.Argument(help=f"One of: {', '.join(IMPLEMENTATIONS)}.")],
    host: str = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    workers: Annotated[int, typer.Option(min=1)] = 1,
    reload: Annotated[bool, typer.Option("--reload", metavar="")] = False,
) -> None:
    """Serve impl_<IMPL>.app:app with uvicorn, with the ARENA_* limits below the app."""
    if impl not in IMPLEMENTATIONS:
        _fail(f"unknown implementation '{impl}' (choose from {', '.join(IMPLEMENTATIONS)})")
    # The app reads the same settings: refuse bad ones here in one line, not per request.
    _open_store(writes=False)
    settings = _settings()
    try:
        settings.resolve_secret_key()
    except SettingsError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"cannot read or create the key file {settings.key_file}: {exc.strerror}")
    try:
        get_profile(settings.profile)
    except ValueError as exc:
        _fail(f"ARENA_PROFILE: {exc}")
    from core import server  # uvicorn and httptools: only for this command

    server.run(
        server.uvicorn_config(
            registry.app_path(impl),
            host=host,
            port=port,
            workers=workers,
            reload=reload,
            limits=server.ServerLimits.of(settings),
        )
    )


_PASSWORD_STDIN = typer.Option(
    "--password-stdin", metavar="", help="Read the password from stdin, not a prompt."
)


@users_app.command(cls=_Command, name="add")
def users_add(
    name: str,
    scopes: Annotated[str, typer.Option(help="Allowed scopes, comma or space separated.")] = (
        "me,items"
    ),
    full_name: str | None = None,
    email: str | None = None,
    disabled: Annotated[bool, typer.Option("--disabled", metavar="")] = False,
    password_stdin: Annotated[bool, _PASSWORD_STDIN] = False,
) -> None:
    """Add a user; the password is asked for twice, hidden."""
    _username(name)
    allowed = _scope_names(scopes)
    store = _open_store()
    passwords = PasswordService(_settings().password_profile)
    # stdin is read before the store is opened: nothing is asked, and a refusal leaves no file.
    password = _read_password(True) if password_stdin else None

    async def add(db: UserStore) -> None:
        if await db.get_user(name) is not None:
            raise UserExists(name)  # before the prompt: no password typed in vain
        hashed = passwords.hash_sync(password if password is not None else _read_password(False))
        # H13: no token of an earlier account of this name opens the new one.
        user = User(name, hashed, email, full_name, disabled, allowed, next_token_epoch())
        await db.add_user(user)

    _run(add, store)
    typer.echo(f"added user {name} (scopes: {scope_rules.format_scopes(allowed) or 'none'})")


async def _cut_off(db: UserStore, name: str, *, hashed_password: str | None = None) -> None:
    """Change the user (a new password hash, if given) with a new H13 cut-off. Should the change
    have committed in a later second than the cut-off was taken in (a busy store), the cut-off
    is moved past the commit: a login that read the record before the change committed issues
    its token at a time before the commit (core.service, F2), and so is cut off either way."""
    cut = next_token_epoch()
    await db.update_user(name, hashed_password=hashed_password, tokens_valid_after=cut)
    if (later := next_token_epoch()) > cut:
        await db.update_user(name, tokens_valid_after=later)


@users_app.command(cls=_Command, name="set-password")
def users_set_password(name: str, password_stdin: Annotated[bool, _PASSWORD_STDIN] = False) -> None:
    """Change a user's password; the new one is asked for twice, hidden. Every token issued
    before is refused from then on (H13)."""
    _username(name)
    store = _open_store()
    passwords = PasswordService(_settings().password_profile)
    password = _read_password(True) if password_stdin else None

    async def change(db: UserStore) -> None:
        if await db.get_user(name) is None:
            raise UnknownUser(name)  # before the prompt
        hashed = passwords.hash_sync(password if password is not None else _read_password(False))
        await _cut_off(db, name, hashed_password=hashed)

    _run(change, store)
    typer.echo(f"set the password of {name}; the tokens issued before are refused from now on")


@users_app.command(cls=_Command, name="revoke")
def users_revoke(name: str) -> None:
    """Refuse every token issued to a user so far (H13); they can log in again at once."""
    _username(name)
    _run(lambda store: _cut_off(store, name))
    typer.echo(f"revoked the tokens of {name} issued so far")


@users_app.command(cls=_Command, name="list")
def users_list() -> None:
    """List the users (never their password hashes)."""
    table = Table("username", "full name", "email", "disabled", "scopes")
    store = _open_store(writes=False, create=False)  # reading creates no file
    for user in _run(lambda db: db.list_users(), store):
        # Text, not str: a stored value must not be read as Rich markup; escaped: a newline
        # would fake a row, an escape sequence would reach the terminal.
        cells = (user.username, user.full_name or "", user.email or "")
        scopes = scope_rules.format_scopes(user.scopes)
        row = (*cells, "yes" if user.disabled else "no", scopes)
        table.add_row(*(Text(shown(cell)) for cell in row))
    Console().print(table)


@users_app.command(cls=_Command, name="disable")
def users_disable(name: str) -> None:
    """Disable a user: they can log in, but /users/me/ answers 400 Inactive user."""
    _username(name)
    _run(lambda store: store.update_user(name, disabled=True))
    typer.echo(f"disabled user {name}")


@users_app.command(cls=_Command, name="enable")
def users_enable(name: str) -> None:
    """Enable a disabled user."""
    _username(name)
    _run(lambda store: store.update_user(name, disabled=False))
    typer.echo(f"enabled user {name}")


@users_app.command(cls=_Command, name="set-scopes")
def users_set_scopes(name: str, scopes: str) -> None:
    """Replace the scopes a user may be granted (comma or space separated; "" for none)."""
    _username(name)
    allowed = _scope_names(scopes)
    _run(lambda store: store.update_user(name, scopes=allowed))
    typer.echo(f"set the scopes of {name} to: {scope_rules.format_scopes(allowed) or 'none'}")


@users_app.command(cls=_Command, name="delete")
def users_delete(name: str) -> None:
    """Delete a user and their items."""
    _username(name)
    _run(lambda store: store.delete_user(name))
    typer.echo(f"deleted user {name}")


@items_app.command(cls=_Command, name="add")
def items_add(owner: str, item_id: str) -> None:
    """Give OWNER the item ITEM_ID."""
    _username(owner)
    _run(lambda store: store.add_item(Item(item_id, owner)))
    typer.echo(f"added item {shown(item_id)} to {owner}")


def _migrating_store(*, create: bool) -> MigratingStore:
    store = _open_store(writes=False, create=create)
    if not isinstance(store, MigratingStore):
        _fail("ARENA_DATABASE_URL is memory://: it has no schema (nothing to migrate)")
    return store


def _pending(status: SchemaStatus) -> str:
    return ", ".join(status.pending) or "none"


@db_app.command(cls=_Command, name="status")
def db_status() -> None:
    """Show the store's schema version, this code's and what `db upgrade` would apply."""
    # Changes nothing (a missing SQLite file stays missing); exit status 1 for a database
    # newer than this code.
    store = _migrating_store(create=False)
    status = _run(lambda _: store.schema_status(), store)
    typer.echo(f"database: {shown(status.where)}")
    typer.echo(f"schema version: {status.found} (this code: {status.current})")
    if status.found > status.current:
        _fail(str(SchemaTooNew(status.found)))
    typer.echo(f"pending migrations: {_pending(status)}")


@db_app.command(cls=_Command, name="upgrade")
def db_upgrade() -> None:
    """Apply the pending migrations (the apps also do on first use)."""
    # One transaction (all or none), each version once even with instances starting at the
    # same moment.
    store = _migrating_store(create=True)
    before = _run(lambda _: store.upgrade(), store)
    if before.found == before.current:
        typer.echo(f"schema up to date (version {before.current}): {shown(before.where)}")
    else:
        typer.echo(
            f"upgraded the schema from version {before.found} to {before.current} "
            f"({_pending(before)}): {shown(before.where)}"
        )


@app.command(cls=_Command)
def demo() -> None:
    """Put the tutorial's demo users and their items into an empty store."""
    if _run(seed_demo):
        typer.echo(f"added the demo users: {', '.join(user.username for user in DEMO_USERS)}")
    else:
        typer.echo("the store is not empty: demo users not added")


def main() -> None:
    app()
