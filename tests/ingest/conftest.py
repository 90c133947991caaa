from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from consumers.samples import write_envelopes

REPO_ROOT = Path(__file__).resolve().parents[2]
# Number of SDK-generated events in `envelope_dir`.
GENERATED_COUNT = 120


def reference_dir() -> Path:
    shared = Path(
        os.environ.get("SEER_BACKFILL_SHARED_DIR", REPO_ROOT.parent / "shared")
    )
    return shared / "reference"


@pytest.fixture(scope="session")
def sentry_samples_dir() -> Path:
    path = reference_dir() / "sentry-samples"
    if not path.is_dir():
        pytest.skip(
            f"reference samples not found at {path}; set SEER_BACKFILL_SHARED_DIR"
        )
    return path


@pytest.fixture(scope="session")
def envelope_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """SDK-generated envelopes, timestamps over the 7 days before now."""
    directory = tmp_path_factory.mktemp("envelopes")
    write_envelopes(GENERATED_COUNT, directory, seed=11)
    return directory


@pytest.fixture
def conn(clean_database: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(clean_database, autocommit=True) as connection:
        yield connection


@pytest.fixture(scope="session")
def generated_count() -> int:
    """Number of events in `envelope_dir`."""
    return GENERATED_COUNT
