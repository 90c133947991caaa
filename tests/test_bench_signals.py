"""The benchmark stops the services it started when it gets SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

REPOSITORY = Path(__file__).resolve().parent.parent


def _processes_using(folder: Path) -> list[str]:
    """Command lines of running processes that name `folder`."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        command = " ".join(process.info["cmdline"] or [])
        if str(folder) in command:
            found.append(command)
    return found


def test_sigterm_stops_embedded_services(tmp_path: Path) -> None:
    workdir = tmp_path / "bench"
    log_path = tmp_path / "bench.log"
    command = [
        sys.executable,
        str(REPOSITORY / "bench" / "run.py"),
        "--groups",
        "20",
        "--runs",
        "1",
        "--no-record",
        "--log-level",
        "info",
        "--workdir",
        str(workdir),
    ]
    with log_path.open("w") as log:
        bench = subprocess.Popen(
            command, cwd=REPOSITORY, stdout=log, stderr=subprocess.STDOUT, text=True
        )
    try:
        deadline = time.monotonic() + 120
        while "services: broker" not in log_path.read_text():
            assert bench.poll() is None, log_path.read_text()[-3000:]
            assert time.monotonic() < deadline, log_path.read_text()[-3000:]
            time.sleep(0.2)
        assert _processes_using(workdir), "the embedded PostgreSQL is not running"

        bench.send_signal(signal.SIGTERM)
        returncode = bench.wait(timeout=60)
    finally:
        if bench.poll() is None:
            bench.kill()
            bench.wait()

    assert returncode == 128 + signal.SIGTERM, log_path.read_text()[-3000:]
    deadline = time.monotonic() + 10
    while _processes_using(workdir) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _processes_using(workdir) == []
