"""One HTTP/1.1 connection below the app: uvicorn's httptools protocol with bounds.

uvicorn with httptools (its default) accepts request heads of any size and count, never times
out a client that sends a request slowly, connects and sends nothing, or does not read its
answers, and queues every request a client pipelines. `ArenaHttpProtocol`, a subclass of
uvicorn's httptools protocol, bounds all of that (`core.server.uvicorn_config` puts it in the
one uvicorn configuration). Every refusal is an HTTP answer where one can still be given (JSON
with `detail`, like every other error, CONTRACT H7) and `Connection: close`:

- a request head over `max_header_bytes` (request line and headers): 431;
- more than `max_headers` header fields: 431;
- a request (head and body) not received within `request_timeout` seconds of its first byte
  (of its turn, for a pipelined request: see `ArenaHttpProtocol`): 408, or the connection is
  closed where the app has already begun its answer;
- more than `max_connections` open connections (or running requests): 503 with Retry-After;
- a connection idle for `keepalive_timeout` seconds, fresh ones included: closed, no answer;
- an answer the client stops reading (its transport's buffer full, no byte of it taken for
  `request_timeout` seconds): the connection is dropped (uvicorn alone waits for ever, its app
  task and the connection slot with it);
- more than `MAX_READ_AHEAD` requests pipelined ahead of their turn: the rest is not read, and
  the connection is closed after the answers to those read (uvicorn alone parses and queues
  every request a client pipelines: 6.8 MB of GETs on one connection took 500 MB).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httptools
import uvicorn
from uvicorn._types import ASGI3Application
from uvicorn.protocols.http.httptools_impl import (
    STATUS_LINE,
    HttpToolsProtocol,
    RequestResponseCycle,
)
from uvicorn.server import ServerState

from core.settings import Settings

#: The Retry-After of the 503 for too many connections: free slots come back within seconds.
BUSY_RETRY_AFTER = b"1"
#: Requests of one connection read and queued while an earlier one is answered; clients that
#: pipeline (few do) resend what a closed connection left unanswered.
MAX_READ_AHEAD = 32


@dataclass(frozen=True, slots=True)
class ServerLimits:
    max_header_bytes: int = 64 * 1024
    max_headers: int = 128
    request_timeout: float = 10.0
    keepalive_timeout: int = 5
    max_connections: int = 512

    @classmethod
    def of(cls, settings: Settings) -> ServerLimits:
        return cls(
            max_header_bytes=settings.max_header_bytes,
            max_headers=settings.max_headers,
            request_timeout=settings.request_timeout,
            keepalive_timeout=settings.keepalive_timeout,
            max_connections=settings.max_connections,
        )


class ArenaConfig(uvicorn.Config):
    """uvicorn's Config carrying our limits: it is pickled into each worker process (spawn),
    so the limits travel with it, whatever the workers' environment."""

    def __init__(self, app: str, *, limits: ServerLimits, **options: Any) -> None:
        super().__init__(app, **options)
        self.limits = limits


class _Refused(Exception):
    """Raised inside a parser callback to stop parsing a request that is being refused."""


class ArenaHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with bounds on the request head, on time and on connections.

    httptools buffers a header value until it ends (`_current_header_value += ...`), so counting
    in `on_header` would come too late: the bytes of an unfinished head are counted as they
    arrive, and the exact size is checked again once the head is complete.

    Time, one rule kept by `_settle_timers` after every event that can change it (bytes read, a
    request's last byte, an answer's last byte): while a request is being received and every
    answer before it on this connection is complete, its clock runs (`request_timeout`, from its
    first byte, any bytes outside a request included); while nothing is being received or
    answered, the keep-alive clock runs; while the app answers, neither (the app's time).
    A pipelined request (its bytes in before the answers to those before it) starts its clock
    when its turn comes: uvicorn queues it and pauses reading, so until then the time is the
    server's, not the client's. uvicorn alone arms no timer for it: its half-sent body held the
    connection for ever (issue 20, F1)."""

    def __init__(
        self,
        config: uvicorn.Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.limits = config.limits if isinstance(config, ArenaConfig) else ServerLimits()
        # Our own 503 (JSON, Retry-After, counting this connection) replaces uvicorn's.
        self.limit_concurrency = None
        self._reading_head = True
        #: A request has begun (a byte of it, or of what may become one, is in) and not ended.
        self._receiving = False
        #: The request whose answer is being written (or awaited from the app).
        self._active: RequestResponseCycle | None = None
        self._head_bytes = 0
        self._header_count = 0
        self._request_timer: asyncio.TimerHandle | None = None
        self._write_timer: asyncio.TimerHandle | None = None
        self._refusal: tuple[int, str, tuple[tuple[bytes, bytes], ...]] | None = None
        self._refused = False
        #: MAX_READ_AHEAD reached: nothing more is read; the last request queued closes.
        self._read_ahead_full = False

    # --- connection events ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        # uvicorn arms its keep-alive timer only after a response: a connection that never sends
        # a byte would stay open for ever.
        self._settle_timers()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_request_timer()
        self._cancel_write_timer()
        super().connection_lost(exc)

    def pause_writing(self) -> None:
        # The transport's buffer is full: the client is not taking the answer. It has
        # request_timeout seconds to take enough of it for the buffer to drain (resume_writing).
        super().pause_writing()
        if self._write_timer is None:
            self._write_timer = self.loop.call_later(
                self.limits.request_timeout, self._write_timed_out
            )

    def resume_writing(self) -> None:
        self._cancel_write_timer()
        super().resume_writing()

    def data_received(self, data: bytes) -> None:
        if self._refused or self._read_ahead_full:
            return
        # Bytes between requests are a request's first bytes too (a stray CRLF every few seconds
        # must not hold the connection): the parser's callbacks below say where requests end.
        self._receiving = self._receiving or bool(data)
        if self._reading_head:
            self._head_bytes += len(data)
        super().data_received(data)
        if self._reading_head and self._head_bytes > self.limits.max_header_bytes:
            self._refuse(431, "Request Header Fields Too Large")
        self._settle_timers()

    # --- parser callbacks ----------------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._receiving = True
        self._header_count = 0
        super().on_message_begin()

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        if self._header_count > self.limits.max_headers:
            self._refusal = (431, "Request Header Fields Too Large", ())
            raise _Refused
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        head = len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)
        if head > self.limits.max_header_bytes:
            self._refusal = (431, "Request Header Fields Too Large", ())
            raise _Refused
        if (
            len(self.connections) > self.limits.max_connections
            or len(self.tasks) >= self.limits.max_connections
        ):
            self.logger.warning("Over ARENA_MAX_CONNECTIONS: answering 503.")
            self._refusal = (503, "Service Unavailable", ((b"retry-after", BUSY_RETRY_AFTER),))
            raise _Refused
        if len(self.pipeline) >= MAX_READ_AHEAD:
            self._read_ahead_full = True
            raise _Refused
        self._reading_head = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        # The next request in the same bytes, if any, gets its own clock (`_settle_timers`).
        self._cancel_request_timer()
        self._receiving = False
        self._reading_head = True
        self._head_bytes = 0
        super().on_message_complete()

    # --- answers -------------------------------------------------------------------------------

    def _start_asgi_task(self, cycle: RequestResponseCycle, app: ASGI3Application) -> None:
        # uvicorn starts each request's app here, a pipelined one when the answer before it ends.
        self._active = cycle
        super()._start_asgi_task(cycle, app)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._settle_timers()

    # --- time ----------------------------------------------------------------------------------

    def _earlier_answer_pending(self) -> bool:
        """Is a request before the one being received still waiting for, or in, its answer?"""
        if self.pipeline:
            return True  # queued requests (the one being received among them, maybe)
        if self._reading_head:
            return self.cycle is not None and not self.cycle.response_complete
        return False  # its body is being read: `self.cycle` is its own, and it runs

    def _settle_timers(self) -> None:
        if self._refused or self.transport.is_closing():
            return
        if self._receiving:
            if not self._earlier_answer_pending():
                self._unset_keepalive_if_required()
                if self._request_timer is None:
                    self._request_timer = self.loop.call_later(
                        self.limits.request_timeout, self._request_timed_out
                    )
            # else: its clock starts when its turn comes (`on_response_complete`)
            return
        self._cancel_request_timer()
        idle = not self.pipeline and (self.cycle is None or self.cycle.response_complete)
        if idle and self.timeout_keep_alive_task is None:
            # E.g. an answer sent before the end of its request's body: uvicorn armed the
            # keep-alive timer then, and the body's last bytes cancelled it.
            self.timeout_keep_alive_task = self.loop.call_later(
                self.timeout_keep_alive, self.timeout_keep_alive_handler
            )

    # --- refusals ------------------------------------------------------------------------------

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to anything the parser refuses: ours when a callback refused, and
        JSON (H7) for a malformed request."""
        if self._read_ahead_full and self._refusal is None:
            # Not a refusal: those queued are answered, the last one with Connection: close.
            self.cycle.keep_alive = False
            self.flow.pause_reading()
            return
        status, detail, headers = self._refusal or (400, msg, ())
        self._refuse(status, detail, headers)

    def _refuse(
        self, status: int, detail: str, headers: Sequence[tuple[bytes, bytes]] = ()
    ) -> None:
        if self._refused:
            return
        self._refused = True
        self._cancel_request_timer()
        self._unset_keepalive_if_required()
        # The answer being written is the running request's, which is not `self.cycle` when
        # requests are queued behind it: an answer begun there must not be cut by ours.
        active = self._active
        answering = active is None or active.response_complete or not active.response_started
        self._disconnect_all()
        if answering and not self.transport.is_closing():
            body = json.dumps({"detail": detail}, separators=(",", ":")).encode()
            head = [STATUS_LINE[status]]
            for name, value in (
                *self.server_state.default_headers,
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
                *headers,
            ):
                head.extend((name, b": ", value, b"\r\n"))
            self.transport.write(b"".join((*head, b"\r\n", body)))
        self.transport.close()

    def _request_timed_out(self) -> None:
        self._request_timer = None
        self.logger.info("Request not received within ARENA_REQUEST_TIMEOUT: closing.")
        self._refuse(408, "Request Timeout")

    def _write_timed_out(self) -> None:
        self._write_timer = None
        self.logger.info("Answer not read within ARENA_REQUEST_TIMEOUT: dropping the connection.")
        self._cancel_request_timer()
        self._refused = True  # nothing more is read or answered
        self._disconnect_all()
        # abort, not close: close would wait for the buffer to drain, which is what never comes.
        # connection_lost then ends the app's waiting send().
        self.transport.abort()

    def _disconnect_all(self) -> None:
        """The running request's app, and those queued, get http.disconnect (and may write
        nothing more); the queued ones are never started."""
        cycles = [self._active, self.cycle, *(cycle for cycle, _ in self.pipeline)]
        self.pipeline.clear()
        for cycle in {id(c): c for c in cycles if c is not None}.values():
            if not cycle.response_complete:
                cycle.disconnected = True
                cycle.keep_alive = False
                cycle.message_event.set()

    def _cancel_write_timer(self) -> None:
        if self._write_timer is not None:
            self._write_timer.cancel()
            self._write_timer = None

    def _cancel_request_timer(self) -> None:
        if self._request_timer is not None:
            self._request_timer.cancel()
            self._request_timer = None


# httptools raises its callback error for our _Refused; make sure that stays a parser error.
assert issubclass(httptools.HttpParserCallbackError, httptools.HttpParserError)
