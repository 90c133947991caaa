"""Runs the backfill consumer: Kafka clients, the stream processor, signals.

SIGTERM and SIGINT stop polling; Arroyo then joins the strategy chain for
at most `join_timeout_seconds`, committing what finished, and the producer
is flushed before the process exits.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from types import FrameType
from typing import Any

from arroyo.backends.kafka import KafkaConsumer, KafkaPayload, KafkaProducer
from arroyo.dlq import DlqPolicy
from arroyo.processing import StreamProcessor
from arroyo.types import BrokerValue, Topic
from confluent_kafka import KafkaError

from consumers.kafka.config import (
    NO_OPTIONS,
    KafkaOptions,
    consumer_config,
    producer_config,
)
from consumers.kafka.reachability import wait_for_brokers
from consumers.native_memory import MallocTrimmer
from consumers.ops.lag_sampler import LagSampler
from consumers.ops.metrics import (
    DLQ_MESSAGES,
    install_arroyo_metrics,
    start_metrics_server,
)
from consumers.pipeline.activity import Activity
from consumers.pipeline.dead_letter import DeadLetterProducer
from consumers.pipeline.factory import BackfillStrategyFactory
from consumers.pipeline.settings import PipelineSettings
from consumers.pipeline.topic_check import TopicRole, check_topics

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConsumerOptions:
    bootstrap_servers: str
    group_id: str
    auto_offset_reset: str = "earliest"
    max_poll_interval_ms: int = 300_000
    join_timeout_seconds: float = 10.0
    dlq_topic: str = "backfill-project-batches-dlq"
    healthcheck_file: str | None = None
    exit_after_idle_seconds: float = 0.0
    kafka_options: KafkaOptions = NO_OPTIONS
    # Prometheus endpoint; None serves no metrics. Port 0 picks a free port.
    metrics_port: int | None = None
    metrics_host: str = "127.0.0.1"
    lag_sample_interval_seconds: float = 30.0
    # Seconds to wait at start for a broker to respond; 0 waits forever.
    broker_timeout_seconds: float = 60.0


class ResponsiveKafkaConsumer(KafkaConsumer):
    """Arroyo's Kafka consumer with a short poll wait.

    The stream processor polls the consumer with a one-second timeout and
    polls the strategy chain only between consumer polls. Finished work of a
    thread or process stage then waits up to a second per stage, and a
    project's chain moves one batch at a time, so the wait is capped here.
    """

    def __init__(self, config: dict[str, Any], max_wait_seconds: float) -> None:
        super().__init__(config)
        self.max_wait_seconds = max_wait_seconds

    def poll(self, timeout: float | None = None) -> BrokerValue[KafkaPayload] | None:
        if timeout is None or timeout > self.max_wait_seconds:
            timeout = self.max_wait_seconds
        return super().poll(timeout)


def _on_dead_letter(activity: Activity) -> Callable[[str], None]:
    def record(reason: str) -> None:
        activity.dead_letter(reason)
        DLQ_MESSAGES.labels(reason=reason).inc()

    return record


def _watch_idle(
    activity: Activity,
    processor: StreamProcessor[KafkaPayload],
    idle_seconds: float,
    done: threading.Event,
) -> None:
    while not done.wait(0.5):
        if activity.in_flight() <= 0 and activity.idle_seconds() >= idle_seconds:
            logger.info(
                "no messages for %.1f s and none in flight; stopping "
                "(%d processed, %d dead-lettered)",
                idle_seconds,
                activity.finished,
                activity.dead_lettered,
            )
            processor.signal_shutdown()
            return


# Seconds without a partition before the first warning, and between warnings.
UNASSIGNED_WARNING_SECONDS = 30.0


def watch_assignment(
    activity: Activity,
    done: threading.Event,
    group: str,
    topic: str,
    interval: float = UNASSIGNED_WARNING_SECONDS,
) -> None:
    """Warn every `interval` seconds while no partition is assigned to the consumer.

    A consumer without partitions consumes nothing and logs nothing, which
    looks like a hang: the group may be stuck rebalancing, or every
    partition may be assigned to other members. Returns once `done` is set.
    """
    next_warning = interval
    while not done.wait(min(1.0, interval)):
        without = activity.seconds_without_partitions()
        if without < interval:
            next_warning = interval
            continue
        if without < next_warning:
            continue
        logger.warning(
            "no partition of %s assigned to group %s for %.0f s; the group "
            "may be rebalancing, or every partition is assigned to other consumers "
            "(check with `seer-backfill lag --group %s`)",
            topic,
            group,
            without,
            group,
        )
        next_warning = without + interval


# How long shutdown waits for the producer to deliver its queued messages.
PRODUCER_CLOSE_TIMEOUT_SECONDS = 30.0
# After a fatal error the producer delivers nothing more, so shutdown does
# not wait the full time for it.
FAILED_PRODUCER_CLOSE_TIMEOUT_SECONDS = 5.0


class ProducerFlushTimeout(Exception):
    """The producer still held undelivered messages when shutdown gave up."""


class ProducerFailed(Exception):
    """The producer reported a fatal error, so it can deliver nothing more."""


class _ShutdownRequest:
    """The SIGTERM and SIGINT handler of `run_consumer`, and the producer's
    error callback.

    It is installed before the wait for a broker, so a signal during the
    wait ends it cleanly. Once the stream processor exists, the request
    passes to it, even one that arrived while the processor was being
    built. A fatal producer error (such as an idempotent producer's lost
    sequence after the broker lost its data) requests a shutdown too, and is
    kept in `producer_error`.
    """

    def __init__(self) -> None:
        self.requested = threading.Event()
        self.producer_error: str | None = None
        self._processor: StreamProcessor[KafkaPayload] | None = None

    def handle(self, signum: int, frame: FrameType | None) -> None:
        logger.info("received signal %d; shutting down", signum)
        self._request()

    def on_producer_error(self, error: KafkaError) -> None:
        # librdkafka retries the other errors itself and logs them.
        if not error.fatal():
            return
        self.producer_error = f"{error.name()}: {error.str()}"
        logger.critical(
            "the Kafka producer failed and delivers nothing more (%s); stopping",
            self.producer_error,
        )
        self._request()

    def attach(self, processor: StreamProcessor[KafkaPayload]) -> None:
        self._processor = processor
        if self.requested.is_set():
            processor.signal_shutdown()

    def _request(self) -> None:
        self.requested.set()
        if self._processor is not None:
            self._processor.signal_shutdown()

    def producer_failure(self) -> ProducerFailed:
        return ProducerFailed(
            f"the Kafka producer failed: {self.producer_error}. Batches whose "
            "messages were not delivered are not committed and run again when "
            "the consumer restarts."
        )


class _ProducerClose:
    """A shutdown step that closes a producer within `PRODUCER_CLOSE_TIMEOUT_SECONDS`,
    or `FAILED_PRODUCER_CLOSE_TIMEOUT_SECONDS` after a fatal producer error.

    `timed_out` is True when messages were still undelivered at that limit.
    """

    def __init__(self, producer: KafkaProducer, shutdown: _ShutdownRequest) -> None:
        self.producer = producer
        self.shutdown = shutdown
        self.timed_out = False

    def __call__(self) -> None:
        timeout = PRODUCER_CLOSE_TIMEOUT_SECONDS
        if self.shutdown.producer_error is not None:
            timeout = FAILED_PRODUCER_CLOSE_TIMEOUT_SECONDS
        try:
            self.producer.close().result(timeout=timeout)
        except TimeoutError:
            self.timed_out = True


def _restore_signals(handlers: dict[int, Any]) -> None:
    for sig, handler in handlers.items():
        signal.signal(sig, handler)


def run_consumer(settings: PipelineSettings, options: ConsumerOptions) -> Activity:
    """Consume until a signal arrives or, if configured, until idle.

    Raises `BrokersUnreachable` before any Kafka client starts when no
    broker responds within ``options.broker_timeout_seconds``, and
    `topic_check.MissingTopics` (or `KafkaAdminError`) after that wait, before the
    producer starts, when a topic it reads or writes does not exist. Raises
    `ProducerFlushTimeout` after an otherwise complete shutdown when the
    producer could not deliver its messages, typically because the broker
    became unreachable. The producer's thread is then still running.
    Raises `ProducerFailed` once the producer reports a fatal error, after
    stopping as for a signal; its thread may still be running too.
    """
    activity = Activity()
    install_arroyo_metrics()
    # The stack also closes what started when a later step of the setup fails.
    with ExitStack() as stack:
        # Restored last, so that a signal during the producer's flush only
        # repeats the request to stop.
        previous_handlers: dict[int, Any] = {}
        stack.callback(_restore_signals, previous_handlers)
        shutdown = _ShutdownRequest()
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous_handlers[sig] = signal.signal(sig, shutdown.handle)
        trimmer = MallocTrimmer(settings.malloc_trim_interval_seconds)
        if trimmer.start():
            stack.callback(trimmer.stop)
        if options.metrics_port is not None:
            server = start_metrics_server(options.metrics_port, options.metrics_host)
            stack.callback(server.shutdown)
        # After the checks of local settings, which fail at once, and
        # before any Kafka client, whose retries would flood the log.
        if not wait_for_brokers(
            options.bootstrap_servers,
            options.broker_timeout_seconds,
            options.kafka_options,
            stop=shutdown.requested,
        ):
            logger.info(
                "shut down while waiting for a Kafka broker at %s; nothing consumed",
                options.bootstrap_servers,
            )
            return activity
        check_topics(
            options.bootstrap_servers,
            options.kafka_options,
            {
                TopicRole.INPUT: settings.input_topic,
                TopicRole.DEAD_LETTER: options.dlq_topic,
                TopicRole.OUTCOMES: settings.outcomes_topic,
            },
        )
        if options.metrics_port is not None:
            sampler = LagSampler(
                options.bootstrap_servers,
                options.group_id,
                settings.input_topic,
                options.lag_sample_interval_seconds,
                options=options.kafka_options,
            )
            sampler.start()
            stack.callback(sampler.stop)
        producer = KafkaProducer(
            {
                **producer_config(
                    options.bootstrap_servers,
                    options.kafka_options,
                    client_id="seer-backfill-consumer",
                ),
                "error_cb": shutdown.on_producer_error,
            }
        )
        producer_close = _ProducerClose(producer, shutdown)
        stack.callback(producer_close)
        factory = BackfillStrategyFactory(
            settings, producer, activity, healthcheck_file=options.healthcheck_file
        )
        # Closed before the producer, because its stages produce with it.
        stack.callback(factory.shutdown)
        dlq = DlqPolicy(
            DeadLetterProducer(
                producer, Topic(options.dlq_topic), _on_dead_letter(activity)
            ),
            None,
            None,
        )
        config = consumer_config(
            options.bootstrap_servers,
            options.group_id,
            options.auto_offset_reset,
            options.kafka_options,
            client_id="seer-backfill-consumer",
        )
        config["max.poll.interval.ms"] = options.max_poll_interval_ms
        consumer = ResponsiveKafkaConsumer(config, max_wait_seconds=0.01)
        processor = StreamProcessor(
            consumer,
            Topic(settings.input_topic),
            factory,
            dlq_policy=dlq,
            join_timeout=options.join_timeout_seconds,
        )
        shutdown.attach(processor)
        done = threading.Event()
        stack.callback(done.set)
        threading.Thread(
            target=watch_assignment,
            args=(activity, done, options.group_id, settings.input_topic),
            name="assignment-watch",
            daemon=True,
        ).start()
        if options.exit_after_idle_seconds > 0:
            threading.Thread(
                target=_watch_idle,
                args=(activity, processor, options.exit_after_idle_seconds, done),
                name="idle-watch",
                daemon=True,
            ).start()
        logger.info(
            "consuming %s as group %s from %s",
            settings.input_topic,
            options.group_id,
            options.bootstrap_servers,
        )
        # The stream processor closes the consumer when it stops.
        try:
            processor.run()
        except Exception as e:
            # A stage that failed on the broken producer's deliveries.
            if shutdown.producer_error is not None:
                raise shutdown.producer_failure() from e
            raise
    logger.info("consumer stopped")
    if shutdown.producer_error is not None:
        raise shutdown.producer_failure()
    if producer_close.timed_out:
        raise ProducerFlushTimeout(
            f"the Kafka producer did not flush within "
            f"{PRODUCER_CLOSE_TIMEOUT_SECONDS:.0f} s at shutdown; check that "
            f"{options.bootstrap_servers} is reachable. Batches whose messages "
            "were not delivered are not committed and run again on restart."
        )
    return activity
