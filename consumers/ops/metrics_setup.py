"""Multiprocess mode of prometheus_client, chosen before the library is imported.

Arroyo's `RunTaskWithMultiprocessing` runs the transform in worker processes
started with the `spawn` method. Arroyo does not forward metrics from those
workers: each worker starts without the parent's state, and the pool's
`initializer` is where a worker configures its own metrics backend. For a
pull-based backend such as Prometheus, the standard mechanism is
prometheus_client's multiprocess mode: every process writes its samples to
memory-mapped files in `PROMETHEUS_MULTIPROC_DIR`, and the HTTP endpoint of
the parent aggregates them.

prometheus_client reads that variable when it is first imported, so
`prepare_multiprocess_dir` runs before `consumers.ops.metrics` imports it.
Workers inherit the variable from the parent's environment and write to the
same directory.
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path

logger = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Set beside MULTIPROC_ENV when this module created the directory, so that a
# separate seer-backfill command started from this process (a test, the
# benchmark) can tell an inherited directory from one the user configured.
CREATED_BY_ENV = "SEER_BACKFILL_METRICS_DIR_CREATED_BY"


def forget_inherited_dir() -> None:
    """Drop a metrics directory inherited from another seer-backfill process.

    Call at the start of a command, before anything imports prometheus_client.
    Arroyo's spawned workers do not run commands, so they keep the directory
    of their consumer; a user-configured directory is kept too.
    """
    if os.environ.pop(CREATED_BY_ENV, None) is not None:
        os.environ.pop(MULTIPROC_ENV, None)


def _remove_directory(path: str, owner_pid: int) -> None:
    # Forked children run atexit handlers too; only the creator removes it.
    if os.getpid() == owner_pid:
        shutil.rmtree(path, ignore_errors=True)


def _switch_loaded_client() -> None:
    """Make an already imported prometheus_client create multiprocess values.

    prometheus_client picks its value class when `prometheus_client.values`
    is imported, and every metric looks the class up when it is created. So
    metrics created from here on are multiprocess; metrics created before
    (by another library) stay in this process and are not exported.
    """
    if "prometheus_client.values" not in sys.modules:
        return
    from prometheus_client import values

    if getattr(values.ValueClass, "_multiprocess", False):
        return
    # NOTE: this relies on prometheus_client's module attribute
    # `values.ValueClass`, present from 0.10 to at least 0.26.
    values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]
    logger.debug("switched the loaded prometheus_client to multiprocess mode")


def prepare_multiprocess_dir() -> Path:
    """Set `PROMETHEUS_MULTIPROC_DIR` to a fresh directory unless it is set.

    A directory given by the environment is created if missing and kept at
    exit; it must be emptied between runs, as prometheus_client documents.
    A directory created here is removed when this process exits. Works even
    when prometheus_client was imported first (see `_switch_loaded_client`).
    """
    configured = os.environ.get(MULTIPROC_ENV) or os.environ.get(MULTIPROC_ENV.lower())
    if configured:
        path = Path(configured)
        path.mkdir(parents=True, exist_ok=True)
    else:
        path = Path(tempfile.mkdtemp(prefix="seer-backfill-metrics-"))
        os.environ[MULTIPROC_ENV] = str(path)
        os.environ[CREATED_BY_ENV] = str(os.getpid())
        atexit.register(_remove_directory, str(path), os.getpid())
    _switch_loaded_client()
    return path
