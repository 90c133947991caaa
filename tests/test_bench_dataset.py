"""The benchmark's dataset build leaves no worker behind."""

from __future__ import annotations

import multiprocessing
import signal

import pytest

from bench import dataset, stage_cpu


def test_build_joins_its_workers(own_database: str) -> None:
    config = dataset.DatasetConfig(groups=60, sdk_events=40)
    info = dataset.build_dataset(own_database, config)
    assert info.reused is False
    assert multiprocessing.active_children() == []


def test_workers_end_on_sigterm() -> None:
    # Workers are forked from the benchmark, whose SIGTERM handler raises
    # SystemExit. In a worker, SIGTERM must end the process instead.
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: None)
    try:
        dataset._init_worker([])
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_sample_needs_twice_its_size(own_database: str) -> None:
    with pytest.raises(ValueError, match="contains 0 payloads"):
        stage_cpu.hashing_versus_parsing(own_database, 5)
