"""Single exceptions, chains and exception groups."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from consumers.grouping import GroupingResult

GroupFn = Callable[..., GroupingResult]
FindFn = Callable[[Mapping[str, Any], str], list[Mapping[str, Any]]]


def exception(type: str, value: str, **extra: Any) -> dict[str, Any]:
    return {"type": type, "value": value, **extra}


def frames(*functions: str) -> dict[str, Any]:
    return {
        "frames": [{"function": f, "module": "shop", "in_app": True} for f in functions]
    }


def group_ids(
    type: str, exception_id: int, parent_id: int | None = None
) -> dict[str, Any]:
    mechanism: dict[str, Any] = {"type": "chained", "exception_id": exception_id}
    if parent_id is not None:
        mechanism["parent_id"] = parent_id
    if type == "Group":
        mechanism["is_exception_group"] = True
    return mechanism


def test_value_is_parameterized_without_stacktrace(
    group: GroupFn, find: FindFn
) -> None:
    result = group(
        {"exception": {"values": [exception("Timeout", "after 30 seconds")]}}
    )
    value = find(result.grouping_info()["app"]["component"], "value")[0]
    assert value["values"] == ["after <int> seconds"]
    assert value["hint"] == "stripped event-specific values"
    assert set(result.variants) == {"app"}


def test_value_yields_to_stacktrace(group: GroupFn, find: FindFn) -> None:
    event = {"exception": {"values": [exception("E", "boom", stacktrace=frames("a"))]}}
    value = find(group(event).grouping_info()["app"]["component"], "value")[0]
    assert value["contributes"] is False
    assert value["hint"] == "ignored because stacktrace takes precedence"


def test_synthetic_type_is_ignored(group: GroupFn, find: FindFn) -> None:
    synthetic = exception(
        "SIGSEGV", "segfault", mechanism={"type": "signal", "synthetic": True}
    )
    type_component = find(
        group({"exception": {"values": [synthetic]}}).grouping_info()["app"][
            "component"
        ],
        "type",
    )[0]
    assert type_component["contributes"] is False
    assert type_component["hint"] == "ignored because exception is synthetic"


def test_ns_error_takes_precedence_over_value(group: GroupFn, find: FindFn) -> None:
    error = exception(
        "NSError",
        "The operation failed",
        mechanism={
            "type": "nserror",
            "meta": {"ns_error": {"domain": "Shop", "code": 7}},
        },
    )
    tree = group({"exception": {"values": [error]}}).grouping_info()["app"]["component"]
    assert find(tree, "code")[0]["values"] == [7]
    assert (
        find(tree, "value")[0]["hint"]
        == "ignored because ns-error info takes precedence"
    )


def test_chain_has_one_child_per_exception(group: GroupFn, find: FindFn) -> None:
    event = {
        "exception": {
            "values": [
                exception("KeyError", "sku", stacktrace=frames("load")),
                exception("CheckoutError", "failed", stacktrace=frames("checkout")),
            ]
        }
    }
    tree = group(event).grouping_info()["app"]["component"]
    chain = find(tree, "chained_exception")[0]
    types = [find(child, "type")[0]["values"][0] for child in chain["values"]]
    assert types == ["KeyError", "CheckoutError"]


def test_group_of_equal_exceptions_becomes_one(group: GroupFn, find: FindFn) -> None:
    event = {
        "exception": {
            "values": [
                exception("Failed", "item 2", mechanism=group_ids("Failed", 2, 0)),
                exception("Failed", "item 1", mechanism=group_ids("Failed", 1, 0)),
                exception("Group", "errors", mechanism=group_ids("Group", 0)),
            ]
        }
    }
    tree = group(event).grouping_info()["app"]["component"]
    assert find(tree, "chained_exception") == []
    assert find(tree, "type")[0]["values"] == ["Failed"]


def test_group_of_distinct_exceptions_keeps_root(group: GroupFn, find: FindFn) -> None:
    event = {
        "exception": {
            "values": [
                exception("Alpha", "a", mechanism=group_ids("Alpha", 2, 0)),
                exception("Beta", "b", mechanism=group_ids("Beta", 1, 0)),
                exception("Group", "errors", mechanism=group_ids("Group", 0)),
            ]
        }
    }
    tree = group(event).grouping_info()["app"]["component"]
    types = [t["values"][0] for t in find(tree, "type")]
    assert types == ["Beta", "Alpha", "Group"]


def test_broken_group_keeps_every_exception(group: GroupFn, find: FindFn) -> None:
    event = {
        "exception": {
            "values": [
                exception("Alpha", "a", mechanism=group_ids("Alpha", 1, 1)),
                exception("Group", "errors", mechanism=group_ids("Group", 0)),
            ]
        }
    }
    tree = group(event).grouping_info()["app"]["component"]
    assert len(find(tree, "type")) == 2


def test_python_sdk_3_skips_group_filtering(group: GroupFn, find: FindFn) -> None:
    event = {
        "platform": "python",
        "sdk": {"name": "sentry.python", "version": "3.0.0"},
        "exception": {
            "values": [
                exception("Failed", "item 2", mechanism=group_ids("Failed", 2, 0)),
                exception("Failed", "item 1", mechanism=group_ids("Failed", 1, 0)),
                exception("Group", "errors", mechanism=group_ids("Group", 0)),
            ]
        },
    }
    tree = group(event).grouping_info()["app"]["component"]
    assert len(find(tree, "type")) == 3
