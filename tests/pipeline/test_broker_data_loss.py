"""A broker that loses its data while the consumer runs.

tansu keeps everything in memory, so a restart on the same port is a broker
that lost its topics and its producer state. The consumer's idempotent
producer then gets no acknowledgement for what the next batch produces, and
the consumer must stop with exit 1 and an error line, without committing
that batch, instead of waiting forever.
"""

from __future__ import annotations

import subprocess
import time
import uuid

from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from consumers.embedded.broker import EmbeddedBroker
from consumers.messages import ProjectBatch
from consumers.seer.service.server import SeerService

from .conftest import (
    Topics,
    committed_offsets,
    load_sdk_events,
    run_command,
    schedule_batches,
)


def create_topics(bootstrap_servers: str, topics: Topics) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap_servers})
    names = (topics.input, topics.dlq, topics.outcomes)
    futures = admin.create_topics([NewTopic(name, 2, 1) for name in names])
    for future in futures.values():
        future.result(timeout=10)


def test_unacknowledged_delivery_exits_1(
    clean_database: str, seer_service: SeerService
) -> None:
    load_sdk_events(clean_database, [41, 42], count=40, seed=5)
    suffix = uuid.uuid4().hex[:8]
    topics = Topics(
        input=f"batches-{suffix}",
        dlq=f"dlq-{suffix}",
        outcomes=f"outcomes-{suffix}",
        group=f"group-{suffix}",
    )
    broker = EmbeddedBroker().start()
    create_topics(broker.bootstrap_servers, topics)

    process = subprocess.Popen(
        run_command(
            broker.bootstrap_servers,
            topics,
            clean_database,
            seer_service.url,
            "--produce-timeout",
            "5",
        ),
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        schedule_batches(
            broker.bootstrap_servers,
            topics,
            [ProjectBatch(run_id=str(uuid.uuid4()), project_id=41)],
        )
        # Project 41's batches run before the restart.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not committed_offsets(
            broker.bootstrap_servers, topics
        ):
            time.sleep(0.5)

        broker.stop(grace=0.2)
        broker = EmbeddedBroker(port=broker.port).start()
        create_topics(broker.bootstrap_servers, topics)
        schedule_batches(
            broker.bootstrap_servers,
            topics,
            [ProjectBatch(run_id=str(uuid.uuid4()), project_id=42)],
        )

        _, stderr = process.communicate(timeout=150)
        committed = committed_offsets(broker.bootstrap_servers, topics)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        broker.stop(grace=0.2)

    assert process.returncode == 1, stderr[-3000:]
    last_line = stderr.strip().splitlines()[-1]
    assert last_line.startswith("Error: "), last_line
    # The delivery times out, or librdkafka gives up on the producer first.
    reasons = ("the broker did not acknowledge", "the Kafka producer failed")
    assert any(reason in last_line for reason in reasons), last_line
    assert "project=42" in last_line
    assert "--bootstrap-servers" in last_line
    # Project 42's first batch failed, so nothing of the new topic is committed.
    assert not committed
