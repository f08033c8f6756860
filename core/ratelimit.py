"""H12 brute-force protection: failed logins counted per username and per client address.

Reserve, then check: before any password check a login adds one attempt to the counter of its
username and of its client address (`UserStore.add_attempt`, one atomic transaction in the
store's database, so every instance sharing the database shares the counters). If either
counter has already reached its limit, nothing is counted, nor written (the store tells it from
a read), and the login is refused with `TooManyAttempts` (429) without a password check.
Otherwise the password is checked; a failure keeps its count, and anything else (a success, a
503 from the login queue, a store fault) takes it back (`remove_attempt`; a counter back at 0
is deleted, so the table holds only counters of failures): a failure is a password check that
ran and did not succeed. Because the attempt is counted before its check, N concurrent wrong
logins for one username never get more than the limit through to the password check.

Keys: `user:<HMAC>` of the username exactly as sent (known, unknown, outside the canonical form
or 60 KiB long: one key shape, one cost, so neither the answer nor its timing says whether the
user exists; keyed by a sub-key of the app's secret so that the table never holds what someone
typed, which may be a password typed into the wrong field), and `addr:<address>` of the client
address: an IPv4 address, or the /64 of an IPv6 one (one host usually holds a whole /64).

The client address is the ASGI peer (`scope["client"]`); X-Forwarded-For is read only when the
peer is one of `ARENA_TRUSTED_PROXIES`, and then the right-most address in it that is not a
trusted proxy is the client (what the nearest untrusted hop was seen as): nobody can choose
their address by sending the header. uvicorn's own --proxy-headers rewriting is off in
`core.server`, so the peer is the TCP peer.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from core.errors import StoreUnavailable, TooManyAttempts
from core.settings import Network, Settings
from core.stores import UserStore
from core.stores.base import AttemptsRefused

logger = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
#: Expired counters are deleted at most this often per instance (not on every request).
PURGE_INTERVAL = 60.0
#: The prefix that one IPv6 client is counted by.
IPV6_PREFIX = 64
_KEY_LABEL = b"scopes-arena H12 login-attempt key"


class Peer(NamedTuple):
    """Where a login came from, as raw as the adapter can give it: the ASGI `client` host and
    every X-Forwarded-For header value. Which of it is the client's address is core's call."""

    host: str | None = None
    forwarded_for: tuple[str, ...] = ()

    @classmethod
    def of(cls, client: Sequence[Any] | None, forwarded_for: Iterable[str] = ()) -> Peer:
        host = client[0] if client else None
        return cls(host if isinstance(host, str) else None, tuple(forwarded_for))


def parse_address(text: str) -> IPAddress | None:
    """An IP address as a peer or an X-Forwarded-For entry gives it (`1.2.3.4`, `::1`,
    `[::1]`, `[::1]:80`, `1.2.3.4:80`); an IPv4-mapped IPv6 address as the IPv4 one."""
    text = text.strip()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def client_address(peer: Peer, trusted: Sequence[Network] = ()) -> str | None:
    """The client's address as text, None when the peer gave none. X-Forwarded-For counts only
    from a trusted peer: walking it from the right, each trusted proxy hands on to the entry
    before it; the first untrusted entry is the client. An entry that is no address ends the
    walk at the last hop known (a trusted proxy would not have written it)."""
    if peer.host is None:
        return None
    address = parse_address(peer.host)
    if address is None:
        return peer.host  # not an IP peer (a Unix socket, a test client's name)
    if trusted and peer.forwarded_for:
        hops = [hop for value in peer.forwarded_for for hop in value.split(",") if hop.strip()]
        while _trusted(address, trusted) and hops:
            forwarded = parse_address(hops.pop())
            if forwarded is None:
                break
            address = forwarded
    return str(address)


def _trusted(address: IPAddress, trusted: Sequence[Network]) -> bool:
    return any(address.version == net.version and address in net for net in trusted)


def address_key(address: str) -> str:
    parsed = parse_address(address)
    if isinstance(parsed, ipaddress.IPv6Address):
        return f"addr:{ipaddress.IPv6Network((parsed, IPV6_PREFIX), strict=False)}"
    if parsed is not None:
        return f"addr:{parsed}"
    # Not an IP: bounded in length whatever it is.
    return f"addr:name:{hashlib.sha256(address.encode('utf-8', 'surrogatepass')).hexdigest()}"


@dataclass(frozen=True, slots=True)
class Reservation:
    """One login's counted attempt: which counters, in which windows (to take it back)."""

    keys: tuple[str, ...]
    window_starts: tuple[float, ...]


class LoginLimiter:
    """H12 for one Arena: `reserve` before the password check, `release` unless it failed."""

    def __init__(
        self,
        settings: Settings,
        secret: Callable[[], bytes],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.enabled = settings.login_rate_limit
        self.per_username = settings.login_failures_per_username
        self.per_address = settings.login_failures_per_address
        self.window = settings.login_failure_window
        self.trusted = settings.trusted_proxies
        #: Wall-clock seconds: windows are stored and compared across instances.
        self.clock = clock
        self._secret = secret
        self._hmac_key: bytes | None = None
        self._next_purge = 0.0

    def username_key(self, username: str) -> str:
        if self._hmac_key is None:  # the app's key is read on first use, not at import (H10)
            self._hmac_key = hmac.new(self._secret(), _KEY_LABEL, hashlib.sha256).digest()
        name = username.encode("utf-8", "surrogatepass")  # a lone surrogate is a name too
        return "user:" + hmac.new(self._hmac_key, name, hashlib.sha256).hexdigest()

    def limits(self, username: str, peer: Peer | None) -> list[tuple[str, int]]:
        """The counters a login from `peer` for `username` adds to, with their limits."""
        keys = [(self.username_key(username), self.per_username)]
        address = None if peer is None else client_address(peer, self.trusted)
        if address is not None:  # no address known (a Unix socket): the username's limit only
            keys.append((address_key(address), self.per_address))
        return keys

    async def reserve(self, store: UserStore, username: str, peer: Peer | None) -> Reservation:
        """Count this login; TooManyAttempts (nothing counted) when a counter is over its limit.
        A store that cannot be reached raises StoreUnavailable (503): never a login unchecked."""
        if not self.enabled:
            return Reservation((), ())
        now = self.clock()
        await self._purge(store, now)
        limits = self.limits(username, peer)
        keys = tuple(key for key, _ in limits)
        try:
            counted = await store.add_attempt(
                keys, now, self.window, [limit for _, limit in limits]
            )
        except AttemptsRefused as refused:
            # Refused before any check: not a failure, and nothing was counted or written.
            over = [
                attempt
                for (_, limit), attempt in zip(limits, refused.attempts, strict=True)
                if attempt.count >= limit
            ]
            ends = max((attempt.window_start for attempt in over), default=now) + self.window
            raise TooManyAttempts(max(1, math.ceil(ends - now))) from None
        return Reservation(keys, tuple(attempt.window_start for attempt in counted))

    async def release(self, store: UserStore, reservation: Reservation) -> None:
        """Take a counted attempt back: the login did not fail its password check."""
        if reservation.keys:
            await store.remove_attempt(reservation.keys, reservation.window_starts)

    async def _purge(self, store: UserStore, now: float) -> None:
        if now < self._next_purge:
            return
        self._next_purge = now + min(PURGE_INTERVAL, self.window)
        try:
            purged = await store.purge_attempts(now - self.window)
        except StoreUnavailable:
            return  # add_attempt will meet it too and answer 503; purging can wait
        if purged:
            logger.debug("purged %d expired login-attempt counters", purged)
