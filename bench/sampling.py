"""Sample the memory and CPU time of the processes under test.

Each role (consumer, seer, postgres, broker) is a root process and its
descendants. A role's CPU time is the user + system time of the root, of its
children that exited and were waited for, and of its live descendants. A
descendant that exited but is not yet waited for is missing until it is.
RSS is sampled for the consumer role only: the sum of VmRSS of the
root and its live descendants (`psutil.memory_info().rss`), so pages shared
after a fork count once per process.

Role `machine` is the busy CPU time of the whole machine, which includes
other work running on a shared machine.

PostgreSQL's CPU time is also split by client: the benchmark starts the
consumer and the Seer-compatible service with `PGAPPNAME` set, and each
sample charges every server process to the `application_name` that
`pg_stat_activity` shows for it (roles `postgres:<name>`). A connection that
closes during the run takes its CPU time with it, so these roles count only
long-lived (pooled) connections.
"""

from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import psutil
import psycopg


@dataclass(frozen=True)
class Sample:
    """One reading: epoch seconds, consumer RSS in bytes, CPU seconds by role."""

    time: float
    rss_bytes: int
    cpu_seconds: Mapping[str, float]


def _cpu_of_tree(root: psutil.Process) -> float:
    times = root.cpu_times()
    total = times.user + times.system + times.children_user + times.children_system
    for child in root.children(recursive=True):
        try:
            child_times = child.cpu_times()
        except psutil.Error:
            continue
        total += child_times.user + child_times.system
    return total


def _rss_of_tree(root: psutil.Process) -> int:
    total = root.memory_info().rss
    for child in root.children(recursive=True):
        try:
            total += child.memory_info().rss
        except psutil.Error:
            continue
    return total


class ProcessSampler:
    """Samples every `interval_seconds` on a daemon thread until `stop()`."""

    def __init__(
        self,
        consumer: psutil.Process,
        others: Mapping[str, psutil.Process | None],
        interval_seconds: float = 0.25,
        database_url: str | None = None,
    ) -> None:
        self.consumer = consumer
        self.database_url = database_url
        self._conn: psycopg.Connection[tuple[int, str]] | None = None
        self.others = {role: p for role, p in others.items() if p is not None}
        self.interval_seconds = interval_seconds
        self.samples: list[Sample] = []
        self.peak_hwm_bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name="bench-sampler", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        if self._conn is not None:
            self._conn.close()

    def _cpu_by_client(self) -> dict[str, float]:
        """CPU seconds of PostgreSQL server processes by application name."""
        if self.database_url is None:
            return {}
        try:
            if self._conn is None:
                self._conn = psycopg.connect(
                    self.database_url,
                    autocommit=True,
                    application_name="bench-sampler",
                )
            rows = self._conn.execute(
                "SELECT pid, application_name FROM pg_stat_activity "
                "WHERE datname = current_database() AND application_name <> ''"
            ).fetchall()
        except psycopg.Error:
            return {}
        cpu: dict[str, float] = {}
        for pid, name in rows:
            try:
                times = psutil.Process(pid).cpu_times()
            except psutil.Error:
                continue
            role = f"postgres:{name}"
            cpu[role] = cpu.get(role, 0.0) + times.user + times.system
        return cpu

    def _read(self) -> Sample | None:
        try:
            rss = _rss_of_tree(self.consumer)
            cpu = {"consumer": _cpu_of_tree(self.consumer)}
            self.peak_hwm_bytes = max(self.peak_hwm_bytes, _vm_hwm(self.consumer.pid))
        except psutil.Error:
            return None
        for role, process in self.others.items():
            try:
                cpu[role] = _cpu_of_tree(process)
            except psutil.Error:
                continue
        cpu.update(self._cpu_by_client())
        cpu["machine"] = _machine_busy_seconds()
        return Sample(time.time(), rss, cpu)

    def _run(self) -> None:
        while True:
            sample = self._read()
            if sample is not None:
                self.samples.append(sample)
            if self._stop.wait(self.interval_seconds):
                return


def _machine_busy_seconds() -> float:
    """CPU seconds every process of the machine used since boot (not idle)."""
    times = psutil.cpu_times()
    # Linux counts guest time inside user time, so it is not added again.
    return times.user + times.nice + times.system + times.irq + times.softirq


def _vm_hwm(pid: int) -> int:
    """Return the kernel's peak resident set size (VmHWM) of a process, in bytes."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def sample_at(samples: Sequence[Sample], when: float) -> Sample:
    """Return the last sample taken at or before `when`, else the first one."""
    if not samples:
        raise ValueError("no samples were taken")
    times = [s.time for s in samples]
    index = bisect.bisect_right(times, when) - 1
    return samples[max(index, 0)]


def cpu_between(
    samples: Sequence[Sample], start: float, end: float
) -> dict[str, float]:
    """CPU seconds used by each role between two epoch times."""
    first = sample_at(samples, start)
    last = sample_at(samples, end)
    return {
        role: last.cpu_seconds[role] - first.cpu_seconds.get(role, 0.0)
        for role in last.cpu_seconds
    }
