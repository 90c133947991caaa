"""Waiting at start-up for a broker: at once when one responds, a clear error
when none does, and success when one comes up during the wait."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from consumers.embedded.broker import free_port
from consumers.kafka import reachability
from consumers.kafka.reachability import BrokersUnreachable, wait_for_brokers


def test_live_broker_returns_at_once(bootstrap_servers: str) -> None:
    started = time.monotonic()
    wait_for_brokers(bootstrap_servers, timeout_seconds=10)
    assert time.monotonic() - started < 5


def test_closed_port_raises_with_reason(capfd: pytest.CaptureFixture[str]) -> None:
    address = f"127.0.0.1:{free_port()}"
    started = time.monotonic()
    with pytest.raises(BrokersUnreachable) as raised:
        wait_for_brokers(address, timeout_seconds=2)
    elapsed = time.monotonic() - started
    assert 2 <= elapsed < 6
    assert raised.value.bootstrap_servers == address
    assert "Connection refused" in raised.value.reason
    assert str(raised.value).startswith(f"no Kafka broker at {address} responded")
    # librdkafka's retries reach the error, not stderr.
    assert "Connect to" not in capfd.readouterr().err


def test_waiting_logs_progress(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(reachability, "PROGRESS_INTERVAL_SECONDS", 0.5)
    caplog.set_level(logging.WARNING, logger=reachability.__name__)
    address = f"127.0.0.1:{free_port()}"
    with pytest.raises(BrokersUnreachable):
        wait_for_brokers(address, timeout_seconds=2.5)
    prefix = f"waiting for a Kafka broker at {address}"
    lines = [
        record.getMessage()
        for record in caplog.records
        if record.name == reachability.__name__
    ]
    assert lines
    assert all(line.startswith(prefix) for line in lines)


def _pump(source: socket.socket, target: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            target.sendall(data)
    except OSError:
        pass
    finally:
        target.close()


@pytest.fixture
def late_proxy(bootstrap_servers: str) -> Iterator[str]:
    """A loopback address that starts forwarding to the broker after 1.5 s."""
    port = free_port()
    broker_host, broker_port = bootstrap_servers.rsplit(":", 1)
    stop = threading.Event()

    def serve() -> None:
        time.sleep(1.5)
        with socket.create_server(("127.0.0.1", port)) as server:
            server.settimeout(0.2)
            while not stop.is_set():
                try:
                    client, _ = server.accept()
                except TimeoutError:
                    continue
                upstream = socket.create_connection((broker_host, int(broker_port)))
                for ends in ((client, upstream), (upstream, client)):
                    threading.Thread(target=_pump, args=ends, daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"127.0.0.1:{port}"
    stop.set()
    thread.join(timeout=5)


def test_broker_coming_up_ends_wait(late_proxy: str) -> None:
    started = time.monotonic()
    wait_for_brokers(late_proxy, timeout_seconds=20)
    assert 1.5 <= time.monotonic() - started < 15


def test_stop_ends_the_wait() -> None:
    stop = threading.Event()
    threading.Timer(0.5, stop.set).start()
    started = time.monotonic()
    assert not wait_for_brokers(
        f"127.0.0.1:{free_port()}", timeout_seconds=0, stop=stop
    )
    assert time.monotonic() - started < 4
