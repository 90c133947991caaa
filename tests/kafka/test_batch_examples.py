"""The project-batch examples under topics/ match the published JSON schema
and decode as the consumer decodes them."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import msgpack
import pytest

from consumers.messages import ProjectBatch, decode_project_batch, encode_project_batch

TOPICS = Path(__file__).resolve().parents[2] / "topics"
SCHEMA = json.loads((TOPICS / "schemas/project-batch.v1.schema.json").read_text())
EXAMPLES = sorted((TOPICS / "examples/backfill-project-batches/1").glob("*.json"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_matches_schema_and_decodes(path: Path) -> None:
    example = json.loads(path.read_text())
    jsonschema.validate(example, SCHEMA)
    batch = decode_project_batch(msgpack.packb(example))
    assert example.items() <= msgpack.unpackb(encode_project_batch(batch)).items()


@pytest.mark.parametrize(
    "batch",
    [
        ProjectBatch(run_id="r", project_id=3),
        ProjectBatch(run_id="r", project_id=3, cursor=9, min_group_id=4, chains=2),
        ProjectBatch(run_id="r", project_id=None, worker_number=0, total_workers=2),
    ],
)
def test_encoded_messages_match_schema(batch: ProjectBatch) -> None:
    jsonschema.validate(msgpack.unpackb(encode_project_batch(batch)), SCHEMA)


def test_schema_lists_every_message_field() -> None:
    assert set(SCHEMA["properties"]) == set(ProjectBatch.__dataclass_fields__)
