"""The public entry points: normalisation, grouping results and their shape."""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Callable
from typing import Any

import pytest

from consumers.grouping import (
    GroupingError,
    GroupingResult,
    calculate_grouping,
    get_exception_type,
    has_stacktrace,
    normalize_event,
)

GroupFn = Callable[..., GroupingResult]


def chained_event() -> dict[str, Any]:
    frames = [
        {"function": "dispatch", "module": "framework", "in_app": False},
        {"function": "checkout", "module": "shop", "in_app": True},
    ]
    return {
        "platform": "python",
        "message": "checkout failed",
        "exception": {
            "values": [
                {"type": "KeyError", "value": "sku"},
                {
                    "type": "CheckoutError",
                    "value": "no\x00sku",
                    "stacktrace": {"frames": frames},
                },
            ]
        },
    }


def test_normalize_event_returns_new_event() -> None:
    raw = {"message": "hello", "platform": "python"}
    event = normalize_event(raw)
    assert event["logentry"] == {"formatted": "hello"}
    assert "logentry" not in raw


def test_normalize_event_rejects_unserialisable_payload() -> None:
    with pytest.raises(GroupingError, match="rejected by the normaliser"):
        normalize_event({"extra": {"bad": object()}})


def test_hashes_order_system_last(group: GroupFn) -> None:
    result = group(chained_event())
    assert result.hashes[-1] == result.variants["system"].hash
    assert result.primary_hash == result.variants["app"].hash


def test_grouping_info_has_sentry_variant_shape(group: GroupFn) -> None:
    info = group(chained_event()).grouping_info()
    assert set(info) == {"app", "system", "default"}
    app = info["app"]
    assert {
        "type",
        "description",
        "hash",
        "hint",
        "contributes",
        "key",
        "component",
    } <= set(app)
    assert set(app["component"]) == {"id", "name", "contributes", "hint", "values"}
    assert app["component"]["id"] == "app"


def test_result_pickles(group: GroupFn) -> None:
    result = group(chained_event())
    copy = pickle.loads(pickle.dumps(result))
    assert copy.hashes == result.hashes
    assert copy.grouping_info() == result.grouping_info()


def test_overruled_strategies_can_be_skipped(group: GroupFn) -> None:
    full = group(chained_event())
    lean = group(chained_event(), include_overruled=False)
    assert lean.hashes == full.hashes
    assert "default" not in lean.variants


def test_checksum_replaces_everything(group: GroupFn) -> None:
    result = group({**chained_event(), "checksum": "0123456789abcdef0123456789abcdef"})
    assert set(result.variants) == {"checksum"}
    assert result.primary_hash == "0123456789abcdef0123456789abcdef"


def test_checksum_that_is_not_md5_is_hashed(group: GroupFn) -> None:
    result = group({"checksum": "release-42"})
    assert result.primary_hash == hashlib.md5(b"release-42").hexdigest()
    assert result.grouping_info()["hashed_checksum"]["raw_checksum"] == "release-42"


def test_event_without_anything_gets_fallback(group: GroupFn) -> None:
    result = group({"platform": "python"})
    assert result.primary_hash == "d41d8cd98f00b204e9800998ecf8427e"
    assert set(result.variants) == {"fallback"}


def test_odd_shapes_do_not_raise(test_enhancements: Any) -> None:
    odd = {
        "exception": {
            "values": [None, {"type": 5, "stacktrace": {"frames": [None, "x", {}]}}]
        },
        "threads": {"values": "not a list"},
        "stacktrace": ["not", "a", "mapping"],
        "logentry": {"formatted": 7},
    }
    result = calculate_grouping(odd, enhancements=test_enhancements)
    assert result.primary_hash is not None


def test_default_rules_load(default_enhancements: Any) -> None:
    result = calculate_grouping(
        normalize_event(chained_event()), enhancements=default_enhancements
    )
    assert result.primary_hash is not None


def test_exception_type_is_last_without_nul() -> None:
    assert get_exception_type(chained_event()) == "CheckoutError"
    assert get_exception_type({"message": "x"}) is None


def test_has_stacktrace_checks_last_exception_thread_and_event() -> None:
    assert has_stacktrace(chained_event()) is True
    first_only = {
        "exception": {"values": [{"stacktrace": {"frames": [{}]}}, {"type": "E"}]}
    }
    assert has_stacktrace(first_only) is False
    assert (
        has_stacktrace({"threads": {"values": [{"stacktrace": {"frames": [{}]}}]}})
        is True
    )
    assert has_stacktrace({"stacktrace": {"frames": []}}) is False
