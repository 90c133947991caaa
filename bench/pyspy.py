"""Sample the consumer with py-spy and summarise where its CPU time goes.

`py-spy record --nonblocking --threads --subprocesses --format raw` writes
one line per distinct stack, `frame;frame;... count`, with the thread (and,
for worker processes, the process) as the first frames. py-spy leaves out
threads it detects as idle, so the counts approximate CPU time. Each stack is
charged to the pipeline stage whose module it passes through, else to
"other" (Arroyo's loop, Kafka client calls, thread pools).
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

# Module paths that identify a stage, checked in this order.
_STAGE_MODULES = (
    ("hashing", ("pipeline/hashing.py", "consumers/grouping/")),
    ("lookup", ("pipeline/lookup.py",)),
    ("seer", ("pipeline/seer.py", "consumers/seer/")),
    ("onward", ("pipeline/onward.py",)),
    ("decode", ("pipeline/decode.py",)),
)


# Samples in which py-spy read a thread but no Python frame of it.
UNATTRIBUTED = "no Python frame"


@dataclass(frozen=True)
class Profile:
    """Sample counts by stage and by innermost function."""

    samples: int
    by_stage: dict[str, int]
    top_functions: list[tuple[str, int]]
    path: str


def stage_of(frames: list[str]) -> str:
    for stage, markers in _STAGE_MODULES:
        if any(marker in frame for frame in frames for marker in markers):
            return stage
    return "other"


def parse_raw(
    text: str, top: int = 12
) -> tuple[int, dict[str, int], list[tuple[str, int]]]:
    """Aggregate py-spy's raw output into (samples, by stage, top functions)."""
    by_stage: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    total = 0
    for line in text.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        total += count
        leaf = frames[-1]
        if leaf.startswith(("thread ", "process ")):
            by_stage[UNATTRIBUTED] += count
            continue
        by_stage[stage_of(frames)] += count
        leaves[leaf] += count
    return total, dict(by_stage), leaves.most_common(top)


class Recorder:
    """A running `py-spy record` attached to one process."""

    def __init__(self, process: subprocess.Popen[bytes], path: Path) -> None:
        self.process = process
        self.path = path

    def finish(self) -> Profile | None:
        """Wait for py-spy (it stops when the target exits) and parse its output."""
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.terminate()
            self.process.wait()
        if not self.path.exists():
            logger.warning("py-spy wrote no profile to %s", self.path)
            return None
        total, by_stage, top = parse_raw(self.path.read_text())
        return Profile(total, by_stage, top, str(self.path))


def executable() -> str | None:
    local = Path(sys.executable).with_name("py-spy")
    if local.exists():
        return str(local)
    return shutil.which("py-spy")


def start(pid: int, path: Path, rate: int = 100) -> Recorder | None:
    """Start recording `pid` and its subprocesses; None when py-spy is missing."""
    binary = executable()
    if binary is None:
        logger.warning("py-spy is not installed; skipping the profile")
        return None
    command = [
        binary,
        "record",
        "--pid",
        str(pid),
        "--nonblocking",
        "--threads",
        "--subprocesses",
        "--rate",
        str(rate),
        "--format",
        "raw",
        "--output",
        str(path),
    ]
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    return Recorder(process, path)
