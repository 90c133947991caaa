from __future__ import annotations

import json

import pytest
from sentry_sdk.envelope import Envelope as SdkEnvelope

from consumers.ingest.envelope import EnvelopeError, looks_like_envelope, parse_envelope


def sdk_envelope_bytes() -> bytes:
    envelope = SdkEnvelope(headers={"event_id": "a" * 32})
    envelope.add_event({"event_id": "a" * 32, "message": "first line\nsecond line"})
    return envelope.serialize()


def test_parse_sdk_envelope() -> None:
    parsed = parse_envelope(sdk_envelope_bytes())
    assert parsed.headers == {"event_id": "a" * 32}
    assert [item.type for item in parsed.items] == ["event"]
    assert json.loads(parsed.items[0].payload)["message"] == "first line\nsecond line"


def test_parse_length_payload_with_newlines() -> None:
    payload = b"line one\nline two"
    data = b'{}\n{"type":"attachment","length":%d}\n%s\n{"type":"event"}\n{"x":1}\n' % (
        len(payload),
        payload,
    )
    parsed = parse_envelope(data)
    assert parsed.items[0].payload == payload
    assert parsed.items[1].payload == b'{"x":1}'
    assert parsed.items[1].index == 1


def test_parse_payload_without_length_at_end() -> None:
    parsed = parse_envelope(b'{}\n{"type":"event"}\n{"a":2}')
    assert parsed.items[0].payload == b'{"a":2}'


def test_parse_length_payload_at_end_without_newline() -> None:
    parsed = parse_envelope(b'{}\n{"type":"event","length":2}\n{}')
    assert parsed.items[0].payload == b"{}"


def test_parse_header_only() -> None:
    parsed = parse_envelope(b'{"event_id":"x"}\n')
    assert parsed.items == ()


def test_parse_blank_lines_between_items() -> None:
    parsed = parse_envelope(b'{}\n{"type":"session"}\n{}\n\n{"type":"event"}\n{}\n\n')
    assert [item.type for item in parsed.items] == ["session", "event"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"not json\n", "envelope header is not valid JSON"),
        (b"[1]\n", "envelope header must be a JSON object"),
        (b'{}\n{"type":"event","length":10}\n{}', "declares 10 payload bytes"),
        (b'{}\n{"type":"event","length":-1}\n{}', "invalid length -1"),
        (b'{}\n{"type":"event","length":"2"}\n{}', "invalid length '2'"),
        (b'{}\n{"type":"event","length":1}\n{}\n', "expected a newline"),
        (b'{}\n{"length":2}\n{}\n', "no string 'type'"),
        (b'{}\n{"type":"event"}\n{}\nbroken\n', "header of item 1 is not valid JSON"),
    ],
)
def test_parse_rejects_broken_framing(data: bytes, message: str) -> None:
    with pytest.raises(EnvelopeError, match=message):
        parse_envelope(data)


def test_looks_like_envelope_detects_sdk_output() -> None:
    assert looks_like_envelope(sdk_envelope_bytes())


def test_looks_like_envelope_rejects_pretty_json() -> None:
    assert not looks_like_envelope(b'{\n  "event_id": "x"\n}\n')
