"""Topic definitions, idempotent creation, and the `topics` command."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner
from confluent_kafka.admin import AdminClient

from consumers.cli.topics import topics
from consumers.kafka.topics import (
    CreationStatus,
    TopicDefinitionError,
    config_differences,
    create_topics,
    default_topics_dir,
    load_topic_definitions,
    parse_topic_definition,
)

DEFINITION = """\
topic: {name}
description: >
  A test topic.
services:
  producers: [seer-backfill schedule]
  consumers: [seer-backfill run]
schemas:
  - version: 1
    type: msgpack
    resource: schemas/x.json
    examples: [examples/x/1/]
topic_creation_config:
  compression.type: lz4
  retention.ms: 604800000
  cleanup.policy: delete
"""


def write(directory: Path, name: str, text: str | None = None) -> Path:
    path = directory / f"{name}.yaml"
    path.write_text(text if text is not None else DEFINITION.format(name=name))
    return path


def test_parse_definition(tmp_path: Path) -> None:
    definition = parse_topic_definition(write(tmp_path, "t1"))
    assert definition.name == "t1"
    assert definition.description == "A test topic."
    assert definition.producers == ("seer-backfill schedule",)
    assert definition.schemas[0].type == "msgpack"
    assert definition.schemas[0].examples == ("examples/x/1/",)
    # YAML integers become the strings Kafka expects.
    assert definition.creation_config["retention.ms"] == "604800000"


def test_parse_without_topic_key(tmp_path: Path) -> None:
    text = DEFINITION.format(name="x").replace("topic: x\n", "")
    assert parse_topic_definition(write(tmp_path, "plain", text)).name == "plain"


def test_parse_topic_key_mismatch(tmp_path: Path) -> None:
    with pytest.raises(TopicDefinitionError, match="differs from the file name"):
        parse_topic_definition(write(tmp_path, "a", DEFINITION.format(name="b")))


def test_parse_missing_description(tmp_path: Path) -> None:
    with pytest.raises(TopicDefinitionError, match="description is missing"):
        parse_topic_definition(write(tmp_path, "t", "topic_creation_config: {}\n"))


def test_parse_invalid_yaml(tmp_path: Path) -> None:
    with pytest.raises(TopicDefinitionError, match="cannot read"):
        parse_topic_definition(write(tmp_path, "t", "description: [unclosed\n"))


def test_load_sorted(tmp_path: Path) -> None:
    write(tmp_path, "b")
    write(tmp_path, "a")
    assert [d.name for d in load_topic_definitions(tmp_path)] == ["a", "b"]


def test_load_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(TopicDefinitionError, match="not found"):
        load_topic_definitions(tmp_path / "none")


def test_load_empty_directory(tmp_path: Path) -> None:
    with pytest.raises(TopicDefinitionError, match=r"no \*\.yaml"):
        load_topic_definitions(tmp_path)


def test_project_definitions_load() -> None:
    directory = default_topics_dir()
    if not directory.is_dir():
        pytest.skip(f"no topic definitions at {directory}")
    names = {d.name for d in load_topic_definitions(directory)}
    assert {
        "backfill-project-batches",
        "backfill-project-batches-dlq",
        "outcomes",
    } <= names


def test_default_dir_from_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SEER_BACKFILL_TOPICS_DIR", str(tmp_path))
    assert default_topics_dir() == tmp_path


def test_create_idempotent(admin: AdminClient, tmp_path: Path) -> None:
    name = f"def-{uuid.uuid4().hex[:8]}"
    definitions = [parse_topic_definition(write(tmp_path, name))]
    first = create_topics(admin, definitions, partitions=3)
    second = create_topics(admin, definitions, partitions=5)
    assert [(r.status, r.partitions) for r in first] == [(CreationStatus.CREATED, 3)]
    assert [(r.status, r.partitions) for r in second] == [(CreationStatus.EXISTS, 3)]
    assert not first[0].partitions_differ
    assert second[0].requested_partitions == 5
    assert second[0].partitions_differ
    assert config_differences(admin, definitions) == {}


def test_config_differences(admin: AdminClient, tmp_path: Path) -> None:
    name = f"def-{uuid.uuid4().hex[:8]}"
    path = write(tmp_path, name)
    create_topics(admin, [parse_topic_definition(path)], partitions=1)
    path.write_text(DEFINITION.format(name=name).replace("604800000", "1000"))
    differences = config_differences(admin, [parse_topic_definition(path)])
    assert differences == {name: {"retention.ms": ("1000", "604800000")}}


def test_cli_create_and_list(bootstrap_servers: str, tmp_path: Path) -> None:
    name = f"cli-{uuid.uuid4().hex[:8]}"
    write(tmp_path, name)
    common = ["--bootstrap-servers", bootstrap_servers, "--topics-dir", str(tmp_path)]
    runner = CliRunner()
    created = runner.invoke(topics, ["create", *common, "--partitions", "2"])
    again = runner.invoke(topics, ["create", *common, "--partitions", "2"])
    listed = runner.invoke(topics, ["list", *common, "--format", "json"])
    table = runner.invoke(topics, ["list", *common])
    assert created.exit_code == 0, created.output
    assert created.stdout.strip() == f"{name}: created (2 partitions)"
    assert again.stdout.strip() == f"{name}: exists (2 partitions)"
    assert again.stderr == ""
    (row,) = json.loads(listed.stdout)
    assert (row["topic"], row["exists"], row["partitions"]) == (name, True, 2)
    assert row["config_differences"] == {}
    assert table.stdout.splitlines()[1].split() == [name, "yes", "2", "ok"]


@pytest.mark.parametrize("requested", [None, "4"])
def test_cli_create_partition_mismatch_warns(
    bootstrap_servers: str, tmp_path: Path, requested: str | None
) -> None:
    name = f"cli-{uuid.uuid4().hex[:8]}"
    write(tmp_path, name)
    common = ["--bootstrap-servers", bootstrap_servers, "--topics-dir", str(tmp_path)]
    runner = CliRunner()
    created = runner.invoke(topics, ["create", *common, "--partitions", "2"])
    assert created.exit_code == 0, created.output
    # Without --partitions, the default of 8 is the requested count.
    extra = [] if requested is None else ["--partitions", requested]
    again = runner.invoke(topics, ["create", *common, *extra])
    count = requested or "8"
    assert again.exit_code == 0, again.output
    assert again.stdout.strip() == (
        f"{name}: exists (2 partitions, not the {count} of --partitions)"
    )
    assert again.stderr.startswith(
        f"warning: topic '{name}' has 2 partitions, not the {count} requested "
        "with --partitions, and was left unchanged."
    )
    assert "recreate the topic" in again.stderr
    listed = runner.invoke(topics, ["list", *common, "--format", "json"])
    (row,) = json.loads(listed.stdout)
    assert row["partitions"] == 2


def test_cli_list_missing_topic(bootstrap_servers: str, tmp_path: Path) -> None:
    name = f"absent-{uuid.uuid4().hex[:8]}"
    write(tmp_path, name)
    result = CliRunner().invoke(
        topics,
        [
            "list",
            "--bootstrap-servers",
            bootstrap_servers,
            "--topics-dir",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1].split() == [name, "no", "-", "-"]


def test_cli_bad_definitions(tmp_path: Path) -> None:
    result = CliRunner().invoke(topics, ["create", "--topics-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "no *.yaml topic definitions" in result.stderr


def test_cli_bad_replication_factor(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        topics, ["create", "--topics-dir", str(tmp_path), "--replication-factor", "0"]
    )
    assert result.exit_code == 2
