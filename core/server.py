"""How the apps are served: one uvicorn configuration with limits below the app.

`uvicorn_config()` is the one place the server is configured, used by `scopes-arena serve` and
by the conformance suite's live servers (through `python -m core.server APP`), so both run with
the same limits: those of `core.connection.ArenaHttpProtocol` (request heads, time, connections,
read-ahead; the list is in that module), from the ARENA_* settings.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import uvicorn
from uvicorn.config import STARTUP_FAILURE

from core.connection import MAX_READ_AHEAD, ArenaConfig, ArenaHttpProtocol, ServerLimits
from core.settings import Settings

__all__ = [
    "MAX_READ_AHEAD",
    "ArenaConfig",
    "ArenaHttpProtocol",
    "ServerLimits",
    "main",
    "run",
    "uvicorn_config",
]


def uvicorn_config(
    app: str,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = 1,
    reload: bool = False,
    limits: ServerLimits | None = None,
    log_level: str | None = None,
    access_log: bool = True,
) -> ArenaConfig:
    """The one uvicorn configuration of this project: uvloop (where installed) and httptools
    with the limits above; `limits` from the ARENA_* settings when None."""
    limits = limits if limits is not None else ServerLimits.of(Settings())
    return ArenaConfig(
        app,
        limits=limits,
        host=host,
        port=port,
        workers=workers,
        reload=reload,
        loop="auto",
        http=ArenaHttpProtocol,
        # No app here speaks WebSocket: an upgrade request is an ordinary request.
        ws="none",
        # scope["client"] stays the TCP peer: uvicorn would otherwise take it from any
        # X-Forwarded-For sent over loopback (FORWARDED_ALLOW_IPS), and H12's address limit
        # would be dodged with one header. Proxies are core's ARENA_TRUSTED_PROXIES.
        proxy_headers=False,
        timeout_keep_alive=limits.keepalive_timeout,
        log_level=log_level,
        access_log=access_log,
    )


def run(config: uvicorn.Config) -> None:
    """Serve `config` as `uvicorn.run` would (one process, workers or reload)."""
    from uvicorn.supervisors import ChangeReload, Multiprocess

    server = uvicorn.Server(config)
    try:
        if config.should_reload:
            ChangeReload(config, target=server.run, sockets=[config.bind_socket()]).run()
        elif config.workers > 1:
            Multiprocess(config, sockets=[config.bind_socket()]).run()
        else:
            server.run()
    except KeyboardInterrupt:
        pass
    if not server.started and not config.should_reload and config.workers == 1:
        raise SystemExit(STARTUP_FAILURE)  # the cause is logged by uvicorn


def main(argv: Sequence[str] | None = None) -> None:
    """`python -m core.server MODULE:ATTR`: any ASGI app under this configuration, limits from
    the ARENA_* environment (how the conformance suite starts its live servers)."""
    parser = argparse.ArgumentParser(prog="python -m core.server")
    parser.add_argument("app", help="MODULE:ATTR of an ASGI app")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--log-level", default=None)
    parser.add_argument("--no-access-log", dest="access_log", action="store_false")
    args = parser.parse_args(argv)
    run(
        uvicorn_config(
            args.app,
            host=args.host,
            port=args.port,
            workers=args.workers,
            log_level=args.log_level,
            access_log=args.access_log,
        )
    )


if __name__ == "__main__":
    main()
