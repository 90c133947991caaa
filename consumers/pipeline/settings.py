"""Tunables of the strategy chain, with the defaults `seer-backfill run` uses."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PipelineSettings:
    database_url: str
    seer_url: str
    seer_secret: str | None = None
    input_topic: str = "backfill-project-batches"
    outcomes_topic: str = "outcomes"
    # Groups examined per project-batch message. The original task used 10;
    # larger batches amortise the per-batch queries and Kafka round trips.
    # 500 and 16 requests in flight were the fastest settings of a sweep in
    # bench/run.py (10,000 groups, 50 ms Seer latency, 2 CPUs; BENCHMARKS.md).
    batch_size: int = 500
    # Records per Seer request and Seer requests in flight in the whole consumer.
    seer_chunk_size: int = 50
    seer_concurrency: int = 16
    seer_timeout_seconds: float = 10.0
    seer_max_retries: int = 3
    # Ceiling on Seer requests per second for the whole consumer; 0 = none.
    seer_max_requests_per_second: float = 0.0
    # How long the Seer stage keeps retrying through an outage before the
    # consumer stops without committing the batch.
    seer_outage_timeout_seconds: float = 600.0
    lookup_threads: int = 4
    seer_threads: int = 4
    onward_threads: int = 4
    # Batches queued per stage. Each 500-group batch holds about 1.3 MB of
    # compressed payloads, and later its Seer strings. In bench/run.py, 8
    # against 32 lowered peak RSS from 152 to 131 MB at 100,000 groups and
    # batch latency p50 from 2.4 to 0.7 s, at 486 against 459 groups/s
    # (554 against 621 at 10,000 groups, within the machine's noise).
    max_pending_batches: int = 8
    # Hashing processes; 0 runs hashing in the consumer process.
    processes: int = 0
    # Seconds between `malloc_trim` calls in the consumer and each hashing
    # process; 0 never trims. See `consumers.native_memory`.
    malloc_trim_interval_seconds: float = 10.0
    max_hashing_batch_size: int = 16
    max_hashing_batch_time_seconds: float = 0.05
    max_age_days: int = 90
    event_window_seconds: int = 60
    cohort_size: int = 1000
    claim_ttl_seconds: int = 3600
    killswitch_poll_seconds: float = 5.0
    produce_timeout_seconds: float = 60.0
    rules_path: str | None = None
