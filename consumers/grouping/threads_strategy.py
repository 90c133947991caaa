"""The threads strategy: the stack trace of the one thread that matters.

That thread is the single crashed thread, else the single current thread,
else the only thread. Any other shape of the thread list does not contribute.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from consumers.grouping.component import Component
from consumers.grouping.enhancements import Enhancements
from consumers.grouping.prepared_frames import (
    make_exception_data,
    prepare_stacktrace,
)
from consumers.grouping.stacktrace import stacktrace_variants

Variants = dict[str, Component]

_NO_EXCEPTION = make_exception_data(None)


def threads_variants(
    threads: Sequence[Any],
    platform: str | None,
    enhancements: Enhancements,
    *,
    hints: bool = True,
) -> Variants:
    """Return the ``threads`` component per variant."""
    values = [thread for thread in threads if isinstance(thread, Mapping)]
    crashed = [thread for thread in values if thread.get("crashed")]
    current = [thread for thread in values if thread.get("current")]
    for candidates in (crashed, current, values):
        if len(candidates) == 1:
            return _thread_variants(candidates[0], platform, enhancements, hints)
    hint = (
        "ignored because it contains neither a single thread nor multiple threads "
        "with exactly one crashing or current thread; instead contains "
        f"{len(crashed)} crashing, {len(current)} current, and {len(values)} total "
        "threads"
    )
    return {"app": Component("threads", contributes=False, hint=hint)}


def _thread_variants(
    thread: Mapping[str, Any],
    platform: str | None,
    enhancements: Enhancements,
    hints: bool,
) -> Variants:
    stacktrace = thread.get("stacktrace")
    if not isinstance(stacktrace, Mapping) or not stacktrace:
        return {
            "app": Component(
                "threads",
                contributes=False,
                hint="ignored because thread has no stacktrace",
            )
        }
    prepared = prepare_stacktrace(
        stacktrace.get("frames") or [], platform, _NO_EXCEPTION, enhancements
    )
    return {
        variant: Component("threads", [component])
        for variant, component in stacktrace_variants(
            prepared, enhancements, hints=hints
        ).items()
    }


def stacktrace_only_variants(
    stacktrace: Mapping[str, Any],
    platform: str | None,
    enhancements: Enhancements,
    *,
    hints: bool = True,
) -> Variants:
    """Return the ``stacktrace`` component per variant of the event's stack trace."""
    prepared = prepare_stacktrace(
        stacktrace.get("frames") or [], platform, _NO_EXCEPTION, enhancements
    )
    return stacktrace_variants(prepared, enhancements, hints=hints)
