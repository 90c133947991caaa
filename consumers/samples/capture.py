"""Capture exceptions with the real sentry-sdk, without any network traffic.

`SdkCapture` owns a `sentry_sdk.Client` whose transport is an
`EnvelopeCollector`: the SDK builds, scrubs and serialises each event exactly
as it would for sentry.io, then hands the envelope to the collector, which
keeps it in memory. The DSN names a closed loopback port and no transport
ever sends, so no host is contacted. The client is bound to an isolation
scope per capture, not installed globally, so the caller's own SDK setup
(if any) is left alone.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from types import TracebackType
from typing import Any

import sentry_sdk
from sentry_sdk.envelope import Envelope
from sentry_sdk.transport import Transport
from sentry_sdk.utils import event_from_exception

import consumers.samples.app

# Port 1 on loopback: nothing listens there, and the collector never sends.
LOOPBACK_DSN = "http://public@127.0.0.1:1/1"
RELEASE = "shop@2.4.1"
SERVER_NAME = "shop-web-1"

# Frames of the sample application (views included) are "in app". The
# standard library, the scenario runner and the capture harness are not.
IN_APP_INCLUDE = ["consumers.samples.app"]
IN_APP_EXCLUDE = ["consumers.samples", *sorted(sys.stdlib_module_names)]


class EnvelopeCollector(Transport):
    """A transport that stores every envelope in `envelopes` and sends nothing."""

    def __init__(self) -> None:
        super().__init__(None)
        self.envelopes: list[Envelope] = []

    def capture_envelope(self, envelope: Envelope) -> None:
        self.envelopes.append(envelope)


class SdkCapture:
    """A sentry-sdk client that turns exceptions into serialised events.

    Use as a context manager, or call `close` when done. Not thread-safe:
    one capture runs at a time.
    """

    def __init__(self, *, environment: str = "production") -> None:
        self.collector = EnvelopeCollector()
        self.client = sentry_sdk.Client(
            dsn=LOOPBACK_DSN,
            transport=self.collector,
            release=RELEASE,
            environment=environment,
            server_name=SERVER_NAME,
            default_integrations=False,
            auto_enabling_integrations=False,
            integrations=[],
            in_app_include=IN_APP_INCLUDE,
            in_app_exclude=IN_APP_EXCLUDE,
            project_root=str(next(iter(consumers.samples.app.__path__))),
            include_local_variables=True,
            send_client_reports=False,
            enable_backpressure_handling=False,
            traces_sample_rate=None,
        )

    def capture(
        self,
        error: BaseException,
        *,
        event_id: str,
        timestamp: datetime,
        tags: dict[str, str] | None = None,
        transaction: str | None = None,
    ) -> Envelope:
        """Capture `error` and return the one envelope the SDK produced.

        `event_id` (32 hex digits) and `timestamp` (timezone-aware) replace
        the random id and the current time the SDK would use. Raises
        `RuntimeError` when the SDK dropped the event or sent more than one
        envelope.
        """
        event, hint = event_from_exception(error, client_options=self.client.options)
        event["event_id"] = event_id
        event["timestamp"] = timestamp
        if transaction is not None:
            event["transaction"] = transaction
        with sentry_sdk.isolation_scope() as scope:
            scope.set_client(self.client)
            for key, value in (tags or {}).items():
                scope.set_tag(key, value)
            scope.capture_event(event, hint)
        envelopes, self.collector.envelopes = self.collector.envelopes, []
        if len(envelopes) != 1:
            raise RuntimeError(
                f"sentry-sdk produced {len(envelopes)} envelopes for event "
                f"{event_id}, expected 1"
            )
        return envelopes[0]

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> SdkCapture:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def event_payload(envelope: Envelope) -> dict[str, Any]:
    """Decode the `event` item of an envelope from its serialised bytes.

    Raises `ValueError` when the envelope has no event item.
    """
    for item in envelope.items:
        if item.type == "event":
            payload = json.loads(item.get_bytes())
            if isinstance(payload, dict):
                return payload
    raise ValueError("envelope has no event item")
