from __future__ import annotations

from pathlib import Path

from consumers.ingest.sources import decode_source, expand_paths, read_source


def test_decode_single_object() -> None:
    source = decode_source("one.json", b'{"message": "x"}')
    assert [item.value for item in source.items] == [{"message": "x"}]


def test_decode_list_keeps_indexes() -> None:
    source = decode_source("many.json", b'[{"a": 1}, 2, {"b": 3}]')
    assert [item.index for item in source.items] == [0, 1, 2]
    assert source.items[1].value == 2


def test_decode_invalid_json_names_error() -> None:
    source = decode_source("bad.json", b'{"a": 1,,}')
    assert source.error is not None
    assert source.error.startswith("invalid JSON: Expecting")


def test_decode_scalar_document_rejected() -> None:
    source = decode_source("scalar.json", b'"just a string"')
    assert source.error == (
        "top-level JSON value is a str, expected an event object or a list of events"
    )


def test_decode_envelope_counts_other_items() -> None:
    data = (
        b'{"event_id":"ab"}\n{"type":"event"}\n{"message":"m"}\n'
        b'{"type":"attachment","length":3}\nabc\n{"type":"client_report"}\n{}\n'
    )
    source = decode_source("x.bin", data)
    assert [item.value for item in source.items] == [{"message": "m"}]
    assert dict(source.ignored) == {"attachment": 1, "client_report": 1}


def test_decode_envelope_bad_event_item() -> None:
    source = decode_source(
        "x.envelope", b'{}\n{"type":"event"}\n{nope\n', envelope=True
    )
    assert source.items[0].index == 0
    assert source.items[0].error is not None
    assert source.items[0].error.startswith("event item is not valid JSON")


def test_decode_broken_envelope_is_file_error() -> None:
    source = decode_source(
        "x.envelope", b'{}\n{"type":"event","length":99}\n{}', envelope=True
    )
    assert source.error is not None
    assert source.error.startswith("invalid envelope: item 0 declares 99")


def test_read_source_uses_envelope_suffix(tmp_path: Path) -> None:
    path = tmp_path / "e.envelope"
    path.write_bytes(b'{}\n{"type":"event"}\n{"message":"m"}\n')
    assert read_source(path).items[0].value == {"message": "m"}


def test_expand_paths_sorts_and_skips_hidden(tmp_path: Path) -> None:
    (tmp_path / "b.json").write_text("{}")
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "c.json").write_text("{}")
    (tmp_path / "a" / "d.envelope").write_text("{}")
    (tmp_path / ".hidden.json").write_text("{}")
    (tmp_path / "notes.txt").write_text("not an event")
    names = [p.relative_to(tmp_path).as_posix() for p in expand_paths([tmp_path])]
    assert names == ["a/c.json", "a/d.envelope", "b.json"]


def test_expand_paths_keeps_named_file(tmp_path: Path) -> None:
    path = tmp_path / "events.txt"
    path.write_text("{}")
    assert list(expand_paths([path])) == [path]
