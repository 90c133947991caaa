"""Stack traces: in-app handling, rules, recursion and the stack-level hints."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest

from consumers.grouping import Enhancements, GroupingResult
from consumers.grouping.prepared_frames import make_exception_data, prepare_stacktrace
from consumers.grouping.stacktrace import stacktrace_variants

GroupFn = Callable[..., GroupingResult]
FindFn = Callable[[Mapping[str, Any], str], list[Mapping[str, Any]]]


def python_event(*frames: dict[str, Any]) -> dict[str, Any]:
    return {
        "platform": "python",
        "exception": {
            "values": [
                {
                    "type": "KeyError",
                    "value": "'sku'",
                    "stacktrace": {"frames": list(frames)},
                }
            ]
        },
    }


def app_frame(function: str, **fields: Any) -> dict[str, Any]:
    return {
        "function": function,
        "module": f"shop.{function}",
        "in_app": True,
        **fields,
    }


def lib_frame(function: str, **fields: Any) -> dict[str, Any]:
    return {
        "function": function,
        "module": f"lib.{function}",
        "in_app": False,
        **fields,
    }


def test_app_variant_ignores_system_frames(group: GroupFn, find: FindFn) -> None:
    result = group(python_event(lib_frame("dispatch"), app_frame("checkout")))
    app_frames = find(result.grouping_info()["app"]["component"], "frame")
    assert [f["contributes"] for f in app_frames] == [False, True]
    assert app_frames[0]["hint"] == "marked out of app by the client"
    assert app_frames[1]["hint"] == "marked in-app by the client"


def test_app_and_system_hashes_differ_with_system_frames(group: GroupFn) -> None:
    result = group(python_event(lib_frame("dispatch"), app_frame("checkout")))
    assert result.variants["app"].hash != result.variants["system"].hash
    assert result.hashes == [
        result.variants["app"].hash,
        result.variants["system"].hash,
    ]
    assert result.primary_hash == result.variants["app"].hash


def test_system_duplicate_of_app_is_ignored(group: GroupFn) -> None:
    result = group(python_event(app_frame("checkout")))
    system = result.grouping_info()["system"]
    assert system["hash"] is None
    assert (
        system["component"]["values"][0]["hint"]
        == "ignored because hash matches app variant"
    )


def test_no_in_app_frames_uses_system_variant(group: GroupFn, find: FindFn) -> None:
    result = group(python_event(lib_frame("dispatch"), lib_frame("run")))
    info = result.grouping_info()
    assert info["app"]["hash"] is None
    exception = find(info["app"]["component"], "exception")[0]
    assert exception["hint"] == (
        "ignored because this variant does not have a contributing stacktrace, "
        "but the system variant does"
    )
    stacktrace = find(info["app"]["component"], "stacktrace")[0]
    assert stacktrace["hint"] == "ignored because it contains no in-app frames"
    assert result.primary_hash == info["system"]["hash"]


def test_recursion_is_ignored(group: GroupFn, find: FindFn) -> None:
    repeated = app_frame("walk", lineno=10)
    once = group(python_event(app_frame("start"), repeated))
    twice = group(python_event(app_frame("start"), repeated, dict(repeated)))
    frames = find(twice.grouping_info()["system"]["component"], "frame")
    assert frames[2]["hint"] == "ignored due to recursion"
    assert twice.primary_hash == once.primary_hash


def test_different_lines_are_not_recursion(group: GroupFn, find: FindFn) -> None:
    result = group(
        python_event(app_frame("walk", lineno=10), app_frame("walk", lineno=11))
    )
    frames = find(result.grouping_info()["system"]["component"], "frame")
    assert all(f["contributes"] for f in frames)


def test_rule_marks_frame_in_app(group: GroupFn, find: FindFn) -> None:
    event = {
        "platform": "native",
        "exception": {
            "values": [
                {
                    "type": "EXC_BAD_ACCESS",
                    "stacktrace": {
                        "frames": [
                            {"function": "main", "package": "/app/bin/shop"},
                            {"function": "memcpy", "package": "/usr/lib/libc.so"},
                        ]
                    },
                }
            ]
        },
    }
    result = group(event)
    frames = find(result.grouping_info()["app"]["component"], "frame")
    assert frames[0]["contributes"] is True
    rule = "family:native package:/app/** +app"
    assert frames[0]["hint"] == f"marked in-app by built-in stacktrace rule ({rule})"
    assert frames[1]["hint"] == "non app frame"


def test_rule_marks_module_out_of_app(group: GroupFn, find: FindFn) -> None:
    event = python_event({"function": "f", "module": "vendor.lib", "in_app": True})
    frames = find(group(event).grouping_info()["system"]["component"], "frame")
    assert frames[0]["contributes"] is True
    app_frames = find(group(event).grouping_info()["app"]["component"], "frame")
    assert app_frames[0]["contributes"] is False
    assert (
        app_frames[0]["hint"]
        == "marked out of app by built-in stacktrace rule (module:vendor.* -app)"
    )


def test_group_rule_ignores_frame_and_callers(group: GroupFn, find: FindFn) -> None:
    event = {
        "platform": "native",
        "exception": {
            "values": [
                {
                    "type": "SIGABRT",
                    "stacktrace": {
                        "frames": [
                            {"function": "main", "package": "/app/bin/shop"},
                            {"function": "fail", "package": "/app/bin/shop"},
                            {"function": "abort", "package": "/usr/lib/libc.so"},
                        ]
                    },
                }
            ]
        },
    }
    frames = find(group(event).grouping_info()["system"]["component"], "frame")
    assert [f["contributes"] for f in frames] == [True, True, False]
    assert frames[2]["hint"] == (
        "ignored by built-in stacktrace rule (category:throw ^-group -group)"
    )


def test_stored_event_restores_client_in_app(group: GroupFn, find: FindFn) -> None:
    # A stored event carries the rules' result plus the value the client sent.
    stored = python_event(
        {
            "function": "f",
            "module": "vendor.lib",
            "in_app": False,
            "data": {"orig_in_app": 1},
        }
    )
    fresh = python_event({"function": "f", "module": "vendor.lib", "in_app": True})
    assert group(stored).hashes == group(fresh).hashes


def test_empty_stacktrace_falls_back(group: GroupFn, find: FindFn) -> None:
    result = group({"platform": "python", "stacktrace": {"frames": []}})
    stacktrace = find(result.grouping_info()["system"]["component"], "stacktrace")[0]
    assert stacktrace["hint"] == "ignored because it contains no frames"
    assert result.primary_hash == "d41d8cd98f00b204e9800998ecf8427e"
    assert "fallback" in result.variants


def test_javascript_query_string_is_dropped(group: GroupFn) -> None:
    def event(filename: str) -> dict[str, Any]:
        frame = {
            "function": "render",
            "filename": filename,
            "abs_path": f"/srv/{filename}",
        }
        return {"platform": "javascript", "stacktrace": {"frames": [frame]}}

    assert group(event("app.js?v=1")).hashes == group(event("app.js?v=2")).hashes


APP_ONLY_RULES = """
module:shop.ignored*            -group
function:abort                  ^-group
module:lib.*                    v+group
"""


def _stacktraces() -> list[list[dict[str, Any]]]:
    return [
        [lib_frame("dispatch"), app_frame("checkout")],
        [app_frame("checkout"), app_frame("pay")],
        [lib_frame("dispatch"), lib_frame("run")],
        # In-app frames that the rules ignore: the app variant does not count.
        [lib_frame("dispatch"), app_frame("ignored_cart")],
        [app_frame("checkout"), lib_frame("abort"), app_frame("ignored_pay")],
        [lib_frame("serve"), app_frame("checkout"), lib_frame("abort")],
        [],
    ]


@pytest.mark.parametrize("hints", [True, False])
def test_app_only_gives_the_full_app_component(hints: bool) -> None:
    enhancements = Enhancements.parse(APP_ONLY_RULES, source="app-only rules")
    for frames in _stacktraces():
        prepared = prepare_stacktrace(
            frames, "python", make_exception_data(None), enhancements
        )
        full = stacktrace_variants(prepared, enhancements, hints=hints)
        alone = stacktrace_variants(prepared, enhancements, hints=hints, app_only=True)
        assert list(alone) == ["app"]
        assert alone["app"] == full["app"], frames
        assert alone["app"]["hint"] == full["app"]["hint"]
