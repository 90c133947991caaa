"""glibc malloc settings, checked in child processes through glibc and /proc."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from consumers.native_memory import MallocTrimmer, limit_malloc_arenas

# Starts eight threads that each allocate and stay alive until all have
# (glibc reuses the arena of a thread that ended), then prints glibc's
# per-arena report, one "Arena N:" line per arena, to stderr.
_CHILD = """
import ctypes, sys, threading
from consumers.native_memory import MallocTrimmer, limit_malloc_arenas
print(limit_malloc_arenas(int(sys.argv[1])))
barrier = threading.Barrier(8)
def allocate():
    allocated = [bytes(2000) for _ in range(100)]
    barrier.wait()
threads = [threading.Thread(target=allocate) for _ in range(8)]
for t in threads: t.start()
for t in threads: t.join()
ctypes.CDLL(None).malloc_stats()
"""


def arenas_after_threads(
    cap: int, env: dict[str, str] | None = None
) -> tuple[str, int]:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(cap)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    return done.stdout.strip(), done.stderr.count("Arena ")


glibc = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="glibc's malloc is Linux-only here"
)


@glibc
def test_cap_bounds_the_arenas_of_new_threads() -> None:
    set_, arenas = arenas_after_threads(2)
    assert set_ == "True"
    assert 1 <= arenas <= 2


@glibc
def test_without_cap_threads_get_arenas_of_their_own() -> None:
    # The control: proves the report counts arenas, so the cap test can fail.
    set_, arenas = arenas_after_threads(0)
    assert set_ == "False"
    assert arenas > 2


@glibc
def test_environment_variable_wins() -> None:
    env = {**os.environ, "MALLOC_ARENA_MAX": "3"}
    set_, arenas = arenas_after_threads(1, env)
    assert set_ == "False"
    assert arenas <= 3


def test_zero_leaves_malloc_alone() -> None:
    assert limit_malloc_arenas(0) is False


# Allocates about 100 MB in blocks that go to the heap (not mmap), keeps one
# block allocated after them so glibc cannot trim the top, frees the rest and
# prints RSS in kB before and after `trim_malloc`.
_TRIM_CHILD = """
from consumers.native_memory import trim_malloc
def rss():
    with open('/proc/self/status') as f:
        return next(int(l.split()[1]) for l in f if l.startswith('VmRSS'))
blocks = [bytes(4000) for _ in range(25_000)]
pin = bytes(4000)
del blocks
before = rss()
released = trim_malloc()
print(before, rss(), released)
"""


@glibc
def test_trim_returns_freed_heap_pages() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _TRIM_CHILD],
        capture_output=True,
        text=True,
        check=True,
    )
    before, after, released = done.stdout.split()
    assert released == "True"
    # About 100 MB were freed: most of it must leave the resident set.
    assert int(before) - int(after) > 60_000


@glibc
def test_trimmer_trims_until_stopped() -> None:
    trimmer = MallocTrimmer(0.01)
    assert trimmer.start() is True
    deadline = time.monotonic() + 5
    while trimmer.trims < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    trimmer.stop()
    count = trimmer.trims
    time.sleep(0.05)
    assert count >= 3
    assert trimmer.trims == count


def test_trimmer_with_zero_interval_starts_nothing() -> None:
    trimmer = MallocTrimmer(0)
    assert trimmer.start() is False
    trimmer.stop()


@pytest.mark.parametrize("interval", [-1.0, float("nan"), float("inf")])
def test_trimmer_rejects_bad_interval(interval: float) -> None:
    with pytest.raises(ValueError, match="must be finite and >= 0"):
        MallocTrimmer(interval)
