"""The warning of a consumer without assigned partitions."""

from __future__ import annotations

import logging
import threading

import pytest

from consumers.pipeline.activity import Activity
from consumers.pipeline.runner import watch_assignment

RUNNER_LOGGER = "consumers.pipeline.runner"


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == RUNNER_LOGGER and record.levelno == logging.WARNING
    ]


def _watch(activity: Activity, seconds: float) -> None:
    done = threading.Event()
    threading.Timer(seconds, done.set).start()
    watch_assignment(activity, done, "backfill", "batches", interval=0.1)


def test_unassigned_consumer_warns(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=RUNNER_LOGGER)
    _watch(Activity(), 0.45)
    lines = _warnings(caplog)
    assert len(lines) >= 2
    assert lines[0].startswith("no partition of batches assigned to group backfill")
    assert "lag --group backfill" in lines[0]


def test_assigned_consumer_is_quiet(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=RUNNER_LOGGER)
    activity = Activity()
    activity.assign()
    _watch(activity, 0.35)
    assert _warnings(caplog) == []


def test_revoked_consumer_warns_again(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=RUNNER_LOGGER)
    activity = Activity()
    activity.assign()
    activity.release()
    _watch(activity, 0.35)
    assert _warnings(caplog)
