"""Tests of the Seer stacktrace string: Sentry's cases, then our own."""

from __future__ import annotations

from typing import Any

import pytest

from consumers.grouping.stacktrace_string import (
    BASE64_ENCODED_PREFIXES,
    FULLY_MINIFIED_MAX_FRAME_COUNT,
    MAX_EXCEPTION_COUNT,
    MAX_FRAME_COUNT,
    get_stacktrace_string,
    is_snipped_context_line,
)
from consumers.grouping.string_cases import (
    StringCase,
    StringCaseError,
    check_string_case,
    count_frames,
    default_shared_dir,
    load_string_cases,
    string_cases_path,
)

try:
    REFERENCE_CASES = load_string_cases()
except StringCaseError:
    REFERENCE_CASES = []


def test_reference_cases_present() -> None:
    path = string_cases_path(default_shared_dir())
    assert REFERENCE_CASES, f"no cases loaded from {path}"


@pytest.mark.parametrize("case", REFERENCE_CASES, ids=lambda case: case.name)
def test_reference_case(case: StringCase) -> None:
    result = check_string_case(case)
    assert result.failures == ()


# Builders for grouping-info trees, in Sentry's component-dict shape.


def leaf(component_id: str, value: str | None, contributes: bool = True) -> Any:
    values = [] if value is None else [value]
    return {
        "id": component_id,
        "contributes": contributes,
        "hint": None,
        "values": values,
    }


def frame(
    function: str = "handler",
    *,
    filename: str | None = "app.py",
    module: str | None = None,
    context_line: str | None = "do_work()",
    contributes: bool = True,
    id_style: str = "_",
) -> dict[str, Any]:
    values = []
    if module is not None:
        values.append(leaf("module", module))
    if filename is not None:
        values.append(leaf("filename", filename, contributes=False))
    values.append(leaf("function", function))
    if context_line is not None:
        values.append(leaf(f"context{id_style}line", context_line))
    return {"id": "frame", "contributes": contributes, "hint": None, "values": values}


def numbered_frames(count: int, label: str, **kwargs: Any) -> list[dict[str, Any]]:
    return [frame(context_line=f"{label} {i}", **kwargs) for i in range(1, count + 1)]


def exception(
    exception_type: str = "ValueError",
    value: str = "bad input",
    frames: list[dict[str, Any]] | None = None,
    contributes: bool = True,
) -> dict[str, Any]:
    stacktrace = {
        "id": "stacktrace",
        "contributes": True,
        "hint": None,
        "values": frames or [],
    }
    return {
        "id": "exception",
        "contributes": contributes,
        "hint": None,
        "values": [
            leaf("type", exception_type),
            leaf("value", value, False),
            stacktrace,
        ],
    }


def chained(*exceptions: dict[str, Any], id_style: str = "_") -> dict[str, Any]:
    return {
        "id": f"chained{id_style}exception",
        "contributes": True,
        "hint": None,
        "values": list(exceptions),
    }


def threads(frames: list[dict[str, Any]]) -> dict[str, Any]:
    stacktrace = {
        "id": "stacktrace",
        "contributes": True,
        "hint": None,
        "values": frames,
    }
    return {"id": "threads", "contributes": True, "hint": None, "values": [stacktrace]}


def grouping_info(*entries: dict[str, Any], variant: str = "app") -> dict[str, Any]:
    component = {
        "id": variant,
        "contributes": True,
        "hint": None,
        "values": list(entries),
    }
    return {variant: {"hash": "0" * 32, "contributes": True, "component": component}}


def test_string_hyphenated_ids() -> None:
    info = grouping_info(
        chained(
            exception("KeyError", "k", [frame("inner", id_style="-")]),
            exception("RuntimeError", "wrapped", [frame("outer", id_style="-")]),
            id_style="-",
        )
    )
    expected = (
        'RuntimeError: wrapped\n  File "app.py", function outer\n    do_work()\n'
        'KeyError: k\n  File "app.py", function inner\n    do_work()'
    )
    assert get_stacktrace_string(info) == expected


def test_string_filename_falls_back_to_module() -> None:
    info = grouping_info(exception(frames=[frame(filename=None, module="app.views")]))
    assert 'File "app.views", function handler' in get_stacktrace_string(info)


def test_string_missing_filename_and_module() -> None:
    info = grouping_info(exception(frames=[frame(filename=None)]))
    assert 'File "None", function handler' in get_stacktrace_string(info)


def test_string_ignored_filename_uses_module() -> None:
    info = grouping_info(
        exception(frames=[frame(filename="<compiler-generated>", module="MyApp")])
    )
    assert 'File "MyApp", function handler' in get_stacktrace_string(info)


def test_string_exception_limit_drops_innermost() -> None:
    exceptions = [
        exception("Error", f"exception {i}!", [frame()])
        for i in range(1, MAX_EXCEPTION_COUNT + 2)
    ]
    result = get_stacktrace_string(grouping_info(chained(*exceptions)))
    assert "exception 1!" not in result
    assert result.count("Error: exception") == MAX_EXCEPTION_COUNT
    assert result.startswith(f"Error: exception {MAX_EXCEPTION_COUNT + 1}!")


def test_string_base64_frame_counts_against_limit() -> None:
    dropped = [frame(filename=BASE64_ENCODED_PREFIXES[0] + ",AAAA")] * 5
    frames = numbered_frames(MAX_FRAME_COUNT, "kept") + dropped
    result = get_stacktrace_string(grouping_info(exception(frames=frames)))
    assert count_frames(result) == MAX_FRAME_COUNT - 5
    assert "base64" not in result


def test_string_empty_value_keeps_header() -> None:
    info = grouping_info(exception("TypeError", "", [frame()]))
    assert get_stacktrace_string(info).startswith("TypeError: \n")


def test_string_skips_non_contributing_exception() -> None:
    info = grouping_info(
        chained(
            exception("Hidden", "x", [frame()], contributes=False),
            exception("Shown", "y", [frame()]),
        )
    )
    result = get_stacktrace_string(info)
    assert "Hidden" not in result
    assert result.startswith("Shown: y")


def test_string_empty_app_component() -> None:
    assert get_stacktrace_string(grouping_info()) == ""


def test_string_message_variant_only() -> None:
    info = {"default": {"hash": "1" * 32, "contributes": True, "component": None}}
    assert get_stacktrace_string(info) == ""


@pytest.mark.parametrize(
    "info",
    [
        {"app": None},
        {"app": {"hash": "x", "component": None}},
        {"app": {"hash": "x", "component": {"id": "app", "values": "oops"}}},
        {"app": {"hash": "x", "component": {"id": "app", "values": [1, None]}}},
    ],
    ids=["variant-none", "component-none", "values-string", "values-leaves"],
)
def test_string_malformed_tree(info: dict[str, Any]) -> None:
    assert get_stacktrace_string(info) == ""


def test_string_platform_does_not_change_result() -> None:
    info = grouping_info(exception(frames=numbered_frames(40, "line")))
    assert get_stacktrace_string(info, "java") == get_stacktrace_string(info)


def test_string_truncation_keeps_most_recent() -> None:
    info = grouping_info(exception(frames=numbered_frames(40, "line")))
    result = get_stacktrace_string(info)
    assert "line 10\n" not in result
    assert "    line 11\n" in result
    assert result.endswith("line 40")


def test_string_minified_limit() -> None:
    frames = [frame(context_line=f"{{snip}} minified {i}") for i in range(1, 41)]
    result = get_stacktrace_string(grouping_info(exception(frames=frames)))
    assert count_frames(result) == FULLY_MINIFIED_MAX_FRAME_COUNT


def test_string_lone_frame_module_without_filename() -> None:
    # Sentry looks at the filename itself, not at the module it falls back to.
    info = grouping_info(threads([frame(filename=None, module="app.views")]))
    assert get_stacktrace_string(info) == ""


def test_string_two_frames_without_filename() -> None:
    info = grouping_info(
        threads([frame("a", filename=None), frame("b", filename=None)])
    )
    expected = (
        'File "None", function a\n    do_work()\n'
        '  File "None", function b\n    do_work()'
    )
    assert get_stacktrace_string(info) == expected


def test_string_system_variant_when_app_has_no_hash() -> None:
    info = grouping_info(exception("SystemOnly", "v", [frame()]), variant="system")
    info["app"] = {"hash": None, "contributes": False, "component": None}
    assert get_stacktrace_string(info).startswith("SystemOnly: v")


@pytest.mark.parametrize(
    ("line", "snipped"),
    [
        ("{snip} dogs are great", True),
        ("dogs are great {snip}", True),
        ("{snip} dogs {snip}", True),
        ("dogs are great", False),
        ("", False),
    ],
)
def test_snipped_context_line(line: str, snipped: bool) -> None:
    assert is_snipped_context_line(line) is snipped
