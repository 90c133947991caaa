"""Prepared frames: remembered facts must equal freshly computed ones."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from consumers.grouping import Enhancements, load_enhancements
from consumers.grouping.prepared_frames import (
    FrameFacts,
    PreparedStacktrace,
    clear_remembered_frames,
    frame_facts,
    make_exception_data,
    prepare_stacktrace,
)

FACT_FIELDS = (
    "category",
    "client_in_app",
    "filename",
    "function",
    "in_app",
    "match",
    "orig_in_app",
    "platform",
    "raw_function",
)


def facts_of(facts: FrameFacts) -> dict[str, Any]:
    values = {name: getattr(facts, name) for name in FACT_FIELDS}
    # The types matter: 1 == True, but only a bool is an in_app flag.
    values["types"] = [type(value) for value in values.values()]
    values["children"] = facts.children.children
    values["contributes"] = facts.children.contributes
    return values


# Pairs of frames whose values compare equal in Python (1 == True, 0 == False)
# or differ only in a value that one of them ignores.
LOOKALIKE_PAIRS = [
    ({"function": "f", "in_app": True}, {"function": "f", "in_app": 1}),
    ({"function": "f", "in_app": False}, {"function": "f", "in_app": 0}),
    (
        {"function": "f", "data": {"orig_in_app": 1}},
        {"function": "f", "data": {"orig_in_app": True}},
    ),
    (
        {"function": "f", "data": {"orig_in_app": -1}},
        {"function": "f", "data": {"orig_in_app": -1.0}},
    ),
    (
        {"function": "f", "data": {"client_in_app": False}},
        {"function": "f", "data": {"client_in_app": 0}},
    ),
    ({"function": "f", "module": "m"}, {"function": "f", "module": 1}),
    ({"function": "f", "data": {"sourcemap": None}}, {"function": "f", "data": []}),
]


@pytest.mark.parametrize(("first", "second"), LOOKALIKE_PAIRS)
def test_remembered_facts_equal_fresh_facts(
    first: dict[str, Any], second: dict[str, Any]
) -> None:
    clear_remembered_frames()
    for frame in (first, second):
        remembered = frame_facts(frame, "python")
        assert facts_of(remembered) == facts_of(FrameFacts(frame, "python"))


def test_facts_depend_on_event_platform() -> None:
    frame = {"function": "foo(int)", "filename": "a.js?v=2"}
    clear_remembered_frames()
    native = frame_facts(frame, "native")
    javascript = frame_facts(frame, "javascript")
    assert native.function == "foo"
    assert javascript.filename == "a.js"


def test_unhashable_frame_values_are_not_remembered() -> None:
    frame = {"function": ["not", "text"], "module": "m"}
    facts = frame_facts(frame, "python")
    assert facts.function is None


def test_rule_changes_do_not_touch_shared_match_frame() -> None:
    frame = {"function": "abort", "package": "/usr/lib/libc.so", "in_app": True}
    exception_data = make_exception_data(None)
    prepared = prepare_stacktrace(
        [frame], "native", exception_data, load_enhancements()
    )
    facts = prepared.frames[0].facts
    assert prepared.frames[0].in_app is False
    assert facts.match["in_app"] is True
    assert prepared.frames[0].match["in_app"] is False


def _classified_values(prepared: PreparedStacktrace) -> list[tuple[Any, ...]]:
    return [
        (frame.in_app, frame.category, frame.orig_in_app, frame.match)
        for frame in prepared.frames
    ]


CLASSIFIER_RULES = """
module:shop.*                   +app
function:abort                  category=throw
module:lib.*                    -app
"""


def test_remembered_classification_equals_fresh_one() -> None:
    rules = Enhancements.parse(CLASSIFIER_RULES, source="classifier rules")
    assert rules.classifier_per_frame
    assert not rules.classifier_reads_exception
    # The same rules, judged per stack trace by the rules engine every time.
    engine_only = dataclasses.replace(rules, classifier_per_frame=False)
    frames: list[dict[str, Any]] = [
        {"function": "checkout", "module": "shop.cart"},
        {"function": "abort", "module": "lib.c", "in_app": True},
        {"function": "run", "module": "lib.loop", "data": {"orig_in_app": 1}},
        {"function": "main", "module": "app"},
    ]
    exception_data = make_exception_data(None)
    clear_remembered_frames()
    expected = _classified_values(
        prepare_stacktrace(frames, "python", exception_data, engine_only)
    )
    for _ in range(2):  # computed, then remembered on the frames' facts
        prepared = prepare_stacktrace(frames, "python", exception_data, rules)
        assert _classified_values(prepared) == expected


def test_remembered_classification_is_per_rule_set() -> None:
    frame = {"function": "checkout", "module": "shop.cart"}
    exception_data = make_exception_data(None)
    marking = Enhancements.parse("module:shop.* +app", source="marking rules")
    clear_remembered_frames()
    marked = prepare_stacktrace([frame], "python", exception_data, marking)
    plain = prepare_stacktrace([frame], "python", exception_data, load_enhancements())
    assert marked.frames[0].in_app is True
    assert plain.frames[0].in_app is False
