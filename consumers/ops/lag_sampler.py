"""A background thread that keeps the consumer-lag gauges up to date.

The running consumer starts one `LagSampler`. Every `interval` seconds it
takes a lag snapshot of its group on its topic (all partitions, not only the
ones this process owns) and sets `seer_backfill_consumer_lag_messages` and
`seer_backfill_consumer_lag_seconds`. A failed sample is logged and retried
at the next interval; the gauges keep their last values meanwhile.
"""

from __future__ import annotations

import logging
import threading

from confluent_kafka import KafkaException

from consumers.kafka.admin import KafkaAdminError
from consumers.kafka.config import KafkaOptions
from consumers.ops.lag import LagReader, LagSnapshot
from consumers.ops.metrics import set_partition_lag

logger = logging.getLogger(__name__)


class LagSampler:
    """Sample the lag of `group` on `topic` every `interval` seconds until `stop`."""

    def __init__(
        self,
        bootstrap_servers: str,
        group: str,
        topic: str,
        interval: float = 30.0,
        *,
        options: KafkaOptions | None = None,
        fetch_timeout: float = 5.0,
    ) -> None:
        if interval <= 0:
            raise ValueError(f"lag sampling interval {interval} must be positive")
        self.bootstrap_servers = bootstrap_servers
        self.group = group
        self.topic = topic
        self.interval = interval
        self.options = options
        self.fetch_timeout = fetch_timeout
        self.last_snapshot: LagSnapshot | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"lag-sampler-{group}", daemon=True
        )
        self._failures = 0

    def start(self) -> LagSampler:
        self._thread.start()
        logger.info(
            "lag sampler started for group %s on %s every %.0f s",
            self.group,
            self.topic,
            self.interval,
        )
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the thread and wait up to `timeout` seconds for it to finish."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        logger.info("lag sampler stopped for group %s on %s", self.group, self.topic)

    def sample_once(self, reader: LagReader) -> LagSnapshot:
        """Take one snapshot with `reader` and set the gauges from it."""
        snapshot = reader.sample()
        for p in snapshot.partitions:
            set_partition_lag(self.topic, p.partition, p.lag, p.lag_seconds)
        self.last_snapshot = snapshot
        return snapshot

    def _run(self) -> None:
        with LagReader(
            self.bootstrap_servers,
            self.group,
            self.topic,
            options=self.options,
            fetch_timeout=self.fetch_timeout,
        ) as reader:
            while not self._stop.is_set():
                self._sample_logged(reader)
                self._stop.wait(self.interval)

    def _sample_logged(self, reader: LagReader) -> None:
        try:
            self.sample_once(reader)
        except (KafkaAdminError, KafkaException) as e:
            self._failures += 1
            # The first failure and every 10th are logged, to bound the noise
            # while the broker is away.
            if self._failures == 1 or self._failures % 10 == 0:
                logger.warning(
                    "lag sample %d of group %s on %s failed: %s",
                    self._failures,
                    self.group,
                    self.topic,
                    e,
                )
            return
        if self._failures:
            logger.info(
                "lag sampling of group %s on %s recovered after %d failures",
                self.group,
                self.topic,
                self._failures,
            )
            self._failures = 0
