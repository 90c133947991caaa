"""A consumer whose setup fails leaves no client or thread running."""

from __future__ import annotations

import dataclasses
import threading
import time
from pathlib import Path

import psycopg
import pytest

from consumers.pipeline.hashing import RulesFileError
from consumers.pipeline.runner import (
    ConsumerOptions,
    run_consumer,
)
from consumers.pipeline.settings import PipelineSettings
from consumers.pipeline.topic_check import MissingTopics, TopicRole
from tests.pipeline.conftest import Topics


def _new_threads(before: set[threading.Thread], wait_seconds: float) -> list[str]:
    """Names of threads started since `before` that are still alive.

    Threads that are closing get `wait_seconds` to end.
    """
    deadline = time.monotonic() + wait_seconds
    while True:
        alive = [t for t in threading.enumerate() if t not in before and t.is_alive()]
        if not alive or time.monotonic() >= deadline:
            return [t.name for t in alive]
        time.sleep(0.05)


def _options(bootstrap_servers: str, topics: Topics) -> ConsumerOptions:
    return ConsumerOptions(
        bootstrap_servers=bootstrap_servers,
        group_id="setup-failure",
        dlq_topic=topics.dlq,
    )


def test_invalid_rules_file_leaves_no_thread(
    bootstrap_servers: str, topics: Topics, clean_database: str, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.txt"
    rules.write_text("this is not a rule\n")
    settings = PipelineSettings(
        database_url=clean_database,
        seer_url="http://127.0.0.1:9",
        input_topic=topics.input,
        outcomes_topic=topics.outcomes,
        rules_path=str(rules),
        malloc_trim_interval_seconds=0,
    )
    before = set(threading.enumerate())
    with pytest.raises(RulesFileError):
        run_consumer(settings, _options(bootstrap_servers, topics))
    assert _new_threads(before, wait_seconds=5) == []


def test_missing_database_leaves_no_thread(
    bootstrap_servers: str, topics: Topics, clean_database: str
) -> None:
    missing = clean_database.rsplit("/", 1)[0] + "/no_such_database_for_setup"
    settings = PipelineSettings(
        database_url=missing,
        seer_url="http://127.0.0.1:9",
        input_topic=topics.input,
        outcomes_topic=topics.outcomes,
        malloc_trim_interval_seconds=0,
    )
    before = set(threading.enumerate())
    with pytest.raises(psycopg.OperationalError):
        run_consumer(settings, _options(bootstrap_servers, topics))
    assert _new_threads(before, wait_seconds=5) == []


def test_missing_topic_raises_before_producer(
    bootstrap_servers: str, topics: Topics, clean_database: str
) -> None:
    missing = f"{topics.dlq}-absent"
    settings = PipelineSettings(
        database_url=clean_database,
        seer_url="http://127.0.0.1:9",
        input_topic=topics.input,
        outcomes_topic=topics.outcomes,
        malloc_trim_interval_seconds=0,
    )
    options = dataclasses.replace(
        _options(bootstrap_servers, topics), dlq_topic=missing
    )
    before = set(threading.enumerate())
    with pytest.raises(MissingTopics) as raised:
        run_consumer(settings, options)
    assert raised.value.missing == {TopicRole.DEAD_LETTER: missing}
    assert raised.value.bootstrap_servers == bootstrap_servers
    assert _new_threads(before, wait_seconds=5) == []
