"""SeerClient against the real Seer-compatible service on a real socket."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import pytest

from consumers.log_throttle import LogThrottle
from consumers.seer import (
    GroupingRecord,
    RequestSample,
    RetryPolicy,
    SeerClient,
    SeerClientConfig,
    SeerMisconfigured,
    SeerRejected,
    SeerUnavailable,
)
from consumers.seer.service import NO_RESPONSE, FaultConfig, SeerService
from tests.clocks import SteppingClock

ClientFactory = Callable[..., SeerClient]
ServiceFactory = Callable[..., SeerService]
StacktraceFactory = Callable[..., str]
HashFactory = Callable[[str], str]


class Recorder:
    """A RequestObserver that keeps every sample."""

    def __init__(self) -> None:
        self.samples: list[RequestSample] = []
        self.lock = threading.Lock()

    def record_request(self, sample: RequestSample) -> None:
        with self.lock:
            self.samples.append(sample)


def record(
    group_id: int, project_id: int, trace: str, make_hash: HashFactory
) -> GroupingRecord:
    return GroupingRecord(
        group_id=group_id,
        hash=make_hash(f"{project_id}:{group_id}"),
        project_id=project_id,
        exception_type="ValueError",
        stacktrace=trace,
    )


def test_post_stores_distinct_records(
    client: SeerClient,
    service: SeerService,
    make_stacktrace: StacktraceFactory,
    make_hash: HashFactory,
) -> None:
    records = [
        record(1, 10, make_stacktrace("alpha"), make_hash),
        record(2, 10, make_stacktrace("beta"), make_hash),
    ]
    response = client.post_grouping_records(records)
    assert response.groups_with_neighbor == {}
    assert service.stats().records == 2


def test_post_reports_neighbor_in_batch(
    client: SeerClient,
    service: SeerService,
    make_stacktrace: StacktraceFactory,
    make_hash: HashFactory,
) -> None:
    trace = make_stacktrace("alpha")
    first = record(1, 10, trace, make_hash)
    second = record(2, 10, trace, make_hash)
    response = client.post_grouping_records([first, second])
    neighbor = response.groups_with_neighbor[2]
    assert list(response.groups_with_neighbor) == [2]
    assert neighbor.parent_hash == first.hash
    assert neighbor.stacktrace_distance == pytest.approx(0.0, abs=1e-9)
    assert neighbor.should_group is True
    assert service.stats().records == 1


def test_post_reports_neighbor_across_batches(
    client: SeerClient,
    service: SeerService,
    make_stacktrace: StacktraceFactory,
    make_hash: HashFactory,
) -> None:
    trace = make_stacktrace("alpha", frames=20)
    client.post_grouping_records([record(1, 10, trace, make_hash)])
    frames = trace.partition("\n")[2]
    near = f"alphaError: another message\n{frames}"
    response = client.post_grouping_records([record(2, 10, near, make_hash)])
    neighbor = response.groups_with_neighbor[2]
    assert neighbor.parent_hash == make_hash("10:1")
    assert 0.0 < neighbor.stacktrace_distance <= 0.01
    assert service.stats().records == 1


def test_post_other_project_is_not_neighbor(
    client: SeerClient,
    service: SeerService,
    make_stacktrace: StacktraceFactory,
    make_hash: HashFactory,
) -> None:
    trace = make_stacktrace("alpha")
    records = [record(1, 10, trace, make_hash), record(2, 11, trace, make_hash)]
    response = client.post_grouping_records(records)
    assert response.groups_with_neighbor == {}
    assert service.stats().records == 2


def test_post_resend_is_idempotent(
    client: SeerClient,
    service: SeerService,
    make_stacktrace: StacktraceFactory,
    make_hash: HashFactory,
) -> None:
    records = [
        record(1, 10, make_stacktrace("alpha"), make_hash),
        record(2, 10, make_stacktrace("alpha"), make_hash),
        record(3, 10, make_stacktrace("gamma"), make_hash),
    ]
    first = client.post_grouping_records(records)
    second = client.post_grouping_records(records)
    assert second == first
    assert service.stats().records == 2


def test_post_empty_sends_nothing(client: SeerClient, service: SeerService) -> None:
    response = client.post_grouping_records([])
    assert response.groups_with_neighbor == {}
    assert service.stats().requests == {}


def test_delete_project_records(
    client: SeerClient,
    service: SeerService,
    make_stacktrace: StacktraceFactory,
    make_hash: HashFactory,
) -> None:
    client.post_grouping_records(
        [
            record(1, 10, make_stacktrace("alpha"), make_hash),
            record(2, 11, make_stacktrace("beta"), make_hash),
        ]
    )
    client.delete_project_records(10)
    client.delete_project_records(10)
    assert service.stats().records == 1


def test_delete_records_by_hash(
    client: SeerClient,
    service: SeerService,
    make_stacktrace: StacktraceFactory,
    make_hash: HashFactory,
) -> None:
    kept = record(1, 10, make_stacktrace("alpha"), make_hash)
    dropped = record(2, 10, make_stacktrace("beta"), make_hash)
    client.post_grouping_records([kept, dropped])
    client.delete_records_by_hash(10, [dropped.hash])
    client.delete_records_by_hash(11, [kept.hash])
    assert service.stats().records == 1
    neighbors = client.similar_issues(
        project_id=10, stacktrace=kept.stacktrace, hash=dropped.hash, read_only=True
    )
    assert [n.parent_hash for n in neighbors] == [kept.hash]


def test_similar_issues_finds_and_skips_insert(
    client: SeerClient,
    service: SeerService,
    make_stacktrace: StacktraceFactory,
    make_hash: HashFactory,
) -> None:
    stored = record(1, 10, make_stacktrace("alpha"), make_hash)
    client.post_grouping_records([stored])
    neighbors = client.similar_issues(
        project_id=10, stacktrace=stored.stacktrace, hash=make_hash("other")
    )
    assert [n.parent_hash for n in neighbors] == [stored.hash]
    assert neighbors[0].should_group is True
    assert service.stats().records == 1


def test_similar_issues_inserts_new_unless_read_only(
    client: SeerClient,
    service: SeerService,
    make_stacktrace: StacktraceFactory,
    make_hash: HashFactory,
) -> None:
    read_only = client.similar_issues(
        project_id=10,
        stacktrace=make_stacktrace("alpha"),
        hash=make_hash("a"),
        read_only=True,
    )
    assert read_only == []
    assert service.stats().records == 0
    written = client.similar_issues(
        project_id=10, stacktrace=make_stacktrace("alpha"), hash=make_hash("a")
    )
    assert written == []
    assert service.stats().records == 1


def test_signed_request_accepted(
    make_service: ServiceFactory,
    make_client: ClientFactory,
    make_stacktrace: StacktraceFactory,
    make_hash: HashFactory,
) -> None:
    service = make_service(secret="shared-secret")
    client = make_client(service, secret="shared-secret")
    client.post_grouping_records([record(1, 10, make_stacktrace("a"), make_hash)])
    client.delete_project_records(10)
    assert service.stats().count("grouping_records", 200) == 1
    assert service.stats().count("delete_project", 200) == 1


@pytest.mark.parametrize("secret", ["wrong-secret", None])
def test_bad_signature_raises_misconfigured(
    make_service: ServiceFactory,
    make_client: ClientFactory,
    make_stacktrace: StacktraceFactory,
    make_hash: HashFactory,
    secret: str | None,
) -> None:
    service = make_service(secret="shared-secret")
    client = make_client(service, secret=secret)
    with pytest.raises(SeerMisconfigured) as caught:
        client.post_grouping_records([record(1, 10, make_stacktrace("a"), make_hash)])
    assert caught.value.status_code == 401
    assert caught.value.attempts == 1
    assert "shared-secret" not in str(caught.value)
    assert service.stats().records == 0


def test_secret_not_in_config_repr() -> None:
    from consumers.seer import SeerClientConfig

    config = SeerClientConfig(base_url="http://127.0.0.1:1", secret="top-secret")
    assert "top-secret" not in repr(config)


def test_retries_503_then_succeeds(
    make_service: ServiceFactory,
    make_client: ClientFactory,
    make_stacktrace: StacktraceFactory,
    make_hash: HashFactory,
) -> None:
    service = make_service(faults=FaultConfig(fail_next=2, error_status=503))
    recorder = Recorder()
    client = make_client(service, observer=recorder)
    client.post_grouping_records([record(1, 10, make_stacktrace("a"), make_hash)])
    assert service.stats().count("grouping_records", 503) == 2
    assert service.stats().count("grouping_records", 200) == 1
    assert [s.outcome for s in recorder.samples] == [
        "retryable_status",
        "retryable_status",
        "success",
    ]
    assert [s.attempt for s in recorder.samples] == [1, 2, 3]
    assert service.stats().records == 1


def test_5xx_exhausts_retries(
    make_service: ServiceFactory,
    make_client: ClientFactory,
    make_stacktrace: StacktraceFactory,
    make_hash: HashFactory,
) -> None:
    service = make_service(faults=FaultConfig(error_rate=1.0, error_status=502))
    client = make_client(service)
    with pytest.raises(SeerUnavailable) as caught:
        client.post_grouping_records([record(1, 10, make_stacktrace("a"), make_hash)])
    assert caught.value.status_code == 502
    assert caught.value.attempts == 3
    assert "Injected fault" in caught.value.body_excerpt
    assert service.stats().count("grouping_records", 502) == 3


def test_429_honours_retry_after(
    make_service: ServiceFactory,
    make_client: ClientFactory,
    make_stacktrace: StacktraceFactory,
    make_hash: HashFactory,
) -> None:
    faults = FaultConfig(fail_next=1, error_status=429, retry_after_seconds=1)
    service = make_service(faults=faults)
    client = make_client(service)
    started = time.monotonic()
    client.post_grouping_records([record(1, 10, make_stacktrace("a"), make_hash)])
    assert time.monotonic() - started >= 0.9
    assert service.stats().count("grouping_records", 429) == 1


def test_retry_after_is_capped(
    make_service: ServiceFactory,
    make_client: ClientFactory,
    make_stacktrace: StacktraceFactory,
    make_hash: HashFactory,
) -> None:
    faults = FaultConfig(fail_next=1, error_status=503, retry_after_seconds=3600)
    service = make_service(faults=faults)
    retry = RetryPolicy(max_attempts=2, retry_after_max_seconds=0.05)
    client = make_client(service, retry=retry)
    started = time.monotonic()
    client.post_grouping_records([record(1, 10, make_stacktrace("a"), make_hash)])
    assert time.monotonic() - started < 5.0


def test_4xx_rejected_without_retry(
    make_service: ServiceFactory,
    make_client: ClientFactory,
    make_stacktrace: StacktraceFactory,
    make_hash: HashFactory,
) -> None:
    service = make_service(faults=FaultConfig(error_rate=1.0, error_status=400))
    client = make_client(service)
    with pytest.raises(SeerRejected) as caught:
        client.post_grouping_records([record(1, 10, make_stacktrace("a"), make_hash)])
    assert caught.value.status_code == 400
    assert caught.value.attempts == 1
    assert caught.value.endpoint == "/v0/issues/similar-issues/grouping-record"
    assert service.stats().count("grouping_records", 400) == 1


def test_invalid_record_rejected(
    client: SeerClient, service: SeerService, make_stacktrace: StacktraceFactory
) -> None:
    bad = GroupingRecord(
        group_id=1,
        hash="not-a-hash",
        project_id=10,
        exception_type=None,
        stacktrace=make_stacktrace("a"),
    )
    with pytest.raises(SeerRejected) as caught:
        client.post_grouping_records([bad])
    assert caught.value.status_code == 400
    assert "hash" in caught.value.body_excerpt
    assert service.stats().records == 0


def test_read_timeout_retries_then_unavailable(
    make_service: ServiceFactory,
    make_client: ClientFactory,
    make_stacktrace: StacktraceFactory,
    make_hash: HashFactory,
) -> None:
    service = make_service(faults=FaultConfig(hang_forever=True))
    recorder = Recorder()
    retry = RetryPolicy(max_attempts=2, backoff_initial_seconds=0.01)
    client = make_client(service, timeout_seconds=0.2, retry=retry, observer=recorder)
    started = time.monotonic()
    with pytest.raises(SeerUnavailable) as caught:
        client.post_grouping_records([record(1, 10, make_stacktrace("a"), make_hash)])
    assert time.monotonic() - started < 3.0
    assert caught.value.status_code is None
    assert caught.value.attempts == 2
    assert [s.outcome for s in recorder.samples] == ["timeout", "timeout"]


def test_read_timeout_then_retry_succeeds(
    make_service: ServiceFactory,
    make_client: ClientFactory,
    make_stacktrace: StacktraceFactory,
    make_hash: HashFactory,
) -> None:
    service = make_service(faults=FaultConfig(hang_forever=True))

    class HealOnTimeout(Recorder):
        def record_request(self, sample: RequestSample) -> None:
            super().record_request(sample)
            if sample.outcome == "timeout":
                service.update_faults(hang_forever=False)

    recorder = HealOnTimeout()
    client = make_client(service, timeout_seconds=0.2, observer=recorder)
    client.post_grouping_records([record(1, 10, make_stacktrace("a"), make_hash)])
    assert [s.outcome for s in recorder.samples] == ["timeout", "success"]
    assert service.stats().records == 1


def test_hang_seconds_exceeds_client_timeout(
    make_service: ServiceFactory,
    make_client: ClientFactory,
    make_hash: HashFactory,
) -> None:
    service = make_service(faults=FaultConfig(hang_seconds=0.5))
    client = make_client(
        service, timeout_seconds=0.1, retry=RetryPolicy(max_attempts=1)
    )
    with pytest.raises(SeerUnavailable, match="timed out"):
        client.delete_project_records(10)


def test_connection_refused_is_unavailable(make_client: ClientFactory) -> None:
    class Closed:
        url = "http://127.0.0.1:9"

    client = make_client(
        Closed(), retry=RetryPolicy(max_attempts=2, backoff_initial_seconds=0.01)
    )
    with pytest.raises(SeerUnavailable) as caught:
        client.delete_project_records(10)
    assert caught.value.attempts == 2
    assert caught.value.status_code is None


def test_rate_limit_ceiling(service: SeerService, make_client: ClientFactory) -> None:
    rate = 20.0
    client = make_client(service, max_requests_per_second=rate, max_concurrency=4)
    stop_at = time.monotonic() + 1.0
    started = time.monotonic()

    def work() -> None:
        while time.monotonic() < stop_at:
            client.delete_project_records(10)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    sent = service.stats().count("delete_project", 200)
    # At most `burst + rate * t` requests go out in `t` seconds, burst being 1.
    assert sent <= 1 + rate * elapsed
    assert sent >= rate * 0.5


def test_concurrency_limit(
    make_service: ServiceFactory, make_client: ClientFactory
) -> None:
    service = make_service(faults=FaultConfig(latency_ms=100))
    client = make_client(service, max_concurrency=2)
    threads = [
        threading.Thread(target=client.delete_project_records, args=(10,))
        for _ in range(6)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stats = service.stats()
    assert stats.count("delete_project", 200) == 6
    assert stats.max_in_flight <= 2


def test_close_interrupts_backoff(
    make_service: ServiceFactory, make_client: ClientFactory
) -> None:
    service = make_service(faults=FaultConfig(error_rate=1.0, retry_after_seconds=30))
    retry = RetryPolicy(max_attempts=3, retry_after_max_seconds=30)
    client = make_client(service, retry=retry)
    errors: list[Exception] = []

    def call() -> None:
        try:
            client.delete_project_records(10)
        except SeerUnavailable as error:
            errors.append(error)

    thread = threading.Thread(target=call)
    thread.start()
    time.sleep(0.3)
    client.close()
    thread.join(timeout=5)
    assert not thread.is_alive()
    assert len(errors) == 1
    assert "closed" in str(errors[0])


def test_hung_request_released_on_stop(
    make_service: ServiceFactory, make_client: ClientFactory
) -> None:
    service = make_service(faults=FaultConfig(hang_forever=True))
    client = make_client(service, timeout_seconds=30, retry=RetryPolicy(max_attempts=1))
    errors: list[Exception] = []

    def call() -> None:
        try:
            client.delete_project_records(10)
        except SeerUnavailable as error:
            errors.append(error)

    thread = threading.Thread(target=call)
    thread.start()
    time.sleep(0.3)
    started = time.monotonic()
    service.stop()
    thread.join(timeout=5)
    assert time.monotonic() - started < 5
    assert len(errors) == 1
    assert (
        service.counters.snapshot(records=0).count("delete_project", NO_RESPONSE) == 1
    )


def test_retry_warnings_throttled(
    make_service: ServiceFactory,
    make_stacktrace: StacktraceFactory,
    make_hash: HashFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    service = make_service(faults=FaultConfig(error_rate=1.0, error_status=503))
    retry = RetryPolicy(
        max_attempts=4, backoff_initial_seconds=0.001, backoff_max_seconds=0.005
    )
    config = SeerClientConfig(base_url=service.url, retry=retry)
    # Each request logs 3 retry warnings, which read the clock at 4, 8, 12 s
    # and then 16, 20, 24 s. With a 10 s interval the warnings at 4 and 16 s
    # pass, and the one at 16 s counts the two before it.
    retry_log = LogThrottle(10.0, clock=SteppingClock(4.0))
    caplog.set_level(logging.WARNING, logger="consumers.seer.client")
    with SeerClient(config, retry_log=retry_log) as client:
        for group_id in (1, 2):
            trace = make_stacktrace("a")
            with pytest.raises(SeerUnavailable):
                client.post_grouping_records([record(group_id, 10, trace, make_hash)])

    assert service.stats().count("grouping_records", 503) == 8
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(warnings) == 2
    assert warnings[0].startswith("Seer request attempt 1/4 failed (project_ids=[10]")
    assert "suppressed" not in warnings[0]
    assert warnings[1].startswith("Seer request attempt 1/4 failed (project_ids=[10]")
    assert warnings[1].endswith("(2 similar lines suppressed since the previous one)")
    # A request that fails for good is logged every time, with its ids.
    assert len(errors) == 2
    assert all("failed after 4 attempts (project_ids=[10]" in e for e in errors)
