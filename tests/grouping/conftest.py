"""Fixtures for the grouping tests: rules, and a helper that groups an event."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest

from consumers.grouping import (
    Enhancements,
    GroupingResult,
    calculate_grouping,
    load_enhancements,
    normalize_event,
)

GroupFn = Callable[..., GroupingResult]

# Rules small enough to reason about in tests: one in-app rule, one category
# rule and one contribution rule.
TEST_RULES = """
# comment lines and blank lines are ignored

family:native package:/app/**                 +app
family:native function:abort                  category=throw
category:throw                                ^-group -group
module:vendor.*                               -app
function:ignored_helper                       -group  # trailing comment
"""


@pytest.fixture(scope="session")
def test_enhancements() -> Enhancements:
    return Enhancements.parse(TEST_RULES, source="test rules")


@pytest.fixture(scope="session")
def default_enhancements() -> Enhancements:
    return load_enhancements()


@pytest.fixture
def group(test_enhancements: Enhancements) -> GroupFn:
    """Normalise a hand-written event and group it with the test rules."""

    def run(event: Mapping[str, Any], **kwargs: Any) -> GroupingResult:
        kwargs.setdefault("enhancements", test_enhancements)
        return calculate_grouping(normalize_event(event), **kwargs)

    return run


FindFn = Callable[[Mapping[str, Any], str], list[Mapping[str, Any]]]


def _find(component: Mapping[str, Any], id: str) -> list[Mapping[str, Any]]:
    found = [component] if component["id"] == id else []
    for value in component["values"]:
        if isinstance(value, Mapping):
            found.extend(_find(value, id))
    return found


@pytest.fixture
def find() -> FindFn:
    """Return a function listing a component and its descendants with an id."""
    return _find
