"""Read input files into raw event values: JSON events or Sentry envelopes.

A file is one JSON event object, a JSON list of event objects, or a Sentry
envelope. Files named `*.envelope` are always read as envelopes. Any other
file is read as JSON first, and as an envelope when it is not valid JSON but
its first two lines are envelope headers.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from consumers.ingest.envelope import EnvelopeError, looks_like_envelope, parse_envelope

ENVELOPE_SUFFIX = ".envelope"
DIRECTORY_SUFFIXES = (".json", ENVELOPE_SUFFIX)


@dataclass(frozen=True)
class RawItem:
    """One event candidate: its position in the file and its decoded JSON value.

    `error` is set instead of `value` when the item could not be decoded.
    """

    index: int
    value: object = None
    error: str | None = None


@dataclass
class Source:
    """The decoded contents of one file.

    `error` is set when the whole file is unreadable; `ignored` counts
    envelope items of other types than `event`, by type.
    """

    name: str
    items: list[RawItem] = field(default_factory=list)
    ignored: Counter[str] = field(default_factory=Counter)
    error: str | None = None


def items_from_json(value: object) -> list[RawItem] | None:
    """Split a decoded JSON document into items; None when it is neither shape."""
    if isinstance(value, dict):
        return [RawItem(0, value)]
    if isinstance(value, list):
        return [RawItem(index, element) for index, element in enumerate(value)]
    return None


def _from_envelope(name: str, data: bytes) -> Source:
    try:
        envelope = parse_envelope(data)
    except EnvelopeError as error:
        return Source(name, error=f"invalid envelope: {error}")
    source = Source(name)
    for item in envelope.items:
        if item.type != "event":
            source.ignored[item.type] += 1
            continue
        try:
            source.items.append(RawItem(item.index, json.loads(item.payload)))
        except (ValueError, RecursionError) as error:
            source.items.append(
                RawItem(item.index, error=f"event item is not valid JSON: {error}")
            )
    return source


def decode_source(name: str, data: bytes, *, envelope: bool = False) -> Source:
    """Decode file contents into a `Source`.

    Contents that cannot be decoded are reported in `Source.error` or in an
    item's `error`, not raised.
    """
    if envelope:
        return _from_envelope(name, data)
    try:
        document = json.loads(data)
    except (ValueError, RecursionError) as error:
        if looks_like_envelope(data):
            return _from_envelope(name, data)
        return Source(name, error=f"invalid JSON: {error}")
    items = items_from_json(document)
    if items is None:
        return Source(
            name,
            error=f"top-level JSON value is a {type(document).__name__}, "
            "expected an event object or a list of events",
        )
    return Source(name, items=items)


def read_source(path: Path) -> Source:
    """Read and decode one file. Raises `OSError` when it cannot be read."""
    return decode_source(
        str(path), path.read_bytes(), envelope=path.suffix == ENVELOPE_SUFFIX
    )


def expand_paths(paths: Iterable[str | Path]) -> Iterator[Path]:
    """Yield files as given, and the event files under directories.

    Under a directory, only `*.json` and `*.envelope` files count, sorted by
    path; hidden files and directories (names starting with '.') are
    skipped. A file named directly is yielded whatever its name.
    """
    for path in map(Path, paths):
        if not path.is_dir():
            yield path
            continue
        for child in sorted(path.rglob("*")):
            relative = child.relative_to(path).parts
            if (
                child.is_file()
                and child.suffix in DIRECTORY_SUFFIXES
                and not any(part.startswith(".") for part in relative)
            ):
                yield child
