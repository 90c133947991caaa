from __future__ import annotations

from consumers.ingest.sources import decode_source


def test_deeply_nested_json_is_reported() -> None:
    data = b"[" * 100_000 + b"]" * 100_000
    source = decode_source("deep.json", data)
    assert source.error is not None
    assert "invalid JSON" in source.error
    assert source.items == []
