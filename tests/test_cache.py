"""The TTL cache of store reads: lifetime, bound, one load per burst, failures not cached."""

from __future__ import annotations

import asyncio

import pytest

from core.cache import TTLCache
from core.errors import StoreUnavailable


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Loader:
    """Counts loads; returns a new value each time, so a reused value is visible."""

    def __init__(self, delay: float = 0.0) -> None:
        self.calls = 0
        self.delay = delay

    async def __call__(self, key: str) -> str:
        self.calls += 1
        await asyncio.sleep(self.delay)
        return f"value-{self.calls}"


async def test_reused_within_ttl_then_loaded_again() -> None:
    clock, load = Clock(), Loader()
    cache: TTLCache[str, str] = TTLCache(3.0, 10, clock)
    assert await cache.get("bob", load) == "value-1"
    clock.now += 2.9
    assert await cache.get("bob", load) == "value-1"
    clock.now += 0.2  # 3.1 s after the load
    assert await cache.get("bob", load) == "value-2"
    assert load.calls == 2


async def test_ttl_zero_disables() -> None:
    load = Loader()
    cache: TTLCache[str, str] = TTLCache(0, 10)
    assert [await cache.get("bob", load) for _ in range(3)] == ["value-1", "value-2", "value-3"]
    assert len(cache) == 0


async def test_bounded_least_recently_used_first_out() -> None:
    clock = Clock()
    cache: TTLCache[str, str] = TTLCache(60, 2, clock)
    loads = {name: Loader() for name in "abc"}
    await cache.get("a", loads["a"])
    await cache.get("b", loads["b"])
    await cache.get("a", loads["a"])  # a used last
    await cache.get("c", loads["c"])  # evicts b
    assert len(cache) == 2
    await cache.get("a", loads["a"])
    await cache.get("b", loads["b"])
    assert (loads["a"].calls, loads["b"].calls, loads["c"].calls) == (1, 2, 1)


async def test_concurrent_misses_share_one_load() -> None:
    load = Loader(delay=0.02)
    cache: TTLCache[str, str] = TTLCache(60, 10)
    values = await asyncio.gather(*(cache.get("bob", load) for _ in range(50)))
    assert values == ["value-1"] * 50
    assert load.calls == 1


async def test_failed_load_is_not_cached() -> None:
    cache: TTLCache[str, str] = TTLCache(60, 10)
    calls = 0

    async def failing(key: str) -> str:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        raise StoreUnavailable("down")

    results = await asyncio.gather(
        *(cache.get("bob", failing) for _ in range(3)), return_exceptions=True
    )
    assert all(isinstance(result, StoreUnavailable) for result in results)
    assert calls == 1
    assert len(cache) == 0
    assert await cache.get("bob", Loader()) == "value-1"  # the next call retries


async def test_waiters_load_themselves_when_the_loader_is_cancelled() -> None:
    cache: TTLCache[str, str] = TTLCache(60, 10)
    slow, fast = Loader(delay=10), Loader()
    first = asyncio.create_task(cache.get("bob", slow))
    await asyncio.sleep(0)
    second = asyncio.create_task(cache.get("bob", fast))
    await asyncio.sleep(0)
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    assert await second == "value-1"
    assert fast.calls == 1


async def test_fresh_reads_without_loading() -> None:
    clock, load = Clock(), Loader()
    cache: TTLCache[str, str] = TTLCache(3.0, 10, clock)
    assert cache.fresh("bob") is None
    await cache.get("bob", load)
    assert cache.fresh("bob") == ("value-1",)
    clock.now += 3.0
    assert cache.fresh("bob") is None  # stale: get() would load again
    assert load.calls == 1


async def test_a_miss_filled_while_it_yielded_is_not_loaded_again() -> None:
    # Each miss first yields to the loop (core.sync hands a read over there); a load that ended
    # meanwhile serves it.
    calls = 0

    async def instant(key: str) -> str:
        nonlocal calls
        calls += 1
        return f"value-{calls}"

    cache: TTLCache[str, str] = TTLCache(60, 10)
    assert await asyncio.gather(cache.get("bob", instant), cache.get("bob", instant)) == [
        "value-1",
        "value-1",
    ]
    assert calls == 1
