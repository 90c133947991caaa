"""`seer-backfill seer-local` as a real process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid

import httpx
from click.testing import CliRunner

from consumers.cli.seer_local import seer_local


def test_help_states_units() -> None:
    result = CliRunner().invoke(seer_local, ["--help"])
    assert result.exit_code == 0
    assert "milliseconds" in result.output
    assert "seconds" in result.output


def test_invalid_error_rate_is_usage_error() -> None:
    result = CliRunner().invoke(seer_local, ["--error-rate", "2"])
    assert result.exit_code == 2


def test_serves_until_sigterm(database_url: str) -> None:
    schema = f"seer_cli_{uuid.uuid4().hex[:10]}"
    command = [
        sys.executable,
        "-c",
        "from consumers.cli.main import main; main()",
        "seer-local",
        "--port",
        "0",
        "--database-url",
        database_url,
        "--schema",
        schema,
        "--latency-ms",
        "1",
        "--log-level",
        "warning",
    ]
    env = {**os.environ, "SEER_BACKFILL_SEER_SECRET": ""}
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        assert httpx.get(f"{url}/health/live", timeout=5).status_code == 200
        faults = httpx.get(f"{url}/_admin/faults", timeout=5).json()["faults"]
        assert faults["latency_ms"] == 1.0
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_unreachable_database_exits_1() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "from consumers.cli.main import main; main()",
            "seer-local",
            "--port",
            "0",
            "--database-url",
            "postgresql://postgres@127.0.0.1:1/none?connect_timeout=1",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "did not start" in result.stderr
