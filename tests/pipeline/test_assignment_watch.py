"""The warning of a consumer that gets no partition."""

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


def test_unassigned_consumer_warns(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=RUNNER_LOGGER)
    activity = Activity()
    done = threading.Event()
    threading.Timer(0.35, done.set).start()
    watch_assignment(activity, done, "backfill", "batches", interval=0.1)
    lines = _warnings(caplog)
    assert len(lines) >= 2
    assert lines[0].startswith("no partition of batches assigned to group backfill")
    assert "lag --group backfill" in lines[0]


def test_assignment_ends_the_warnings(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=RUNNER_LOGGER)
    activity = Activity()
    activity.assign()
    done = threading.Event()
    watcher = threading.Thread(
        target=watch_assignment,
        args=(activity, done, "backfill", "batches"),
        kwargs={"interval": 0.05},
    )
    watcher.start()
    watcher.join(timeout=2)
    assert not watcher.is_alive()
    assert _warnings(caplog) == []
