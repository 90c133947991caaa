"""The consumer's shutdown request: signals and fatal producer errors."""

from __future__ import annotations

from confluent_kafka import KafkaError

from consumers.pipeline.runner import ProducerFailed, _ShutdownRequest


def test_fatal_producer_error_requests_shutdown() -> None:
    shutdown = _ShutdownRequest()
    error = KafkaError(
        KafkaError.OUT_OF_ORDER_SEQUENCE_NUMBER,
        "sequence desynchronization",
        fatal=True,
    )
    shutdown.on_producer_error(error)
    assert shutdown.requested.is_set()
    assert shutdown.producer_error is not None
    assert "sequence desynchronization" in shutdown.producer_error
    failure = shutdown.producer_failure()
    assert isinstance(failure, ProducerFailed)
    assert "sequence desynchronization" in str(failure)


def test_transient_producer_error_is_ignored() -> None:
    shutdown = _ShutdownRequest()
    shutdown.on_producer_error(KafkaError(KafkaError._ALL_BROKERS_DOWN, "down"))
    assert not shutdown.requested.is_set()
    assert shutdown.producer_error is None


def test_signal_requests_shutdown() -> None:
    shutdown = _ShutdownRequest()
    shutdown.handle(15, None)
    assert shutdown.requested.is_set()
    assert shutdown.producer_error is None
