from __future__ import annotations

import json
from datetime import UTC, datetime

from sentry_kafka_schemas import get_codec

from consumers.messages import ProjectBatch
from consumers.pipeline.cohorts import next_project_batch
from consumers.pipeline.outcomes import build_outcomes

WHEN = datetime(2026, 12, 4, 10, 30, tzinfo=UTC)


def test_outcomes_validate_against_schema() -> None:
    outcomes = build_outcomes(
        batch_key="k",
        timestamp=WHEN,
        org_id=1,
        project_id=2,
        accepted=5,
        filtered={"seen_once": 3, "no_event": 1},
    )
    codec = get_codec("outcomes")
    bodies = [json.loads(o.value) for o in outcomes]
    for body in bodies:
        codec.validate(body)
    assert [(b["outcome"], b["reason"], b["quantity"]) for b in bodies] == [
        (0, None, 5),
        (1, "no_event", 1),
        (1, "seen_once", 3),
    ]
    assert bodies[0]["timestamp"] == "2026-12-04T10:30:00.000000Z"


def test_outcomes_are_identical_when_rebuilt() -> None:
    first = build_outcomes(
        batch_key="k", timestamp=WHEN, org_id=1, project_id=2, accepted=1, filtered={}
    )
    second = build_outcomes(
        batch_key="k", timestamp=WHEN, org_id=1, project_id=2, accepted=1, filtered={}
    )
    assert first == second
    assert first[0].key == b"k:0:"


def test_empty_batch_has_no_outcomes() -> None:
    outcomes = build_outcomes(
        batch_key="k", timestamp=WHEN, org_id=1, project_id=2, accepted=0, filtered={}
    )
    assert outcomes == []


def test_next_project_in_cohort() -> None:
    batch = ProjectBatch(run_id="r", project_id=3, cursor=9, cohort=(3, 4))
    following = next_project_batch(batch)
    assert following is not None
    assert following.project_id == 4
    assert following.cohort_index == 1
    assert following.cursor is None


def test_chain_ends_after_last_project() -> None:
    batch = ProjectBatch(run_id="r", project_id=4, cohort=(3, 4), cohort_index=1)
    assert next_project_batch(batch) is None


def test_worker_asks_for_next_cohort() -> None:
    batch = ProjectBatch(
        run_id="r",
        project_id=8,
        cohort=(2, 8),
        cohort_index=1,
        worker_number=0,
        total_workers=2,
    )
    following = next_project_batch(batch)
    assert following is not None
    assert following.project_id is None
    assert following.last_project_id == 8
    assert following.cohort is None
