from __future__ import annotations

import hashlib
import zlib

import pytest

from consumers.ingest.nodestore import decode_payload, node_id


def test_node_id_uses_hex_event_id() -> None:
    expected = hashlib.md5(b"5:0f2ecb34993846fab03f3a0bab6343e5").hexdigest()
    assert node_id(5, "0f2ecb34-9938-46fa-b03f-3a0bab6343e5") == expected
    assert node_id(5, "0F2ECB34993846FAB03F3A0BAB6343E5") == expected


def test_node_id_rejects_non_uuid() -> None:
    with pytest.raises(ValueError):
        node_id(5, "nope")


def test_decode_payload_rejects_list() -> None:
    with pytest.raises(ValueError, match="JSON list"):
        decode_payload(zlib.compress(b"[1]"))
