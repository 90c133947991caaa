"""The running consumer as an operator sees it: metrics, health file, SIGTERM."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

import httpx

from consumers.messages import ProjectBatch
from consumers.seer.service.server import SeerService

from .conftest import (
    Topics,
    committed_offsets,
    load_sdk_events,
    run_command,
    schedule_batches,
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _metric(text: str, name: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and not line.startswith("#"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_consumer_serves_metrics_and_stops_on_sigterm(
    bootstrap_servers: str,
    topics: Topics,
    clean_database: str,
    seer_service: SeerService,
    tmp_path: Path,
) -> None:
    load_sdk_events(clean_database, [31], count=60, seed=3)
    schedule_batches(
        bootstrap_servers,
        topics,
        [ProjectBatch(run_id=str(uuid.uuid4()), project_id=31)],
    )
    port = _free_port()
    health = tmp_path / "health"
    process = subprocess.Popen(
        run_command(
            bootstrap_servers,
            topics,
            clean_database,
            seer_service.url,
            "--metrics-port",
            str(port),
            "--healthcheck-file-path",
            str(health),
            "--lag-sample-interval",
            "1",
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        text = ""
        while time.monotonic() < deadline:
            time.sleep(0.5)
            try:
                text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
            except httpx.TransportError:
                continue
            if _metric(
                text, 'seer_backfill_batches_processed_total{result="backfill"}'
            ):
                break
        assert _metric(text, "seer_backfill_records_sent_total") > 0
        assert _metric(
            text, 'seer_backfill_stage_duration_seconds_count{stage="lookup"}'
        )
        assert _metric(
            text, 'seer_backfill_stage_duration_seconds_count{stage="hashing"}'
        )
        assert _metric(text, "seer_backfill_seer_request_duration_seconds_count") > 0
        assert _metric(text, "seer_backfill_rebalances_total") >= 1
        assert "arroyo_" in text
        assert health.exists()
        assert time.time() - health.stat().st_mtime < 10

        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, output[-3000:]
    assert "received signal 15" in output
    expected = {p: max(offsets) + 1 for p, offsets in topics.produced.items()}
    committed = committed_offsets(bootstrap_servers, topics)
    for partition, offset in expected.items():
        assert committed.get(partition, 0) >= offset


def test_seer_outage_exits_1_with_error_line(
    bootstrap_servers: str,
    topics: Topics,
    clean_database: str,
) -> None:
    load_sdk_events(clean_database, [32], count=20, seed=4)
    schedule_batches(
        bootstrap_servers,
        topics,
        [ProjectBatch(run_id=str(uuid.uuid4()), project_id=32)],
    )
    closed = f"http://127.0.0.1:{_free_port()}"
    result = subprocess.run(
        run_command(
            bootstrap_servers,
            topics,
            clean_database,
            closed,
            "--seer-outage-timeout",
            "2",
        ),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1, result.stderr[-3000:]
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("Error: Seer unavailable for over 2 s"), last_line
    assert "project=32" in last_line
    assert "--seer-url" in last_line
    # Nothing of the failed batch is committed, so a restart runs it again.
    assert not committed_offsets(bootstrap_servers, topics)
