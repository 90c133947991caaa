"""Fixtures for the Seer client and the Seer-compatible service.

Each test gets its own PostgreSQL schema for the service's records table, so
record counts never include another test's rows.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from consumers.seer import RetryPolicy, SeerClient, SeerClientConfig
from consumers.seer.service import FaultConfig, SeerService

FAST_RETRY = RetryPolicy(
    max_attempts=3, backoff_initial_seconds=0.01, backoff_max_seconds=0.05
)

ServiceFactory = Callable[..., SeerService]
ClientFactory = Callable[..., SeerClient]


def stacktrace(name: str, frames: int = 12) -> str:
    """A Seer-style stacktrace string whose frames are named after `name`."""
    lines = [f"{name}Error: something about {name} failed"]
    for index in range(frames):
        lines.append(f'  File "app/{name}/module_{index}.py", function {name}_{index}')
        lines.append(f"    result = compute_{name}_{index}(value, other_{index})")
    return "\n".join(lines)


def md5_like(seed: str) -> str:
    """A deterministic 32-hex-digit hash for a test record."""
    return uuid.uuid5(uuid.NAMESPACE_OID, seed).hex


@pytest.fixture
def make_service(database_url: str) -> Iterator[ServiceFactory]:
    """Start services with a schema of their own; stop them after the test."""
    services: list[SeerService] = []
    schema = f"seer_test_{uuid.uuid4().hex[:10]}"

    def make(
        *, secret: str | None = None, faults: FaultConfig | None = None, **kwargs: Any
    ) -> SeerService:
        service = SeerService(
            database_url, secret=secret, faults=faults, schema=schema, **kwargs
        )
        service.start()
        services.append(service)
        return service

    yield make
    for service in services:
        service.stop()


@pytest.fixture
def service(make_service: ServiceFactory) -> SeerService:
    return make_service()


@pytest.fixture
def make_client() -> Iterator[ClientFactory]:
    """Build clients with fast retries by default; close them after the test."""
    clients: list[SeerClient] = []

    def make(service: SeerService, **overrides: Any) -> SeerClient:
        settings: dict[str, Any] = {
            "base_url": service.url,
            "timeout_seconds": 5.0,
            "retry": FAST_RETRY,
        }
        settings.update(overrides)
        observer = settings.pop("observer", None)
        client = SeerClient(SeerClientConfig(**settings), observer=observer)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def client(service: SeerService, make_client: ClientFactory) -> SeerClient:
    return make_client(service)


@pytest.fixture
def make_stacktrace() -> Callable[..., str]:
    return stacktrace


@pytest.fixture
def make_hash() -> Callable[[str], str]:
    return md5_like
