"""The check at start that the consumer's topics exist.

`run` reads the input topic and writes the dead-letter, outcomes and input
topics. A topic missing at start is an error naming each missing topic,
instead of a failure of the first delivery after a batch's work was done.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

from confluent_kafka.admin import AdminClient

from consumers.kafka.config import KafkaOptions, admin_config
from consumers.kafka.topics import existing_topics


class TopicRole(enum.Enum):
    """Role of a topic for the consumer: the source of batches, or an output."""

    INPUT = "input"
    DEAD_LETTER = "dead-letter"
    OUTCOMES = "outcomes"


class MissingTopics(Exception):
    """Topics that the consumer reads or writes do not exist on the cluster.

    ``missing`` maps each missing topic's role to its name.
    """

    def __init__(self, bootstrap_servers: str, missing: Mapping[TopicRole, str]):
        listed = ", ".join(
            f"{role.value} topic {name!r}" for role, name in missing.items()
        )
        super().__init__(f"topics missing on {bootstrap_servers}: {listed}")
        self.bootstrap_servers = bootstrap_servers
        self.missing = dict(missing)


def check_topics(
    bootstrap_servers: str,
    kafka_options: KafkaOptions,
    required: Mapping[TopicRole, str],
) -> None:
    """Raise `MissingTopics` unless every topic of `required` exists.

    Producers do not create missing topics (`producer_config`), so without
    this check a missing output topic would fail every delivery after the
    batch's work was done. The check runs even when an -O option lets
    producers create topics. Raises `KafkaAdminError` when the metadata
    request fails.
    """
    admin = AdminClient(admin_config(bootstrap_servers, kafka_options))
    try:
        # A metadata request that names topics could create them, so this
        # one lists every topic.
        present = existing_topics(admin)
    finally:
        # Hands librdkafka's queued lines to the rate-limited logger.
        admin.poll(0)
    missing = {role: name for role, name in required.items() if name not in present}
    if missing:
        raise MissingTopics(bootstrap_servers, missing)
