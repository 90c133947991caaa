"""The Seer stage's outage retries against the real Seer-compatible service."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from psycopg_pool import ConnectionPool

from consumers.log_throttle import LogThrottle
from consumers.messages import ProjectBatch
from consumers.pipeline.seer import SubmitToSeer
from consumers.pipeline.settings import PipelineSettings
from consumers.pipeline.types import (
    Action,
    BatchPlan,
    Coordinates,
    DecodedBatch,
    HashedBatch,
    Project,
    SeerRecord,
)
from consumers.seer import RetryPolicy, SeerClient, SeerClientConfig
from consumers.seer.service.server import SeerService
from tests.clocks import SteppingClock

STAGE_LOGGER = "consumers.pipeline.seer"


class NeverStopping(threading.Event):
    """A stop event whose backoff waits return at once, so retries run fast."""

    def wait(self, timeout: float | None = None) -> bool:
        return False


def hashed_batch() -> HashedBatch:
    batch = ProjectBatch(run_id="run-1", project_id=7, cursor=0)
    source = Coordinates(
        topic="backfill-project-batches",
        partition=1,
        offset=42,
        timestamp=datetime.now(UTC),
    )
    plan = BatchPlan(
        source=DecodedBatch(batch=batch, source=source),
        action=Action.BACKFILL,
        project=Project(id=7, organization_id=1, platform="python"),
    )
    record = SeerRecord(
        group_id=1,
        hash=uuid.uuid4().hex,
        exception_type="ValueError",
        stacktrace='ValueError: bad\n  File "app/a.py", function a\n    a()',
    )
    return HashedBatch(plan=plan, records=(record,), filtered={})


@pytest.fixture
def client(seer_service: SeerService) -> Iterator[SeerClient]:
    # One attempt per call, so every 503 reaches the stage's outage retry.
    config = SeerClientConfig(
        base_url=seer_service.url, retry=RetryPolicy(max_attempts=1)
    )
    with SeerClient(config) as seer_client:
        yield seer_client


def test_outage_warnings_throttled(
    seer_service: SeerService,
    client: SeerClient,
    clean_database: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    seer_service.update_faults(fail_next=4, error_status=503)
    # Reads at 4, 8, 12 and 16 s: with a 10 s interval the first and the
    # fourth warning pass, and the fourth counts the two between them.
    outage_log = LogThrottle(10.0, clock=SteppingClock(4.0))
    settings = PipelineSettings(
        database_url=clean_database, seer_url=client.config.base_url
    )
    pool = ConnectionPool(clean_database, open=False)
    stage = SubmitToSeer(client, pool, settings, NeverStopping(), outage_log=outage_log)
    hashed = hashed_batch()
    caplog.set_level(logging.WARNING, logger=STAGE_LOGGER)
    try:
        response = stage._post_until_available(hashed, hashed.records)
    finally:
        stage.close()

    assert response.groups_with_neighbor == {}
    assert seer_service.stats().count("grouping_records", 503) == 4
    assert seer_service.stats().count("grouping_records", 200) == 1
    warnings = [
        record.getMessage()
        for record in caplog.records
        if record.name == STAGE_LOGGER and record.levelno == logging.WARNING
    ]
    assert len(warnings) == 2
    ids = hashed.plan.source.log_ids()
    assert "partition=1 offset=42" in ids
    assert all(ids in message for message in warnings)
    assert "suppressed" not in warnings[0]
    assert warnings[1].endswith("(2 similar lines suppressed since the previous one)")
