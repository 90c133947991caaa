"""`seer-backfill run`: the backfill consumer."""

from __future__ import annotations

import logging
import math
import os

import click
import psycopg
from arroyo.errors import ConsumerError, TransportError
from confluent_kafka import KafkaError, KafkaException
from psycopg_pool import PoolTimeout

from consumers.cli import options as opt
from consumers.kafka.admin import KafkaAdminError
from consumers.kafka.config import (
    ARROYO_OWNED_PROPERTIES,
    KafkaOptions,
    OwnedProperty,
    canonical_int,
    canonical_offset_reset,
    canonical_servers,
    kafka_option,
)
from consumers.kafka.reachability import BrokersUnreachable
from consumers.native_memory import limit_malloc_arenas
from consumers.ops.metrics import MetricsServerError
from consumers.ops.tracing import init_sentry
from consumers.pipeline.delivery import DeliveryTimeout
from consumers.pipeline.hashing import RulesFileError
from consumers.pipeline.runner import (
    ConsumerOptions,
    ProducerFailed,
    ProducerFlushTimeout,
    run_consumer,
)
from consumers.pipeline.seer import SeerOutage
from consumers.pipeline.settings import PipelineSettings
from consumers.pipeline.topic_check import MissingTopics, TopicRole

logger = logging.getLogger(__name__)
_defaults = PipelineSettings(database_url="", seer_url="")


def _require_number(ctx: click.Context, param: click.Parameter, value: float) -> float:
    # click's FloatRange lets NaN through, because NaN compares false to
    # both bounds.
    if math.isnan(value):
        raise click.BadParameter("nan is not a number of seconds", ctx, param)
    return value


@click.command()
@opt.bootstrap_servers
@opt.setting(
    "--consumer-group",
    default=opt.DEFAULT_CONSUMER_GROUP,
    show_default=True,
    help="Kafka consumer group id.",
)
@opt.setting(
    "--auto-offset-reset",
    type=click.Choice(["earliest", "latest", "error"]),
    default="earliest",
    show_default=True,
    help="Where to start when the group has no committed offset.",
)
@opt.setting(
    "--max-poll-interval-ms",
    type=click.IntRange(min=1000),
    default=300_000,
    show_default=True,
    help="librdkafka max.poll.interval.ms, in milliseconds.",
)
@opt.setting(
    "--broker-timeout",
    type=click.FloatRange(min=0, max=86_400),
    callback=_require_number,
    default=60.0,
    show_default=True,
    help="Seconds to wait at start for a Kafka broker to respond; exits 1 "
    "when none does. 0 waits forever.",
)
@opt.setting(
    "--join-timeout",
    type=click.FloatRange(min=0),
    default=10.0,
    show_default=True,
    help="Seconds to finish in-flight batches on shutdown or rebalance.",
)
@opt.setting(
    "--processes",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Hashing worker processes; 0 hashes in the consumer process.",
)
@opt.database_url
@opt.seer_url
@opt.seer_secret
@opt.setting(
    "--healthcheck-file-path",
    default=None,
    help="File touched by the strategy chain at least every second while healthy.",
)
@opt.log_level
@opt.setting("--topic", default=opt.INPUT_TOPIC, show_default=True, help="Input topic.")
@opt.setting(
    "--dlq-topic", default=opt.DLQ_TOPIC, show_default=True, help="Dead-letter topic."
)
@opt.setting(
    "--outcomes-topic",
    default=opt.OUTCOMES_TOPIC,
    show_default=True,
    help="Topic of billing outcomes.",
)
@opt.setting(
    "--batch-size",
    type=click.IntRange(min=1),
    default=_defaults.batch_size,
    show_default=True,
    help="Groups examined per project-batch message.",
)
@opt.setting(
    "--max-pending-batches",
    type=click.IntRange(min=1),
    default=_defaults.max_pending_batches,
    show_default=True,
    help="Batches queued per stage before the consumer pauses; bounds memory.",
)
@opt.setting(
    "--seer-chunk-size",
    type=click.IntRange(min=1),
    default=_defaults.seer_chunk_size,
    show_default=True,
    help="Grouping records per Seer request.",
)
@opt.setting(
    "--seer-concurrency",
    type=click.IntRange(min=1),
    default=_defaults.seer_concurrency,
    show_default=True,
    help="Seer requests in flight at once, across all partitions.",
)
@opt.setting(
    "--seer-timeout",
    type=click.FloatRange(min=0.1),
    default=_defaults.seer_timeout_seconds,
    show_default=True,
    help="Per-request Seer timeout, in seconds.",
)
@opt.setting(
    "--seer-max-requests-per-second",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="Ceiling on Seer requests per second for this consumer; 0 means none.",
)
@opt.setting(
    "--seer-outage-timeout",
    type=click.FloatRange(min=0),
    default=_defaults.seer_outage_timeout_seconds,
    show_default=True,
    help="Seconds to keep retrying an unavailable Seer before stopping "
    "uncommitted (exit 1); 0 stops at the first failed request.",
)
@opt.setting(
    "--produce-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=_defaults.produce_timeout_seconds,
    show_default=True,
    help="Seconds to wait for the broker to acknowledge what a batch produces "
    "(the chain's next batch, the outcomes) before stopping uncommitted (exit 1).",
)
@opt.setting(
    "--rules",
    "rules_path",
    default=None,
    type=click.Path(exists=True, dir_okay=False),
    help="Stack-trace rules file in Sentry's enhancement syntax (default: built-in).",
)
@kafka_option
@opt.setting(
    "--metrics-port",
    type=click.IntRange(min=0, max=65535),
    default=None,
    help="Serve Prometheus metrics on this TCP port (0 picks a free port); "
    "unset serves none.",
)
@opt.setting(
    "--metrics-host",
    default="127.0.0.1",
    show_default=True,
    help="Address the metrics endpoint binds to (0.0.0.0 for every interface).",
)
@opt.setting(
    "--lag-sample-interval",
    type=click.FloatRange(min=1),
    default=30.0,
    show_default=True,
    help="Seconds between consumer-lag samples for the metrics endpoint.",
)
@opt.setting(
    "--malloc-arenas",
    type=click.IntRange(min=0),
    default=2,
    show_default=True,
    help="Cap on glibc malloc arenas, which bounds the growth of resident "
    "memory over long runs; 0 keeps glibc's default of 8 per CPU. "
    "MALLOC_ARENA_MAX in the environment takes precedence.",
)
@opt.setting(
    "--malloc-trim-interval",
    type=click.FloatRange(min=0, max=3600),
    callback=_require_number,
    default=_defaults.malloc_trim_interval_seconds,
    show_default=True,
    help="Seconds between returns of freed heap memory to the kernel "
    "(malloc_trim), in the consumer and each hashing process; 0 never.",
)
@opt.setting(
    "--exit-after-idle-seconds",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="Stop once nothing is in flight and no message arrived for this many "
    "seconds; 0 runs until SIGTERM or SIGINT.",
)
def run(
    bootstrap_servers: str,
    consumer_group: str,
    auto_offset_reset: str,
    max_poll_interval_ms: int,
    broker_timeout: float,
    join_timeout: float,
    processes: int,
    database_url: str,
    seer_url: str,
    seer_secret: str | None,
    healthcheck_file_path: str | None,
    log_level: str,
    topic: str,
    dlq_topic: str,
    outcomes_topic: str,
    batch_size: int,
    max_pending_batches: int,
    seer_chunk_size: int,
    seer_concurrency: int,
    seer_timeout: float,
    seer_max_requests_per_second: float,
    seer_outage_timeout: float,
    produce_timeout: float,
    rules_path: str | None,
    kafka_option: tuple[str, ...],
    metrics_port: int | None,
    metrics_host: str,
    lag_sample_interval: float,
    malloc_arenas: int,
    malloc_trim_interval: float,
    exit_after_idle_seconds: float,
) -> None:
    """Run the backfill consumer on the project-batch topic.

    Exits 0 after a clean shutdown (SIGTERM, SIGINT or idle exit) and 1 when
    a stage fails; the failed batch is not committed and is retried on restart.
    Exits 1 when no broker responds within --broker-timeout at start, or
    when the topic of --topic, --dlq-topic or --outcomes-topic does not
    exist. `seer-backfill topics create` creates the topics.
    Exits 2 when an -O option contradicts --bootstrap-servers,
    --consumer-group, --auto-offset-reset or --max-poll-interval-ms, or
    sets enable.auto.commit, enable.auto.offset.store or
    enable.partition.eof to true, because Arroyo's consumer needs them off.
    """
    # Before any thread starts: arenas that already exist are not capped.
    limit_malloc_arenas(malloc_arenas)
    kafka_options = KafkaOptions.parse(kafka_option)
    reject_conflicting_kafka_options(
        kafka_options,
        bootstrap_servers=bootstrap_servers,
        consumer_group=consumer_group,
        auto_offset_reset=auto_offset_reset,
        max_poll_interval_ms=max_poll_interval_ms,
    )
    opt.configure_logging(log_level)
    settings = PipelineSettings(
        database_url=database_url,
        seer_url=seer_url,
        seer_secret=seer_secret,
        input_topic=topic,
        outcomes_topic=outcomes_topic,
        batch_size=batch_size,
        max_pending_batches=max_pending_batches,
        seer_chunk_size=seer_chunk_size,
        seer_concurrency=seer_concurrency,
        seer_timeout_seconds=seer_timeout,
        seer_max_requests_per_second=seer_max_requests_per_second,
        seer_outage_timeout_seconds=seer_outage_timeout,
        produce_timeout_seconds=produce_timeout,
        processes=processes,
        rules_path=rules_path,
        malloc_trim_interval_seconds=malloc_trim_interval,
    )
    consumer = ConsumerOptions(
        bootstrap_servers=bootstrap_servers,
        group_id=consumer_group,
        auto_offset_reset=auto_offset_reset,
        max_poll_interval_ms=max_poll_interval_ms,
        join_timeout_seconds=join_timeout,
        broker_timeout_seconds=broker_timeout,
        dlq_topic=dlq_topic,
        healthcheck_file=healthcheck_file_path,
        exit_after_idle_seconds=exit_after_idle_seconds,
        kafka_options=kafka_options,
        metrics_port=metrics_port,
        metrics_host=metrics_host,
        lag_sample_interval_seconds=lag_sample_interval,
    )
    init_sentry(service="consumer")
    try:
        run_consumer(settings, consumer)
    except RulesFileError as e:
        raise click.ClickException(str(e)) from e
    except BrokersUnreachable as e:
        raise click.ClickException(
            f"{e}; check --bootstrap-servers, the -O security options and that "
            "the brokers are up, or raise --broker-timeout"
        ) from e
    except MissingTopics as e:
        raise click.ClickException(missing_topics_message(e)) from e
    except KafkaAdminError as e:
        raise click.ClickException(
            f"{e}; check --bootstrap-servers and the -O options, then restart"
        ) from e
    except (ProducerFlushTimeout, ProducerFailed) as e:
        # librdkafka's flush thread never ends while the broker is gone, and
        # the interpreter would wait for it at exit. Everything the producer
        # still held belongs to batches whose offsets were not committed, so
        # the next consumer redoes them: a hard exit loses nothing.
        logger.error("%s", e)
        logging.shutdown()
        os._exit(1)
    except DeliveryTimeout as e:
        raise click.ClickException(
            f"{e}; check that the brokers at --bootstrap-servers are up and "
            "keep their data, then restart (uncommitted batches run again)"
        ) from e
    except SeerOutage as e:
        raise click.ClickException(
            f"{e}; check --seer-url and that Seer is up, or raise "
            "--seer-outage-timeout, then restart (uncommitted batches run again)"
        ) from e
    except (psycopg.Error, PoolTimeout) as e:
        message = opt.database_error_message(e, database_url)
        if message is not None:
            raise click.ClickException(message) from e
        logger.exception("database failure")
        raise click.ClickException(
            f"database at --database-url failed: {e}; check the URL and that "
            "the server is up, then restart (nothing uncommitted was lost)"
        ) from e
    except MetricsServerError as e:
        raise click.ClickException(
            f"metrics endpoint {e}; choose a free --metrics-port (0 picks one) "
            "or another --metrics-host"
        ) from e
    except TransportError as e:
        # A produce the broker refused (such as to a partition that vanished
        # with a broker that lost its data), or a lost connection.
        raise click.ClickException(
            f"Kafka transport failed: {e}; check that the brokers at "
            "--bootstrap-servers are up and keep their topics, then restart "
            "(uncommitted batches run again)"
        ) from e
    except ConsumerError as e:
        # The input topic was deleted after the check at start. librdkafka
        # reports a subscribed topic that does not exist only as text.
        if "UNKNOWN_TOPIC_OR_PART" not in str(e):
            raise
        raise click.ClickException(
            f"input topic {topic!r} does not exist on {bootstrap_servers}; "
            "create it with `seer-backfill topics create` (or check --topic)"
        ) from e
    except KafkaException as e:
        error = e.args[0] if e.args else None
        if isinstance(error, KafkaError) and error.code() == KafkaError._INVALID_ARG:
            # librdkafka refuses an unknown property or value when a client is
            # created, which only an -O option can cause.
            raise click.UsageError(
                f"invalid -O option: {error.str()}; see librdkafka's "
                "CONFIGURATION.md for property names and values"
            ) from e
        logger.exception("Kafka client failure")
        raise click.ClickException(
            f"Kafka client failed: {e}; check --bootstrap-servers and -O options"
        ) from e
    except ValueError as e:
        raise click.ClickException(str(e)) from e


# The option of `run` that names each topic of the consumer.
TOPIC_OPTIONS = {
    TopicRole.INPUT: "--topic",
    TopicRole.DEAD_LETTER: "--dlq-topic",
    TopicRole.OUTCOMES: "--outcomes-topic",
}


def missing_topics_message(error: MissingTopics) -> str:
    """Return the error for topics missing at start, naming their options."""
    described = [
        (f"{role.value} topic {name!r}", TOPIC_OPTIONS[role])
        for role, name in error.missing.items()
    ]
    servers = error.bootstrap_servers
    if len(described) == 1:
        topic, option = described[0]
        return (
            f"{topic} does not exist on {servers}; create it with "
            f"`seer-backfill topics create` (or check {option})"
        )
    listed = [f"{topic} ({option})" for topic, option in described]
    return (
        f"{', '.join(listed[:-1])} and {listed[-1]} do not exist on {servers}; "
        "create them with `seer-backfill topics create` (or check those options)"
    )


def reject_conflicting_kafka_options(
    kafka_options: KafkaOptions,
    *,
    bootstrap_servers: str,
    consumer_group: str,
    auto_offset_reset: str,
    max_poll_interval_ms: int,
) -> None:
    """Raise `KafkaOptionConflict` for an -O option that changes a run setting.

    The consumer's group, cluster, offset reset and poll interval come from
    their dedicated options, and Arroyo needs its own commit settings. An
    -O option that repeats one of these values is accepted.
    """
    servers = OwnedProperty(
        "bootstrap.servers",
        bootstrap_servers,
        option="--bootstrap-servers",
        aliases=("metadata.broker.list",),
        canonical=canonical_servers,
    )
    consumer_owned = [
        servers,
        OwnedProperty("group.id", consumer_group, option="--consumer-group"),
        OwnedProperty(
            "auto.offset.reset",
            auto_offset_reset,
            option="--auto-offset-reset",
            canonical=canonical_offset_reset,
        ),
        OwnedProperty(
            "max.poll.interval.ms",
            str(max_poll_interval_ms),
            option="--max-poll-interval-ms",
            canonical=canonical_int,
        ),
        *ARROYO_OWNED_PROPERTIES,
    ]
    kafka_options.reject_conflicts("consumer", consumer_owned)
    # The producer writes each chain's next batch to the input topic, and the
    # admin client samples the group's lag, so both need the consumer's cluster.
    kafka_options.reject_conflicts("producer", [servers])
    kafka_options.reject_conflicts("admin", [servers])
