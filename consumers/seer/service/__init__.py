"""A Seer-compatible HTTP service for tests, the demo and benchmarks.

Run it with `seer-backfill seer-local`, or embed it:

    with SeerService(database_url, secret="s", faults=FaultConfig()) as service:
        client = SeerClient(SeerClientConfig(base_url=service.url, secret="s"))
"""

from consumers.seer.service.faults import FaultConfig, FaultDecision, FaultInjector
from consumers.seer.service.server import SeerService
from consumers.seer.service.stats import NO_RESPONSE, StatsSnapshot
from consumers.seer.service.store import DEFAULT_SCHEMA, RecordStore

__all__ = [
    "DEFAULT_SCHEMA",
    "NO_RESPONSE",
    "FaultConfig",
    "FaultDecision",
    "FaultInjector",
    "RecordStore",
    "SeerService",
    "StatsSnapshot",
]
