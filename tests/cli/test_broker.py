from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from confluent_kafka.admin import AdminClient

from consumers.embedded.broker import free_port

SEER_BACKFILL = str(Path(sys.executable).parent / "seer-backfill")


def test_broker_serves_until_sigterm() -> None:
    port = free_port()
    process = subprocess.Popen(
        [SEER_BACKFILL, "broker", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        admin = AdminClient({"bootstrap.servers": f"127.0.0.1:{port}"})
        deadline = time.monotonic() + 30
        metadata = None
        while metadata is None and time.monotonic() < deadline:
            try:
                metadata = admin.list_topics(timeout=1)
            except Exception:  # not listening yet
                time.sleep(0.2)
        assert metadata is not None
        # An open client connection delays tansu's own shutdown.
        del admin
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, output
    assert f"127.0.0.1:{port}" in output


def test_broker_taken_port_exits_1() -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = subprocess.run(
            [SEER_BACKFILL, "broker", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 1, result.stderr
    assert f"Error: port {port} on 127.0.0.1 is not available" in result.stderr
    assert "panicked" not in result.stderr
