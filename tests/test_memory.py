"""web/memory.py: freed memory goes back to the system (real glibc malloc, real resident pages)."""
from __future__ import annotations

import ctypes
import os

import pytest

from web import memory

PAGE = os.sysconf("SC_PAGE_SIZE")


def resident_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE / 2**20


@pytest.mark.skipif(memory.MALLOC_TRIM is None, reason="this C library has no malloc_trim")
async def test_memory_freed_inside_the_heap_goes_back_to_the_system() -> None:
    libc = ctypes.CDLL("libc.so.6")
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    blocks = [libc.malloc(4096) for _ in range(16_000)]  # 64 MB in small blocks, below mmap's threshold
    for block in blocks:
        ctypes.memset(block, 1, 4096)  # touched: resident
    pin = libc.malloc(4096)  # above them all, so free() cannot give the space back by itself
    for block in blocks:
        libc.free(block)
    before = resident_mb()
    assert await memory.release_free_memory()
    after = resident_mb()
    libc.free(pin)
    assert before - after > 40, f"resident {before:.0f} MB -> {after:.0f} MB"


async def test_the_server_trims_from_start_up_to_shutdown(server) -> None:  # type: ignore[no-untyped-def]
    task = server.app[memory.TRIM_TASK]
    assert not task.done(), "the trimming task ended at start-up"
    assert task.get_name() == "hoinghi-memory-trim"
