"""A background thread that keeps the consumer-lag gauges up to date.

The running consumer starts one `LagSampler`. Every `interval` seconds it
takes a lag snapshot of its group on its topic (all partitions, not only the
ones this process owns) and sets `seer_backfill_consumer_lag_messages` and
`seer_backfill_consumer_lag_seconds`. A failed sample is logged, counted in
`seer_backfill_consumer_lag_sample_failures_total` and retried at the next
interval. The gauges keep their last values meanwhile.

After `REBUILD_AFTER_FAILURES` failed samples in a row, the sampler closes
its `LagReader` and the next sample creates new Kafka clients. A client can
stay broken after its broker comes back. With librdkafka 2.16.0 and a tansu
0.6 broker restarted on the same address, a long-lived admin client timed
out on every group request (describing the group, fetching its committed
offsets) while its metadata requests succeeded, and a new client succeeded
at once.
"""

from __future__ import annotations

import logging
import threading

from confluent_kafka import KafkaException

from consumers.kafka.admin import DEFAULT_TIMEOUT, KafkaAdminError
from consumers.kafka.config import KafkaOptions
from consumers.ops.lag import LagReader, LagSnapshot
from consumers.ops.metrics import LAG_SAMPLE_FAILURES, set_partition_lag

logger = logging.getLogger(__name__)

# Failed samples in a row after which the reader's clients are replaced.
REBUILD_AFTER_FAILURES = 3
# Of the failed samples in a row, the first and every 10th are logged, to
# bound the noise while the broker is away.
LOG_EVERY_FAILURES = 10


class LagSampler:
    """Sample the lag of `group` on `topic` every `interval` seconds until `stop`.

    The thread survives every failure of a sample or of creating the Kafka
    clients. It logs the error with the group and topic and samples again
    at the next interval. Each broker request of a sample waits at most
    `request_timeout` seconds, and reading the next unconsumed messages at
    most `fetch_timeout` seconds.
    """

    def __init__(
        self,
        bootstrap_servers: str,
        group: str,
        topic: str,
        interval: float = 30.0,
        *,
        options: KafkaOptions | None = None,
        fetch_timeout: float = 5.0,
        request_timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        if interval <= 0:
            raise ValueError(f"lag sampling interval {interval} must be positive")
        self.bootstrap_servers = bootstrap_servers
        self.group = group
        self.topic = topic
        self.interval = interval
        self.options = options
        self.fetch_timeout = fetch_timeout
        self.request_timeout = request_timeout
        self.last_snapshot: LagSnapshot | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"lag-sampler-{group}", daemon=True
        )
        # Failed samples since the last one that succeeded.
        self._failures = 0

    @property
    def running(self) -> bool:
        """Whether the sampling thread is alive."""
        return self._thread.is_alive()

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
        """Stop the thread and wait up to `timeout` seconds for it to finish.

        The thread finishes a sample in progress first, so it can outlive
        this call while a broker request waits for its `request_timeout`.
        It then closes its clients and ends.
        """
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        if self._thread.is_alive():
            logger.warning(
                "lag sampler of group %s on %s did not stop within %.0f s "
                "and stops when its current sample ends",
                self.group,
                self.topic,
                timeout,
            )
            return
        logger.info("lag sampler stopped for group %s on %s", self.group, self.topic)

    def sample_once(self, reader: LagReader) -> LagSnapshot:
        """Take one snapshot with `reader` and set the gauges from it."""
        snapshot = reader.sample()
        for p in snapshot.partitions:
            set_partition_lag(self.topic, p.partition, p.lag, p.lag_seconds)
        self.last_snapshot = snapshot
        return snapshot

    def _run(self) -> None:
        reader: LagReader | None = None
        try:
            while not self._stop.is_set():
                reader = self._sample_logged(reader)
                self._stop.wait(self.interval)
        finally:
            if reader is not None:
                self._close(reader)

    def _sample_logged(self, reader: LagReader | None) -> LagReader | None:
        """Take one sample, with a new reader when `reader` is None.

        Returns the reader for the next sample, or None when the next
        sample must create new clients.
        """
        try:
            if reader is None:
                reader = self._new_reader()
            self.sample_once(reader)
        except (KafkaAdminError, KafkaException) as e:
            self._record_failure(e, unexpected=False)
        except Exception as e:
            # Any other error is a bug. The thread logs it with its traceback
            # and keeps sampling, because later samples may still succeed.
            self._record_failure(e, unexpected=True)
        else:
            self._record_success()
            return reader
        if reader is not None and self._failures % REBUILD_AFTER_FAILURES == 0:
            logger.info(
                "closing the lag reader of group %s on %s after %d failed samples "
                "in a row, so that the next sample creates new Kafka clients",
                self.group,
                self.topic,
                self._failures,
            )
            self._close(reader)
            return None
        return reader

    def _new_reader(self) -> LagReader:
        return LagReader(
            self.bootstrap_servers,
            self.group,
            self.topic,
            options=self.options,
            fetch_timeout=self.fetch_timeout,
            request_timeout=self.request_timeout,
        )

    def _close(self, reader: LagReader) -> None:
        try:
            reader.close()
        except Exception as e:
            logger.warning(
                "closing the lag reader of group %s on %s failed: %s",
                self.group,
                self.topic,
                e,
            )

    def _record_failure(self, error: Exception, *, unexpected: bool) -> None:
        self._failures += 1
        LAG_SAMPLE_FAILURES.inc()
        if self._failures == 1 or self._failures % LOG_EVERY_FAILURES == 0:
            logger.warning(
                "lag sample of group %s on %s failed (consecutive failures: %d): %s",
                self.group,
                self.topic,
                self._failures,
                error,
                exc_info=unexpected,
            )

    def _record_success(self) -> None:
        if self._failures:
            logger.info(
                "lag sampling of group %s on %s recovered after %d failures",
                self.group,
                self.topic,
                self._failures,
            )
            self._failures = 0
