"""Client fingerprints, server rules, built-in rules and fingerprint variables."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import pytest

from consumers.grouping import GroupingError, GroupingResult
from consumers.grouping.fingerprinting import (
    FingerprintRule,
    parse_rules_text,
    resolve_fingerprint_values,
    variable_value,
)

GroupFn = Callable[..., GroupingResult]


def error_event(**extra: Any) -> dict[str, Any]:
    frames = [{"function": "checkout", "module": "shop", "in_app": True}]
    exception = {
        "type": "PaymentError",
        "value": "card 42 declined",
        "stacktrace": {"frames": frames},
    }
    return {"platform": "python", "exception": {"values": [exception]}, **extra}


def test_custom_client_fingerprint_replaces_hashes(group: GroupFn) -> None:
    result = group(error_event(fingerprint=["payments", "{{ type }}"]))
    variant = result.variants["custom_fingerprint"]
    assert variant.hash == hashlib.md5(b"paymentsPaymentError").hexdigest()
    assert result.hashes == [variant.hash]
    app = result.grouping_info()["app"]
    assert app["hash"] is None
    assert app["hint"] == "ignored because custom client fingerprint takes precedence"


def test_default_fingerprint_keeps_hashes(group: GroupFn) -> None:
    plain = group(error_event())
    explicit = group(error_event(fingerprint=["{{ default }}"]))
    assert plain.hashes == explicit.hashes


def test_hybrid_fingerprint_salts_each_variant(group: GroupFn) -> None:
    plain = group(error_event())
    salted = group(error_event(fingerprint=["{{ default }}", "eu"]))
    leaves = "shopcheckoutPaymentError"  # frame module and function, then type
    assert (
        salted.variants["app"].hash == hashlib.md5(f"{leaves}eu".encode()).hexdigest()
    )
    assert salted.primary_hash != plain.primary_hash


def test_server_rule_wins_over_client(group: GroupFn) -> None:
    rule = FingerprintRule.from_json(
        {"matchers": [["type", "Payment*"]], "fingerprint": ["payments"]}
    )
    result = group(error_event(fingerprint=["client"]), fingerprint_rules=[rule])
    variant = result.grouping_info()["custom_fingerprint"]
    assert variant["values"] == ["payments"]
    assert variant["fingerprint_info"]["client_fingerprint"] == ["client"]
    assert (
        variant["fingerprint_info"]["matched_rule"]["text"]
        == 'type:"Payment*" -> "payments"'
    )
    assert result.grouping_info()["app"]["hint"] == (
        "ignored because custom server fingerprint takes precedence"
    )


def test_negated_matcher(group: GroupFn) -> None:
    rule = FingerprintRule.from_json(
        {"matchers": [["!type", "Payment*"]], "fingerprint": ["x"]}
    )
    assert (
        "custom_fingerprint"
        not in group(error_event(), fingerprint_rules=[rule]).variants
    )


def test_built_in_rule_groups_chunk_load_errors(group: GroupFn) -> None:
    event = {
        "platform": "javascript",
        "exception": {"values": [{"type": "ChunkLoadError", "value": "chunk 7"}]},
    }
    result = group(event)
    variant = result.variants["built_in_fingerprint"]
    assert variant.hash == hashlib.md5(b"chunkloaderror").hexdigest()
    assert result.grouping_info()["app"]["hint"] == (
        "ignored because built-in fingerprint takes precedence"
    )


def test_built_in_family_matches_frame_platform(group: GroupFn) -> None:
    frame = {"function": "load", "filename": "app.js", "platform": "javascript"}
    event = {
        "platform": "python",
        "exception": {
            "values": [
                {
                    "type": "ChunkLoadError",
                    "value": "chunk 7",
                    "stacktrace": {"frames": [frame]},
                }
            ]
        },
    }
    assert "built_in_fingerprint" in group(event).variants


def test_built_in_family_rejects_other_platforms(group: GroupFn) -> None:
    event = {
        "platform": "python",
        "exception": {"values": [{"type": "ChunkLoadError", "value": "chunk 7"}]},
    }
    assert "built_in_fingerprint" not in group(event).variants


def test_built_in_rule_keeps_client_fingerprint(group: GroupFn) -> None:
    event = {
        "platform": "javascript",
        "fingerprint": ["mine"],
        "exception": {"values": [{"type": "ChunkLoadError", "value": "chunk 7"}]},
    }
    result = group(event)
    assert "built_in_fingerprint" not in result.variants
    assert (
        result.variants["custom_fingerprint"].hash == hashlib.md5(b"mine").hexdigest()
    )


def test_variables_resolve_from_event() -> None:
    event = error_event(tags=[["region", "eu"]], level="error")
    values = resolve_fingerprint_values(
        [
            "{{ default }}",
            "{{ message }}",
            "{{tags.region}}",
            "{{ level }}",
            "{{ function }}",
        ],
        event,
    )
    assert values == ["{{ default }}", "card 42 declined", "eu", "error", "checkout"]


def test_missing_variables_have_placeholders() -> None:
    assert variable_value("tags.shard", {}) == "<no-value-for-tag-shard>"
    assert variable_value("transaction", {}) == "<no-transaction>"
    assert variable_value("type", {}) == "<no-type>"


def test_rules_text_parses_quoted_and_bare_values() -> None:
    (rule,) = parse_rules_text(
        'family:javascript error.type:"Chunk Load" -> chunks, {{ tags.page }}',
        is_builtin=True,
    )
    assert rule.matchers == (("family", "javascript"), ("type", "Chunk Load"))
    assert rule.fingerprint == ("chunks", "{{ tags.page }}")


def test_rules_text_without_arrow_is_invalid() -> None:
    with pytest.raises(GroupingError, match="line 1"):
        parse_rules_text("type:Foo", is_builtin=False)
