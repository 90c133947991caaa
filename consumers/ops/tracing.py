"""Error reporting and tracing of the consumer itself with the sentry-sdk.

Off unless the environment variable `SENTRY_DSN` is set. The SDK then
reports the consumer's own unhandled errors and samples passes through the
stages as transactions (`SENTRY_TRACES_SAMPLE_RATE`, default 0.01).
Request bodies, local variables and default PII are never sent, because a
batch carries customer stack traces and the Seer shared secret lives in
the process.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager

import sentry_sdk

logger = logging.getLogger(__name__)


def init_sentry(service: str) -> bool:
    """Initialise the SDK from the environment; return whether it is on."""
    dsn = os.environ.get("SENTRY_DSN")
    if not dsn:
        return False
    rate = float(os.environ.get("SENTRY_TRACES_SAMPLE_RATE", "0.01"))
    sentry_sdk.init(
        dsn=dsn,
        traces_sample_rate=rate,
        send_default_pii=False,
        include_local_variables=False,
        max_request_body_size="never",
        server_name=None,
        release=os.environ.get("SENTRY_RELEASE"),
        environment=os.environ.get("SENTRY_ENVIRONMENT", "production"),
    )
    sentry_sdk.set_tag("service", f"seer-backfill-{service}")
    logger.info("Sentry error reporting on (traces sample rate %.3f)", rate)
    return True


@contextmanager
def stage_transaction(stage: str) -> Iterator[None]:
    """Trace one pass through a pipeline stage when the SDK is on.

    Stages run on different threads and processes, so each pass is its own
    transaction (`seer_backfill.<stage>`) instead of a span of a batch-wide
    one. Without the SDK this costs one attribute check.
    """
    if not sentry_sdk.get_client().is_active():
        yield
        return
    with sentry_sdk.start_transaction(
        op="queue.process", name=f"seer_backfill.{stage}"
    ):
        yield
