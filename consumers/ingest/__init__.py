"""Load Sentry events into the database: projects, groups, hashes, events, node store.

Input is JSON (one event or a list) or Sentry envelopes. Each event is
normalised by Relay, hashed with the project's grouping (stored `hashes`
are kept), and written in batches. Re-ingesting the same input is a no-op.
"""

from consumers.ingest.envelope import (
    Envelope,
    EnvelopeError,
    EnvelopeItem,
    parse_envelope,
)
from consumers.ingest.loader import (
    Database,
    IngestOptions,
    Ingestor,
    ingest_events,
    ingest_file,
    ingest_paths,
    shift_to_now_offset,
)
from consumers.ingest.nodestore import decode_payload, node_id
from consumers.ingest.prepare import (
    InvalidEvent,
    PreparedEvent,
    content_event_id,
    prepare_event,
)
from consumers.ingest.report import IngestReport
from consumers.ingest.store import ProjectSettings

__all__ = [
    "Database",
    "Envelope",
    "EnvelopeError",
    "EnvelopeItem",
    "IngestOptions",
    "IngestReport",
    "Ingestor",
    "InvalidEvent",
    "PreparedEvent",
    "ProjectSettings",
    "content_event_id",
    "decode_payload",
    "ingest_events",
    "ingest_file",
    "ingest_paths",
    "node_id",
    "parse_envelope",
    "prepare_event",
    "shift_to_now_offset",
]
