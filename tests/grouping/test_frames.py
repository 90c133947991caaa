"""Tests of frame counting and the too-many-frames filter."""

from __future__ import annotations

from typing import Any

import pytest

from consumers.grouping.frames import (
    MAX_FRAME_COUNT,
    PLATFORMS_BYPASSING_FRAME_COUNT_CHECK,
    component_id,
    contributing_variant_name,
    count_contributing_frames,
    first_leaf,
    has_too_many_contributing_frames,
    string_variant_name,
)


def frames(count: int, contributes: bool = True) -> list[dict[str, Any]]:
    function = {"id": "function", "contributes": contributes, "values": ["f"]}
    return [
        {"id": "frame", "contributes": contributes, "hint": None, "values": [function]}
        for _ in range(count)
    ]


def exception_component(frame_list: list[dict[str, Any]]) -> dict[str, Any]:
    stacktrace = {"id": "stacktrace", "contributes": True, "values": frame_list}
    type_ = {"id": "type", "contributes": True, "values": ["Error"]}
    return {"id": "exception", "contributes": True, "values": [type_, stacktrace]}


def variant(
    name: str, *entries: dict[str, Any], contributes: bool = True
) -> dict[str, Any]:
    return {
        "hash": "a" * 32 if contributes else None,
        "contributes": contributes,
        "component": {"id": name, "contributes": contributes, "values": list(entries)},
    }


def app_only(frame_count: int) -> dict[str, Any]:
    return {
        "app": variant("app", exception_component(frames(frame_count))),
        "system": variant(
            "system", exception_component(frames(frame_count)), contributes=False
        ),
    }


def test_count_app_variant() -> None:
    info = app_only(12)
    assert count_contributing_frames(info) == 12


def test_count_skips_non_contributing() -> None:
    info = {"app": variant("app", exception_component(frames(5) + frames(7, False)))}
    assert count_contributing_frames(info) == 5


def test_count_sums_chained_exceptions() -> None:
    chain = {
        "id": "chained_exception",
        "contributes": True,
        "values": [exception_component(frames(16)), exception_component(frames(16))],
    }
    assert count_contributing_frames({"app": variant("app", chain)}) == 32


def test_count_system_when_app_has_no_hash() -> None:
    info = {
        "app": variant("app", exception_component(frames(3, False)), contributes=False),
        "system": variant("system", exception_component(frames(9))),
    }
    assert count_contributing_frames(info) == 9


def test_count_without_stacktrace_variant() -> None:
    info = {"default": {"hash": "b" * 32, "contributes": True, "component": None}}
    assert count_contributing_frames(info) == 0


@pytest.mark.parametrize(
    ("frame_count", "expected"),
    [
        (MAX_FRAME_COUNT - 1, False),
        (MAX_FRAME_COUNT, False),
        (MAX_FRAME_COUNT + 1, True),
    ],
)
def test_too_many_java(frame_count: int, expected: bool) -> None:
    event = {"platform": "java"}
    assert has_too_many_contributing_frames(event, app_only(frame_count)) is expected


@pytest.mark.parametrize("platform", sorted(PLATFORMS_BYPASSING_FRAME_COUNT_CHECK))
def test_too_many_bypassed_platform(platform: str) -> None:
    event = {"platform": platform}
    info = app_only(MAX_FRAME_COUNT + 10)
    assert has_too_many_contributing_frames(event, info) is False


def test_too_many_without_platform() -> None:
    info = app_only(MAX_FRAME_COUNT + 1)
    assert has_too_many_contributing_frames({}, info) is True


def test_too_many_prefers_app_variant() -> None:
    info = {
        "app": variant("app", exception_component(frames(MAX_FRAME_COUNT - 1))),
        "system": variant("system", exception_component(frames(MAX_FRAME_COUNT + 5))),
    }
    assert has_too_many_contributing_frames({"platform": "java"}, info) is False


def test_too_many_system_variant() -> None:
    info = {
        "app": variant("app", exception_component(frames(2, False)), contributes=False),
        "system": variant("system", exception_component(frames(MAX_FRAME_COUNT + 1))),
    }
    assert has_too_many_contributing_frames({"platform": "java"}, info) is True


def test_too_many_system_skips_in_app_frames() -> None:
    in_app = [{**frame, "in_app": True} for frame in frames(MAX_FRAME_COUNT)]
    system = [{**frame, "in_app": False} for frame in frames(2)]
    info = {
        "app": variant("app", exception_component([]), contributes=False),
        "system": variant("system", exception_component(in_app + system)),
    }
    assert has_too_many_contributing_frames({"platform": "java"}, info) is False


def test_too_many_custom_fingerprint() -> None:
    info = {
        "custom_fingerprint": {
            "hash": "c" * 32,
            "contributes": True,
            "component": None,
            "values": ["my-fingerprint"],
        },
        "app": variant("app", exception_component(frames(50)), contributes=False),
        "system": variant("system", exception_component(frames(50)), contributes=False),
    }
    assert has_too_many_contributing_frames({"platform": "java"}, info) is False


def test_contributing_variant_single() -> None:
    info = {"default": {"hash": None, "contributes": False, "component": None}}
    assert contributing_variant_name(info) == "default"


def test_contributing_variant_none() -> None:
    info = {
        "app": {"hash": None, "contributes": False},
        "system": {"hash": None, "contributes": False},
    }
    assert contributing_variant_name(info) is None


def test_string_variant_none() -> None:
    assert string_variant_name({"app": {"hash": None}, "system": {}}) is None


@pytest.mark.parametrize(
    ("component", "expected"),
    [
        ({"id": "chained-exception"}, "chained_exception"),
        ({"id": "context_line"}, "context_line"),
        ({"id": 3}, ""),
        ("frame", ""),
    ],
)
def test_component_id(component: Any, expected: str) -> None:
    assert component_id(component) == expected


@pytest.mark.parametrize(
    ("component", "expected"),
    [
        ({"values": ["a", "b"]}, "a"),
        ({"values": [42]}, "42"),
        ({"values": []}, ""),
        ({"values": [{"id": "x"}]}, ""),
        ({}, ""),
    ],
)
def test_first_leaf(component: Any, expected: str) -> None:
    assert first_leaf(component) == expected
