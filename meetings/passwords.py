"""Password hashing with Argon2id (memory-hard), via argon2-cffi.

One Argon2 check costs ~0.4 s of CPU here: run on the event loop it would freeze every
meeting's media for that long per login attempt. The async functions run it in a pool of its
own with one thread at the lowest CPU priority, so it takes at most one of the machine's
cores whatever the number of attempts and never delays the loop's thread, and refuse (:class:`PasswordCheckBusy`) once :data:`MAX_PENDING` checks wait: a
flood of logins gets "busy, try again" instead of a queue minutes long.
"""
from __future__ import annotations

import asyncio
import os
import threading
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# OWASP's Argon2id minimum (19 MiB, 2 passes, 1 lane): ~0.1 s of one core. argon2-cffi's
# default (4 lanes) runs four threads per check, so even one pool thread took every core.
_hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
# Verifying against this when a user does not exist keeps the timing of
# "unknown user" and "wrong password" alike, so names cannot be probed.
_DUMMY_HASH = _hasher.hash("hoinghi-dummy-password")

MIN_PASSWORD_LENGTH = 8


class WeakPasswordError(ValueError):
    pass


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPasswordError(f"password must have at least {MIN_PASSWORD_LENGTH} characters")
    return _hasher.hash(password)


def needs_rehash(password_hash: str) -> bool:
    """Stored with other parameters than :data:`_hasher`'s (an older default): rehash on login."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return False


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


MAX_PENDING = 32


def _lowest_priority() -> None:
    """The hashing thread yields the CPU to the event loop's (Linux: nice applies per thread)."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
    except (AttributeError, OSError):  # not Linux: the single thread is the bound
        pass


_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hoinghi-argon2", initializer=_lowest_priority)
_pending = 0


class PasswordCheckBusy(RuntimeError):
    """Too many password checks are waiting; the caller should answer "try again later"."""


async def _in_pool(function, *args):  # type: ignore[no-untyped-def]
    global _pending
    if _pending >= MAX_PENDING:
        raise PasswordCheckBusy(f"{_pending} password checks are already waiting")
    _pending += 1
    try:
        return await asyncio.get_running_loop().run_in_executor(_pool, function, *args)
    finally:
        _pending -= 1


async def hash_password_off_loop(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:  # refused before queueing
        raise WeakPasswordError(f"password must have at least {MIN_PASSWORD_LENGTH} characters")
    return await _in_pool(hash_password, password)


async def verify_password_off_loop(password_hash: str | None, password: str) -> bool:
    return await _in_pool(verify_password, password_hash, password)
