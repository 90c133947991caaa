from __future__ import annotations

import json
import zlib
from datetime import UTC, datetime, timedelta

import pytest

from consumers.ingest.prepare import (
    InvalidEvent,
    PreparedEvent,
    content_event_id,
    parse_timestamp,
    prepare_event,
)


def prepare(value: object, **kwargs: object) -> PreparedEvent | InvalidEvent:
    return prepare_event(value, source="test.json", index=3, project_id=1, **kwargs)  # type: ignore[arg-type]


def test_prepare_valid_error_event() -> None:
    event = {
        "event_id": "0f2ecb34-9938-46fa-b03f-3a0bab6343e5",
        "timestamp": 1_700_000_000,
        "platform": "python",
        "exception": {"values": [{"type": "KeyError", "value": "'x'"}]},
    }
    prepared = prepare(event)
    assert isinstance(prepared, PreparedEvent)
    assert prepared.event_id == "0f2ecb34993846fab03f3a0bab6343e5"
    assert prepared.timestamp == datetime.fromtimestamp(1_700_000_000, UTC)
    assert prepared.summary.title == "KeyError: 'x'"
    assert prepared.platform == "python"
    assert len(prepared.hashes[0]) == 32


def test_prepare_payload_carries_hashes() -> None:
    prepared = prepare({"message": "hello"})
    assert isinstance(prepared, PreparedEvent)
    payload = json.loads(zlib.decompress(prepared.payload))
    assert payload["hashes"] == list(prepared.hashes)
    assert payload["event_id"] == prepared.event_id


def test_prepare_rejects_non_object() -> None:
    result = prepare(["a"])
    assert result == InvalidEvent("test.json", 3, "not a JSON object (got list)")


def test_prepare_rejects_bad_event_id() -> None:
    result = prepare({"event_id": 12, "message": "x"})
    assert isinstance(result, InvalidEvent)
    assert result.reason == "invalid event_id 12: expected 32 hex digits or a UUID"


def test_prepare_rejects_bad_hashes() -> None:
    result = prepare({"message": "x", "hashes": "abc"})
    assert isinstance(result, InvalidEvent)
    assert result.reason.startswith("invalid hashes 'abc'")


def test_prepare_keeps_stored_hashes_lowercased() -> None:
    result = prepare({"message": "x", "hashes": ["ABCDEF0123456789ABCDEF0123456789"]})
    assert isinstance(result, PreparedEvent)
    assert result.hashes == ("abcdef0123456789abcdef0123456789",)


def test_prepare_derives_id_from_content() -> None:
    event = {"message": "no id"}
    result = prepare(event)
    assert isinstance(result, PreparedEvent)
    assert result.event_id == content_event_id(event)


def test_content_event_id_ignores_key_order() -> None:
    assert content_event_id({"a": 1, "b": 2}) == content_event_id({"b": 2, "a": 1})


def test_prepare_shifts_timestamp() -> None:
    result = prepare(
        {"message": "x", "timestamp": 1_000}, time_offset=timedelta(seconds=500)
    )
    assert isinstance(result, PreparedEvent)
    assert result.timestamp == datetime.fromtimestamp(1_500, UTC)


def test_prepare_does_not_shift_missing_timestamp() -> None:
    before = datetime.now(UTC)
    result = prepare({"message": "x"}, time_offset=timedelta(days=-400))
    assert isinstance(result, PreparedEvent)
    assert result.timestamp >= before - timedelta(seconds=1)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1_600_000_000, datetime.fromtimestamp(1_600_000_000, UTC)),
        ("1600000000.5", datetime.fromtimestamp(1_600_000_000.5, UTC)),
        ("2020-09-13T12:26:40Z", datetime(2020, 9, 13, 12, 26, 40, tzinfo=UTC)),
        ("2018-10-25T13:03:40", datetime(2018, 10, 25, 13, 3, 40, tzinfo=UTC)),
        ("yesterday", None),
        (True, None),
        (None, None),
        (1e20, None),
    ],
)
def test_parse_timestamp(value: object, expected: datetime | None) -> None:
    assert parse_timestamp(value) == expected
