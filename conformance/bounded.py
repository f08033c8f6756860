"""Bounds on what a target can make the suite do: every request has an overall deadline (the
whole answer, not each read: a server trickling one byte every few seconds is cut off), every
answer is read up to a stated size (streamed, never buffered past it), and every check has a
deadline of its own, the run one too. What a target sends can cost the suite no more than this.

    MAX_ANSWER_BYTES   8 MiB   the most of one answer's body read (Swagger UI's bundle is ~1.5 MiB)
    REQUEST_DEADLINE   30 s    one request: connect, send, the whole answer
    CHECK_DEADLINE     120 s   one case of a check (a timing check makes many requests)
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar

import httpx
import pytest

MAX_ANSWER_BYTES = 8 * 1024 * 1024
REQUEST_DEADLINE = 30.0
CHECK_DEADLINE = 120.0

P = ParamSpec("P")
R = TypeVar("R")


class AnswerTooLarge(httpx.TransportError):
    """The answer's body passed the size the suite reads: it was read no further."""


class AnswerTooSlow(httpx.TransportError):
    """The whole answer did not come within the request's deadline."""


class BoundedTransport(httpx.AsyncBaseTransport):
    """A transport that gives each request `deadline` seconds for the whole exchange and reads
    at most `limit` bytes of a body; the answer is returned read (no stream is left open)."""

    def __init__(
        self,
        inner: httpx.AsyncBaseTransport | None = None,
        *,
        deadline: float = REQUEST_DEADLINE,
        limit: int = MAX_ANSWER_BYTES,
    ) -> None:
        self.inner = inner if inner is not None else httpx.AsyncHTTPTransport()
        self.deadline = deadline
        self.limit = limit

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            async with asyncio.timeout(self.deadline):
                response = await self.inner.handle_async_request(request)
                body = bytearray()
                try:
                    async for chunk in response.stream:  # type: ignore[union-attr]
                        body += chunk
                        if len(body) > self.limit:
                            raise AnswerTooLarge(
                                f"the answer's body passed {self.limit} bytes "
                                "(the most the suite reads): read no further",
                                request=request,
                            )
                finally:
                    await response.aclose()
        except TimeoutError:
            raise AnswerTooSlow(
                f"no whole answer within {self.deadline:g} s (the request's deadline)",
                request=request,
            ) from None
        return httpx.Response(
            status_code=response.status_code,
            headers=response.headers,
            content=bytes(body),
            extensions=response.extensions,
            request=request,
        )

    async def aclose(self) -> None:
        await self.inner.aclose()


def bounded_client(base_url: str, **kwargs: Any) -> httpx.AsyncClient:
    """An httpx client of a live target with the suite's bounds."""
    deadline = kwargs.pop("deadline", REQUEST_DEADLINE)
    limit = kwargs.pop("limit", MAX_ANSWER_BYTES)
    transport = BoundedTransport(deadline=deadline, limit=limit)
    timeout = kwargs.pop("timeout", httpx.Timeout(deadline, connect=min(10.0, deadline)))
    return httpx.AsyncClient(base_url=base_url, transport=transport, timeout=timeout, **kwargs)


async def read_bounded(
    reader: asyncio.StreamReader,
    timeout: float = REQUEST_DEADLINE,  # noqa: ASYNC109 (the overall deadline, as wait_for's)
    limit: int = MAX_ANSWER_BYTES,
    *,
    partial: bool = False,
) -> bytes:
    """Read until the peer closes, `limit` bytes at most, within `timeout` seconds overall.
    When time runs out: what came so far if `partial`, else an AnswerTooSlow."""
    data = bytearray()
    try:
        async with asyncio.timeout(timeout):
            while len(data) < limit:
                chunk = await reader.read(min(65536, limit - len(data)))
                if not chunk:
                    break
                data += chunk
    except TimeoutError:
        if not partial:
            got = f"{len(data)} bytes" if data else "nothing"
            raise AnswerTooSlow(f"no whole answer within {timeout:g} s (got {got})") from None
    except ConnectionError:
        pass  # reset part-way: what matters is what came back
    return bytes(data)


def describe_bytes(data: bytes, limit: int = 300) -> str:
    if not data:
        return "nothing (the connection closed without an answer)"
    text = repr(data[:limit])
    return text + (f"… ({len(data)} bytes)" if len(data) > limit else "")


def with_deadline(
    func: Callable[P, Awaitable[R]], seconds: float, run_ends: float | None = None
) -> Callable[P, Awaitable[R]]:
    """An async check that fails, saying so, when it runs past `seconds` (or the run's end, a
    time.monotonic() value): its verdict is then "timed out", not a hang."""

    @functools.wraps(func)
    async def bounded(*args: P.args, **kwargs: P.kwargs) -> R:
        budget = seconds
        if run_ends is not None:
            budget = min(budget, run_ends - time.monotonic())
            if budget <= 0:
                pytest.skip("blocked: the run's deadline passed before this check ran")
        started = time.monotonic()
        try:
            return await asyncio.wait_for(func(*args, **kwargs), budget)
        except TimeoutError:
            if time.monotonic() - started < budget - 0.05:
                raise  # the check's own timeout, not the deadline
            whose = "its" if budget == seconds else "the run's remaining"
            pytest.fail(f"timed out: the check ran out of {whose} {budget:.0f} s deadline")

    return bounded
