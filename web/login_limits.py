"""Growing delays after failed logins, per account and per address (passwords and tokens).

Why not a library's fixed window (``limits``, ``aiolimiter``): what is wanted is not N
requests per minute but "the first few mistakes are free, then each further one doubles the
wait", remembered per key and forgotten on success, which is a dozen lines. Checked before any
password hashing, so a refused attempt costs the server nothing. The per-account delay also
slows a person whose account someone else is guessing; the delay is capped (15 minutes) and a
successful login from the rightful owner, once the wait is over, clears it.
"""
from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

FIRST_DELAY = 1.0  # seconds, after the free attempts; doubles with every further failure
MAX_DELAY = 900.0
MAX_KEYS = 100_000  # least recently failed keys are forgotten beyond this (memory bound)


@dataclass
class _Failures:
    count: int = 0
    blocked_until: float = 0.0


class LoginLimiter:
    def __init__(self, free_attempts: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.free_attempts = free_attempts
        self._clock = clock
        self._keys: OrderedDict[str, _Failures] = OrderedDict()

    def retry_after(self, *keys: str) -> int:
        """Seconds the caller must still wait (0: go ahead), the longest over ``keys``."""
        now = self._clock()
        wait = max((self._keys[k].blocked_until - now for k in keys if k in self._keys), default=0.0)
        return max(0, int(wait + 0.999))

    def failed(self, *keys: str) -> int:
        """Record a failure for each key; return the wait now imposed (seconds, 0: none)."""
        now = self._clock()
        for key in keys:
            record = self._keys.pop(key, None) or _Failures()
            record.count += 1
            extra = record.count - self.free_attempts
            if extra > 0:
                record.blocked_until = now + min(MAX_DELAY, FIRST_DELAY * 2 ** min(extra - 1, 20))
            self._keys[key] = record
        while len(self._keys) > MAX_KEYS:
            self._keys.popitem(last=False)
        return self.retry_after(*keys)

    def succeeded(self, *keys: str) -> None:
        for key in keys:
            self._keys.pop(key, None)


MAX_IN_PROGRESS = 16
"""Logins past the cheap checks at once (database look-up, Argon2): beyond, "busy" at once.
Each costs the event loop a few milliseconds besides the hashing; a burst of hundreds admitted
together would queue every media packet behind them."""


class LoginLimits:
    """The two limiters a login checks: the account (or bridge-point token) tried, and the
    address it came from (four times the free attempts: an office's NAT is one address);
    and how many logins are being checked right now."""

    def __init__(self, free_attempts: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.accounts = LoginLimiter(free_attempts, clock)
        self.addresses = LoginLimiter(4 * free_attempts, clock)
        self.in_progress = 0

    def admit(self) -> bool:
        """Take a place among the logins in progress (False: all taken); :meth:`done` frees it."""
        if self.in_progress >= MAX_IN_PROGRESS:
            return False
        self.in_progress += 1
        return True

    def done(self) -> None:
        self.in_progress -= 1

    def retry_after(self, account: str | None, address: str) -> int:
        waits = [self.addresses.retry_after(address)]
        if account is not None:
            waits.append(self.accounts.retry_after(account))
        return max(waits)

    def failed(self, account: str | None, address: str) -> int:
        waits = [self.addresses.failed(address)]
        if account is not None:
            waits.append(self.accounts.failed(account))
        return max(waits)

    def succeeded(self, account: str | None) -> None:
        if account is not None:
            self.accounts.succeeded(account)
