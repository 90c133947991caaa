"""Threads, message, template and security strategies, and their precedence."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Any

from consumers.grouping import GroupingResult

GroupFn = Callable[..., GroupingResult]
FindFn = Callable[[Mapping[str, Any], str], list[Mapping[str, Any]]]


def thread(name: str, **flags: Any) -> dict[str, Any]:
    frames = [{"function": name, "module": "shop", "in_app": True}]
    return {"id": name, "stacktrace": {"frames": frames}, **flags}


def functions(result: GroupingResult, find: FindFn) -> list[Any]:
    tree = result.grouping_info()["app"]["component"]
    return [f["values"][0] for f in find(tree, "function")]


def test_threads_prefers_crashed_thread(group: GroupFn, find: FindFn) -> None:
    event = {
        "threads": {
            "values": [thread("idle", current=True), thread("worker", crashed=True)]
        }
    }
    assert functions(group(event), find) == ["worker"]


def test_threads_uses_current_thread(group: GroupFn, find: FindFn) -> None:
    event = {"threads": {"values": [thread("idle"), thread("main", current=True)]}}
    assert functions(group(event), find) == ["main"]


def test_threads_without_a_choice_do_not_contribute(
    group: GroupFn, find: FindFn
) -> None:
    result = group({"threads": {"values": [thread("a"), thread("b")]}})
    threads = find(result.grouping_info()["app"]["component"], "threads")[0]
    assert threads["contributes"] is False
    assert threads["hint"].startswith(
        "ignored because it contains neither a single thread"
    )


def test_message_is_parameterized(group: GroupFn) -> None:
    first = group({"message": "Order 1234 failed for 10.0.0.1"})
    second = group({"message": "Order 98 failed for 10.0.0.7"})
    assert first.primary_hash == second.primary_hash
    default = first.grouping_info()["default"]["component"]["values"][0]
    assert default["values"] == ["Order <int> failed for <ip>"]


def test_message_template_is_preferred(group: GroupFn) -> None:
    event = {
        "logentry": {
            "message": "Order %s failed",
            "params": ["1"],
            "formatted": "Order 1 failed",
        }
    }
    default = group(event).grouping_info()["default"]["component"]["values"][0]
    assert default["values"] == ["Order %s failed"]


def test_exception_takes_precedence_over_message(group: GroupFn) -> None:
    event = {
        "message": "something broke",
        "exception": {
            "values": [
                {
                    "type": "E",
                    "value": "x",
                    "stacktrace": {
                        "frames": [{"function": "f", "module": "m", "in_app": True}]
                    },
                }
            ]
        },
    }
    info = group(event).grouping_info()
    assert info["default"]["hash"] is None
    assert info["default"]["hint"] == "ignored because app exception takes precedence"


def test_template_groups_by_file_and_line(group: GroupFn) -> None:
    event = {
        "template": {
            "filename": "/srv/views/cart.html",
            "context_line": "{{ cart.total }}",
            "lineno": 3,
        }
    }
    result = group(event)
    expected = hashlib.md5(b"cart.html{{ cart.total }}").hexdigest()
    assert result.primary_hash == expected


def test_csp_groups_by_directive_and_origin(group: GroupFn) -> None:
    def csp(uri: str) -> dict[str, Any]:
        return {
            "csp": {
                "effective_directive": "img-src",
                "blocked_uri": uri,
                "document_uri": "https://shop.example/",
            }
        }

    first = group(csp("https://cdn.example.com/a.png"))
    second = group(csp("https://cdn.example.com/b.png"))
    assert first.primary_hash == second.primary_hash
    assert first.primary_hash == hashlib.md5(b"img-srccdn.example.com").hexdigest()


def test_csp_inline_script_uses_violation(group: GroupFn, find: FindFn) -> None:
    report = {
        "effective_directive": "script-src",
        "violated_directive": "script-src 'self' 'unsafe-inline'",
        "blocked_uri": "self",
    }
    tree = group({"csp": report}).grouping_info()["default"]["component"]
    assert find(tree, "violation")[0]["values"] == ["'unsafe-inline'"]
    assert find(tree, "uri")[0]["contributes"] is False
