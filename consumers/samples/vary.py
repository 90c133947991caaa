"""Derive many distinct issues from one SDK-generated event, fast.

The benchmark needs 10k to 1M groups; running the SDK for each would take
minutes, so `vary_event` rewrites a captured event instead. Variation `n`
renames the in-app frames' functions and modules, shortens the exception
chain and tags the messages, so distinct `n` give distinct grouping hashes
whenever the event has a contributing frame or a message.
"""

from __future__ import annotations

import uuid
from typing import Any

# Fixed namespace, so the id of variation n of an event is stable across runs.
_EVENT_ID_NAMESPACE = uuid.UUID("7d5c2a4e-4f0b-4e0e-9a51-3c1c8b9e6a10")
# Module renames cycle through this many names, so modules repeat across
# variations the way real applications share modules.
_MODULE_CYCLE = 13


def _token(n: int) -> str:
    """Spell `n` in base 26 with letters, after a "v".

    The token uses letters because Sentry's message parameterisation replaces
    numbers (and words such as "true") with placeholders. The "v" keeps the
    token from ever forming such a word on its own.
    """
    letters = ""
    while True:
        n, remainder = divmod(n, 26)
        letters = chr(ord("a") + remainder) + letters
        if n == 0:
            return "v" + letters


def _vary_frames(frames: list[Any], n: int) -> list[Any]:
    in_app = [isinstance(f, dict) and f.get("in_app") is True for f in frames]
    # With no in-app frame the system variant decides the hash: rename all.
    rename_all = not any(in_app)
    token = _token(n)
    varied: list[Any] = []
    for frame, is_app in zip(frames, in_app, strict=True):
        if not isinstance(frame, dict) or not (is_app or rename_all):
            varied.append(frame)
            continue
        frame = dict(frame)
        if isinstance(frame.get("function"), str):
            frame["function"] = f"{frame['function']}_{token}"
        else:
            frame["function"] = f"handler_{token}"
        if isinstance(frame.get("module"), str):
            frame["module"] = f"{frame['module']}_m{n % _MODULE_CYCLE}"
        varied.append(frame)
    return varied


def _vary_stacktrace(container: dict[str, Any], n: int) -> dict[str, Any]:
    stacktrace = container.get("stacktrace")
    if not isinstance(stacktrace, dict) or not isinstance(
        stacktrace.get("frames"), list
    ):
        return container
    varied = dict(container)
    varied["stacktrace"] = {
        **stacktrace,
        "frames": _vary_frames(stacktrace["frames"], n),
    }
    return varied


def _vary_exceptions(exception: Any, n: int) -> Any:
    values = exception.get("values") if isinstance(exception, dict) else exception
    if not isinstance(values, list) or not values:
        return exception
    # Keep the last 1..len(values) exceptions: the main exception is last.
    kept = values[-(1 + n % len(values)) :]
    token = _token(n)
    varied = []
    for value in kept:
        if not isinstance(value, dict):
            varied.append(value)
            continue
        value = _vary_stacktrace(value, n)
        if isinstance(value.get("value"), str):
            value = {**value, "value": f"{value['value']} ({token})"}
        varied.append(value)
    return {**exception, "values": varied} if isinstance(exception, dict) else varied


def vary_event(event: dict[str, Any], n: int) -> dict[str, Any]:
    """Return variation `n` (>= 0) of `event` with its own event id.

    The result is a new dict that shares unchanged nested values with
    `event`: treat both as read-only. Stored `hashes` are dropped, so the
    variation is hashed anew. Raises `ValueError` for a negative `n`.
    """
    if n < 0:
        raise ValueError(f"variation number must be >= 0, got {n}")
    varied = dict(event)
    varied.pop("hashes", None)
    base_id = str(event.get("event_id") or "")
    varied["event_id"] = uuid.uuid5(_EVENT_ID_NAMESPACE, f"{base_id}:{n}").hex
    if "exception" in varied:
        varied["exception"] = _vary_exceptions(varied["exception"], n)
    if isinstance(varied.get("stacktrace"), dict):
        varied = _vary_stacktrace(varied, n)
    threads = varied.get("threads")
    if isinstance(threads, dict) and isinstance(threads.get("values"), list):
        varied["threads"] = {
            **threads,
            "values": [
                _vary_stacktrace(t, n) if isinstance(t, dict) else t
                for t in threads["values"]
            ],
        }
    if isinstance(varied.get("message"), str):
        varied["message"] = f"{varied['message']} ({_token(n)})"
    logentry = varied.get("logentry")
    if isinstance(logentry, dict) and isinstance(logentry.get("formatted"), str):
        varied["logentry"] = {
            **logentry,
            "formatted": f"{logentry['formatted']} ({_token(n)})",
        }
    return varied
