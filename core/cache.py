"""A small bounded cache with a time-to-live, for store reads on the authentication path.

An entry is reused for `ttl` seconds after it was loaded, then loaded again; at most `size`
entries are kept (least recently used first out). Concurrent misses for one key share one load,
so a burst of requests for a user who just dropped out of the cache makes one store query.
A failed load (store down) is not cached: every waiter sees the error, the next call retries.
`ttl=0` disables the cache: every call loads.

A miss yields to the event loop (`asyncio.sleep(0)`) before anything else: up to that point a
read touches nothing that belongs to the loop, which is what lets core.sync run a read in a
WSGI worker thread and hand it to the loop only there. `fresh` may be called from such threads
too: each of its steps is one dict operation, and an entry evicted between two is no error.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class TTLCache(Generic[K, V]):
    def __init__(self, ttl: float, size: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.size = size
        self._clock = clock
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()
        self._loading: dict[K, asyncio.Future[V]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def fresh(self, key: K) -> tuple[V] | None:
        """The cached value, boxed, while it is fresh; None when `get` would have to load.
        (A plain call, not a coroutine: the hot path of a read awaits nothing.)"""
        entry = self._entries.get(key)
        if entry is not None and entry[0] > self._clock():
            try:  # noqa: SIM105 (a try costs nothing on a hit; contextlib.suppress would)
                self._entries.move_to_end(key)
            except KeyError:  # evicted meanwhile, by another thread
                pass
            return (entry[1],)
        return None

    async def get(self, key: K, load: Callable[[K], Awaitable[V]]) -> V:
        """The value for `key`, from the cache or from `load(key)`."""
        hit = self.fresh(key)
        if hit is not None:
            return hit[0]
        # The miss's checkpoint (see the module's docstring); then the value may be there.
        await asyncio.sleep(0)
        if not self.ttl:
            return await load(key)
        hit = self.fresh(key)
        if hit is not None:
            return hit[0]
        pending = self._loading.get(key)
        if pending is not None:
            try:
                return await asyncio.shield(pending)
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if pending.cancelled() and task is not None and not task.cancelling():
                    return await load(key)  # the loader's request went away, not ours
                raise
        future: asyncio.Future[V] = asyncio.get_running_loop().create_future()
        self._loading[key] = future
        try:
            value = await load(key)
        except asyncio.CancelledError:
            future.cancel()
            raise
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning without waiters
            raise
        else:
            future.set_result(value)
            self._entries[key] = (self._clock() + self.ttl, value)
            self._entries.move_to_end(key)
            if len(self._entries) > self.size:
                self._entries.popitem(last=False)
            return value
        finally:
            del self._loading[key]
