"""`seer_inputs` against the full grouping path, event by event.

The fast path must give the primary hash, frame-count flag, stacktrace string
and exception type that `calculate_grouping` + `grouping_info()` +
`has_too_many_contributing_frames` + `get_stacktrace_string` give. Events:
Sentry's reference inputs (also under other platforms), Sentry's sample
events and events the real sentry-sdk captures, also as distinct issues.
Reference data is read from ``$SEER_BACKFILL_SHARED_DIR/reference``; without
it those cases are skipped.
"""

from __future__ import annotations

import gc
import hashlib
import json
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from consumers.grouping import (
    Enhancements,
    GroupingError,
    SeerInputs,
    calculate_grouping,
    get_exception_type,
    get_stacktrace_string,
    has_too_many_contributing_frames,
    load_enhancements,
    normalize_event,
    seer_inputs,
)
from consumers.grouping.api import compute_variants
from consumers.grouping.caches import clear_caches
from consumers.grouping.conformance import (
    default_shared_dir,
    iter_reference_cases,
    load_reference_enhancements,
    prepare_input,
)
from consumers.grouping.strategies import app_exception_roots
from consumers.samples import generate_events, vary_event

SHARED = default_shared_dir()
REFERENCE_CASES = iter_reference_cases(SHARED)
SAMPLES_DIR = SHARED / "reference" / "sentry-samples"
# Platforms each reference input is also grouped under, so that every
# platform-specific branch of the frame strategy meets many frame shapes.
OTHER_PLATFORMS = ("python", "javascript", "native", "java", "cocoa", "csharp")

needs_reference = pytest.mark.skipif(
    not REFERENCE_CASES, reason=f"no grouping reference data under {SHARED}"
)


def full_path_inputs(
    event: Mapping[str, Any], enhancements: Enhancements, *, include_overruled: bool
) -> SeerInputs:
    """Compute what `seer_inputs` returns the slow way, through grouping info."""
    result = calculate_grouping(
        event, enhancements=enhancements, include_overruled=include_overruled
    )
    info = result.grouping_info()
    too_many = has_too_many_contributing_frames(event, info)
    stacktrace = ""
    if not too_many:
        stacktrace = get_stacktrace_string(info, platform=event.get("platform"))
        # Plain dicts, as stored grouping info is read, give the same string.
        assert get_stacktrace_string(json.loads(json.dumps(info))) == stacktrace
    return SeerInputs(
        result.primary_hash, stacktrace, too_many, get_exception_type(event)
    )


def assert_same_as_full_path(
    event: Mapping[str, Any], enhancements: Enhancements
) -> None:
    before = json.dumps(event, sort_keys=True)
    try:
        expected = full_path_inputs(event, enhancements, include_overruled=False)
    except GroupingError:
        with pytest.raises(GroupingError):
            seer_inputs(event, enhancements=enhancements)
        return
    assert seer_inputs(event, enhancements=enhancements) == expected
    # Again, now that its frames are remembered.
    assert seer_inputs(event, enhancements=enhancements) == expected
    assert full_path_inputs(event, enhancements, include_overruled=True) == expected
    assert json.dumps(event, sort_keys=True) == before


def reference_events() -> list[Any]:
    params = []
    for name, input_path, _snapshot in REFERENCE_CASES:
        data = json.loads(input_path.read_text(encoding="utf-8"))
        event, _rules = prepare_input(data)
        params.append(pytest.param(event, id=name))
    return params


def _raw_reference(input_path: Path, platform: str) -> dict[str, Any]:
    data = json.loads(input_path.read_text(encoding="utf-8"))
    data.pop("_fingerprinting_rules", None)
    data.pop("_grouping", None)
    data["platform"] = platform
    return dict(data)


@pytest.fixture(scope="module")
def reference_enhancements() -> Enhancements:
    return load_reference_enhancements(SHARED)


@pytest.fixture(scope="module")
def sdk_events() -> list[dict[str, Any]]:
    events = list(generate_events(40, seed=7))
    distinct = [vary_event(event, n) for n, event in enumerate(events)]
    return [normalize_event(event) for event in events + distinct]


@needs_reference
@pytest.mark.parametrize("event", reference_events())
def test_seer_inputs_match_on_reference_input(
    event: dict[str, Any],
    reference_enhancements: Enhancements,
    default_enhancements: Enhancements,
) -> None:
    assert_same_as_full_path(event, reference_enhancements)
    assert_same_as_full_path(event, default_enhancements)


@needs_reference
@pytest.mark.parametrize("platform", OTHER_PLATFORMS)
def test_seer_inputs_match_under_other_platform(
    platform: str, default_enhancements: Enhancements
) -> None:
    for _name, input_path, _snapshot in REFERENCE_CASES:
        raw = _raw_reference(input_path, platform)
        try:
            event = normalize_event(raw, keep_unknown_attributes=True)
        except GroupingError:
            continue
        assert_same_as_full_path(event, default_enhancements)


@pytest.mark.skipif(not SAMPLES_DIR.is_dir(), reason=f"no {SAMPLES_DIR}")
def test_seer_inputs_match_on_sentry_samples(
    default_enhancements: Enhancements,
) -> None:
    checked = 0
    for path in sorted(SAMPLES_DIR.glob("*.json")):
        try:
            event = normalize_event(json.loads(path.read_text(encoding="utf-8")))
        except (ValueError, GroupingError):
            continue  # payloads that are not valid JSON or events
        assert_same_as_full_path(event, default_enhancements)
        checked += 1
    assert checked > 10


def test_seer_inputs_match_on_sdk_events(
    sdk_events: list[dict[str, Any]], default_enhancements: Enhancements
) -> None:
    for event in sdk_events:
        assert_same_as_full_path(event, default_enhancements)


def test_seer_inputs_without_remembered_frames(
    sdk_events: list[dict[str, Any]], default_enhancements: Enhancements
) -> None:
    warm = [seer_inputs(e, enhancements=default_enhancements) for e in sdk_events]
    cold = []
    for event in sdk_events:
        clear_caches(default_enhancements)
        cold.append(seer_inputs(event, enhancements=default_enhancements))
    assert cold == warm


def test_forgotten_frames_need_no_collector(
    sdk_events: list[dict[str, Any]], default_enhancements: Enhancements
) -> None:
    # Grouping objects in reference cycles would be freed only by the cyclic
    # collector, whose passes cost time in proportion to the live heap.
    clear_caches(default_enhancements)
    gc.collect()
    gc.disable()
    try:
        for event in sdk_events:
            seer_inputs(event, enhancements=default_enhancements)
        clear_caches(default_enhancements)
        gc.set_debug(gc.DEBUG_SAVEALL)
        gc.collect()
        cyclic = {type(item).__name__ for item in gc.garbage}
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert "Component" not in cyclic
    assert "FrameChildren" not in cyclic
    assert "FrameText" not in cyclic


# Contribution rules whose ranges reach across in-app and other frames, and
# a minimum frame count, none of which needs the system variant's pass.
RANGED_RULES = """
app:no                          v+group
function:*_v*                   ^-group
path:**/site-packages/**        +group
module:*checkout*               ^+group
function:*handler*              min-frames=2
"""


def _app_alone(
    event: Mapping[str, Any], enhancements: Enhancements
) -> dict[str, Any] | None:
    """The app variant as the Seer path computes it, when it skips the system one."""
    if app_exception_roots(event, enhancements) is None:
        return None
    variants = compute_variants(
        event,
        enhancements,
        (),
        include_overruled=False,
        hints=False,
        system_if_needed=True,
    )
    if "system" in variants:  # a fingerprint other than the default one
        return None
    return _plain(variants["app"].as_dict())


def _full_app(event: Mapping[str, Any], enhancements: Enhancements) -> dict[str, Any]:
    variants = compute_variants(
        event, enhancements, (), include_overruled=False, hints=False
    )
    return _plain(variants["app"].as_dict())


def _plain(variant: Mapping[str, Any]) -> dict[str, Any]:
    plain: dict[str, Any] = json.loads(json.dumps(variant))
    return plain


@pytest.mark.parametrize("rules", ["default", "ranged"])
def test_app_only_matches_full_variant(
    rules: str, sdk_events: list[dict[str, Any]], default_enhancements: Enhancements
) -> None:
    enhancements = (
        default_enhancements
        if rules == "default"
        else Enhancements.parse(RANGED_RULES, source="ranged rules")
    )
    alone = 0
    for event in sdk_events:
        app = _app_alone(event, enhancements)
        if app is not None:
            assert app == _full_app(event, enhancements)
            alone += 1
        assert_same_as_full_path(event, enhancements)
    # Most SDK events have in-app frames, so the shortcut must apply to them.
    assert alone > len(sdk_events) // 2


@needs_reference
@pytest.mark.parametrize("platform", OTHER_PLATFORMS)
def test_app_only_on_reference_inputs(
    platform: str, default_enhancements: Enhancements
) -> None:
    alone = 0
    for _name, input_path, _snapshot in REFERENCE_CASES:
        try:
            event = normalize_event(
                _raw_reference(input_path, platform), keep_unknown_attributes=True
            )
            app = _app_alone(event, default_enhancements)
        except GroupingError:
            continue
        if app is not None:
            assert app == _full_app(event, default_enhancements)
            alone += 1
    assert alone > 0


@pytest.mark.parametrize("cap", ["max-frames=2", "max-frames = 2"])
def test_max_frames_keeps_system_variant(
    cap: str, sdk_events: list[dict[str, Any]]
) -> None:
    # The cap also counts the system variant's contributing frames, so the
    # app variant alone could differ and the shortcut must not apply.
    enhancements = Enhancements.parse(
        RANGED_RULES + f"app:yes {cap} +group\n", source="capped rules"
    )
    assert enhancements.limits_contributing_frames
    for event in sdk_events:
        assert app_exception_roots(event, enhancements) is None
        assert_same_as_full_path(event, enhancements)


def test_exception_group_keeps_system_variant(
    default_enhancements: Enhancements,
) -> None:
    # Filtering an exception group compares both variants' hashes.
    frames = [{"function": "handle", "module": "shop.cart", "in_app": True}]
    exceptions = [
        {
            "type": "ExceptionGroup",
            "value": "2 errors",
            "mechanism": {
                "type": "chained",
                "exception_id": 0,
                "is_exception_group": True,
            },
            "stacktrace": {"frames": frames},
        },
        {
            "type": "KeyError",
            "mechanism": {"type": "chained", "exception_id": 1, "parent_id": 0},
            "stacktrace": {"frames": frames},
        },
        {
            "type": "ValueError",
            "mechanism": {"type": "chained", "exception_id": 2, "parent_id": 0},
            "stacktrace": {"frames": frames},
        },
    ]
    event = normalize_event({"platform": "python", "exception": {"values": exceptions}})
    assert app_exception_roots(event, default_enhancements) is None
    assert_same_as_full_path(event, default_enhancements)


def test_seer_inputs_of_odd_shapes(default_enhancements: Enhancements) -> None:
    odd = {
        "exception": {
            "values": [None, {"type": 5, "stacktrace": {"frames": [None, "x", {}]}}]
        },
        "threads": {"values": "not a list"},
        "stacktrace": ["not", "a", "mapping"],
        "logentry": {"formatted": 7},
    }
    assert_same_as_full_path(odd, default_enhancements)


def test_seer_inputs_of_unhashable_frame_values(
    default_enhancements: Enhancements,
) -> None:
    frames: list[dict[str, Any]] = [
        {"function": ["not", "text"], "module": {"a": 1}, "in_app": True},
        {"function": "handler", "filename": "app.py", "in_app": True},
    ]
    exception = {"type": "E", "stacktrace": {"frames": frames}}
    event = {"platform": "python", "exception": {"values": [exception]}}
    assert_same_as_full_path(event, default_enhancements)


def test_seer_inputs_string_empty_when_too_many_frames() -> None:
    frames = [
        {"function": f"step{index}", "module": "com.shop.Cart", "in_app": True}
        for index in range(40)
    ]
    event = normalize_event(
        {
            "platform": "java",
            "exception": {
                "values": [
                    {"type": "E", "value": "x", "stacktrace": {"frames": frames}}
                ]
            },
        }
    )
    inputs = seer_inputs(event, enhancements=load_enhancements())
    assert inputs.too_many_frames is True
    assert inputs.stacktrace == ""
    assert inputs.primary_hash is not None


def test_overruled_threads_frames_do_not_count() -> None:
    # The exception wins; the crashed thread's 40 frames are overruled and
    # must not flag the event, whether or not its component is kept.
    thread_frames = [
        {"function": f"step{index}", "module": "com.shop.Worker", "in_app": True}
        for index in range(40)
    ]
    exception_frames = [{"function": "handle", "module": "com.shop.Cart"}]
    event = normalize_event(
        {
            "platform": "java",
            "exception": {
                "values": [
                    {
                        "type": "E",
                        "value": "x",
                        "stacktrace": {"frames": exception_frames},
                    }
                ]
            },
            "threads": {
                "values": [
                    {"id": 1, "crashed": True, "stacktrace": {"frames": thread_frames}}
                ]
            },
        }
    )
    rules = load_enhancements()
    assert seer_inputs(event, enhancements=rules).too_many_frames is False
    assert_same_as_full_path(event, rules)


def test_seer_inputs_of_checksum_event() -> None:
    inputs = seer_inputs({"checksum": "a" * 32}, enhancements=load_enhancements())
    assert inputs == SeerInputs("a" * 32, "", False, None)


def _contributing_leaves(component: Mapping[str, Any]) -> list[str]:
    if not component["contributes"]:
        return []
    leaves = []
    for value in component["values"]:
        if isinstance(value, Mapping):
            leaves.extend(_contributing_leaves(value))
        else:
            leaves.append(str(value))
    return leaves


def test_hashes_follow_serialized_trees(
    sdk_events: list[dict[str, Any]], default_enhancements: Enhancements
) -> None:
    # Hashing takes shortcuts (joined frame leaves); the plain dicts of the
    # grouping info must give the same md5.
    checked = 0
    for event in sdk_events:
        info = calculate_grouping(event, enhancements=default_enhancements)
        for variant in json.loads(json.dumps(info.grouping_info())).values():
            if variant["type"] != "component" or not variant["contributes"]:
                continue
            leaves = "".join(_contributing_leaves(variant["component"]))
            assert variant["hash"] == hashlib.md5(leaves.encode()).hexdigest()
            checked += 1
    assert checked > len(sdk_events)


def test_seer_inputs_pickle() -> None:
    inputs = SeerInputs("a" * 32, "ValueError: x", False, "ValueError")
    assert pickle.loads(pickle.dumps(inputs)) == inputs
