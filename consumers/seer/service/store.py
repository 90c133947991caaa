"""PostgreSQL storage and neighbour search of the local Seer service.

Records live in `<schema>.seer_grouping_records`, unique on
(project_id, hash), with their embedding (`DIMENSIONS` int16 components).
Their bucket keys (see `embedding`) are rows of
`<schema>.seer_grouping_buckets`, whose primary key (bucket_key, record_id)
is a btree: a neighbour search probes it once per bucket key of the query,
reads at most `candidate_limit` records per key, and computes exact cosine
distances on those only. The search is therefore approximate. It misses a
record within the threshold that shares no bucket with the query, or that
lies beyond the per-key limit of a crowded bucket, and then stores the new
record as if it had no neighbour.

Like Seer, two concurrent requests do not see each other's uncommitted
records, so two near-identical records sent at the same moment may both be
stored.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import psycopg
from psycopg import Connection, sql
from psycopg.rows import TupleRow
from psycopg_pool import ConnectionPool

from consumers.seer.service.embedding import (
    BANDS,
    Embedding,
    bucket_keys,
    cosine_distance,
    embed,
)

logger = logging.getLogger(__name__)

DEFAULT_SCHEMA = "seer_local"
TABLE = "seer_grouping_records"
BUCKETS_TABLE = "seer_grouping_buckets"
DEFAULT_CANDIDATE_LIMIT = 32

_DDL = """
CREATE SCHEMA IF NOT EXISTS {schema};
CREATE TABLE IF NOT EXISTS {records} (
    id             bigserial PRIMARY KEY,
    project_id     bigint NOT NULL,
    hash           text NOT NULL,
    exception_type text,
    embedding      bytea NOT NULL,
    bucket_keys    bigint[] NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (project_id, hash)
);
CREATE TABLE IF NOT EXISTS {buckets} (
    bucket_key bigint NOT NULL,
    record_id  bigint NOT NULL,
    PRIMARY KEY (bucket_key, record_id)
);
-- A GIN index on bucket_keys would slow every insert, and the planner skips
-- it for the per-key LIMIT queries in favour of a sequential scan.
DROP INDEX IF EXISTS {gin_index};
"""

# Deletes remove the bucket rows of the deleted records in the same statement;
# there is no foreign key, whose per-row checks would slow every insert.
_DELETE = """
WITH deleted AS (
    DELETE FROM {records} WHERE {condition} RETURNING id, bucket_keys
), unbucketed AS (
    DELETE FROM {buckets}
    WHERE (bucket_key, record_id) IN (
        SELECT unnest(bucket_keys), id FROM deleted
    )
)
SELECT count(*) FROM deleted
"""

# One statement stores a batch: the records that are new, then their bucket
# rows. Bucket keys arrive as one flat array, `BANDS` keys per record.
_INSERT = """
WITH batch AS (
    SELECT * FROM unnest(
        %(project_ids)s::bigint[], %(hashes)s::text[],
        %(exception_types)s::text[], %(embeddings)s::bytea[]
    ) WITH ORDINALITY AS b (project_id, hash, exception_type, embedding, position)
), inserted AS (
    INSERT INTO {records} (project_id, hash, exception_type, embedding, bucket_keys)
    SELECT project_id, hash, exception_type, embedding,
           (%(keys)s::bigint[])[(position - 1) * {bands} + 1 : position * {bands}]
    FROM batch
    ON CONFLICT (project_id, hash) DO NOTHING
    RETURNING id, bucket_keys
)
INSERT INTO {buckets} (bucket_key, record_id)
SELECT DISTINCT unnest(bucket_keys), id FROM inserted
"""

# The per-key LIMIT bounds the work of a crowded bucket. A record found through
# several keys is read once, with the list of those keys.
_CANDIDATES = """
WITH hits AS (
    SELECT k.key, b.record_id
    FROM unnest(%s::bigint[]) AS k (key)
    CROSS JOIN LATERAL (
        SELECT record_id FROM {buckets} WHERE bucket_key = k.key LIMIT %s
    ) AS b
)
SELECT r.project_id, r.hash, r.embedding, h.keys
FROM (SELECT record_id, array_agg(key) AS keys FROM hits GROUP BY record_id) AS h
JOIN {records} AS r ON r.id = h.record_id
"""


@dataclass(frozen=True)
class NewRecord:
    """A record to store, with its embedding and bucket keys computed."""

    group_id: int
    project_id: int
    hash: str
    exception_type: str | None
    embedding: Embedding
    keys: tuple[int, ...]

    @classmethod
    def build(
        cls,
        *,
        group_id: int,
        project_id: int,
        hash: str,
        exception_type: str | None,
        stacktrace: str,
    ) -> NewRecord:
        embedding = embed(stacktrace)
        return cls(
            group_id=group_id,
            project_id=project_id,
            hash=hash,
            exception_type=exception_type,
            embedding=embedding,
            keys=tuple(bucket_keys(project_id, embedding)),
        )


@dataclass(frozen=True)
class Neighbor:
    """A stored record near a query, `distance` being the cosine distance."""

    hash: str
    distance: float


@dataclass(frozen=True)
class _Candidate:
    project_id: int
    hash: str
    embedding: Embedding


class RecordStore:
    """The service's tables, behind a psycopg connection pool.

    `open` creates the schema, tables and indexes when missing (idempotent,
    and serialised with an advisory lock so two services may start at once).
    """

    def __init__(
        self,
        database_url: str,
        *,
        schema: str = DEFAULT_SCHEMA,
        pool_size: int = 10,
        candidate_limit: int = DEFAULT_CANDIDATE_LIMIT,
    ) -> None:
        self.schema = schema
        self.candidate_limit = candidate_limit
        self._database_url = database_url
        names = {
            "schema": sql.Identifier(schema),
            "records": sql.Identifier(schema, TABLE),
            "buckets": sql.Identifier(schema, BUCKETS_TABLE),
            "bands": sql.Literal(BANDS),
            "gin_index": sql.Identifier(schema, f"{TABLE}_bucket_keys"),
        }
        self._records = names["records"]
        self._ddl = sql.SQL(_DDL).format(**names)
        self._insert = sql.SQL(_INSERT).format(**names)
        self._candidates_query = sql.SQL(_CANDIDATES).format(**names)
        self._delete_project = sql.SQL(_DELETE).format(
            condition=sql.SQL("project_id = %s"), **names
        )
        self._delete_hashes = sql.SQL(_DELETE).format(
            condition=sql.SQL("project_id = %s AND hash = ANY(%s::text[])"), **names
        )
        self._pool = ConnectionPool(
            database_url,
            min_size=1,
            max_size=pool_size,
            open=False,
            name="seer-local",
        )

    def open(self) -> None:
        """Create the tables, then open the pool; raise `psycopg.Error` on failure.

        The tables are created over a connection of its own, so an unreachable
        database fails at once with the driver's error.
        """
        with psycopg.connect(self._database_url) as conn:
            conn.execute("SELECT pg_advisory_xact_lock(hashtext('seer_local_ddl'))")
            conn.execute(self._ddl)
        try:
            self._pool.open(wait=True, timeout=10.0)
        except BaseException:
            self._pool.close()
            raise

    def close(self) -> None:
        self._pool.close(timeout=5.0)

    def count(self) -> int:
        query = sql.SQL("SELECT count(*) FROM {}").format(self._records)
        with self._pool.connection() as conn:
            row = conn.execute(query).fetchone()
        return int(row[0]) if row else 0

    def insert_batch(
        self, records: Sequence[NewRecord], threshold: float
    ) -> dict[int, Neighbor]:
        """Store each record unless another hash lies within `threshold`.

        Records are considered in order, as Seer does: a record may be the
        neighbour of a later record of the same batch. Returns group id ->
        nearest neighbour for every record not stored. A record whose
        (project id, hash) already exists is left as it is.
        """
        with self._pool.connection() as conn:
            stored = self._candidates(conn, {key for r in records for key in r.keys})
            accepted: dict[int, list[_Candidate]] = defaultdict(list)
            accepted_identities: set[tuple[int, str]] = set()
            neighbors: dict[int, Neighbor] = {}
            new_records: list[NewRecord] = []
            for record in records:
                pools = [stored.get(key, ()) for key in record.keys]
                pools += [accepted.get(key, ()) for key in record.keys]
                nearest = _nearest(record, pools, threshold, k=1)
                if nearest:
                    neighbors[record.group_id] = nearest[0]
                    continue
                identity = (record.project_id, record.hash)
                if identity in accepted_identities:
                    continue
                accepted_identities.add(identity)
                candidate = _Candidate(record.project_id, record.hash, record.embedding)
                for key in record.keys:
                    accepted[key].append(candidate)
                new_records.append(record)
            self._insert_records(conn, new_records)
        return neighbors

    def search(
        self,
        record: NewRecord,
        *,
        max_distance: float,
        k: int,
        insert_threshold: float | None,
    ) -> list[Neighbor]:
        """Return up to `k` records within `max_distance`, nearest first.

        With `insert_threshold` set, also store `record` when no returned
        neighbour lies within it (the similar-issues endpoint's write mode).
        """
        with self._pool.connection() as conn:
            stored = self._candidates(conn, set(record.keys))
            pools = [stored.get(key, ()) for key in record.keys]
            nearest = _nearest(record, pools, max_distance, k)
            if insert_threshold is not None and not any(
                neighbor.distance <= insert_threshold for neighbor in nearest
            ):
                self._insert_records(conn, [record])
        return nearest

    def delete_project(self, project_id: int) -> int:
        """Delete every record of a project; return how many were deleted."""
        return self._delete(self._delete_project, (project_id,))

    def delete_hashes(self, project_id: int, hashes: Sequence[str]) -> int:
        """Delete a project's records with these hashes; return the count."""
        if not hashes:
            return 0
        return self._delete(self._delete_hashes, (project_id, list(hashes)))

    def _delete(self, query: sql.Composed, params: tuple[object, ...]) -> int:
        with self._pool.connection() as conn:
            row = conn.execute(query, params).fetchone()
        return int(row[0]) if row else 0

    def _insert_records(
        self, conn: Connection[TupleRow], records: Sequence[NewRecord]
    ) -> None:
        if not records:
            return
        conn.execute(
            self._insert,
            {
                "project_ids": [record.project_id for record in records],
                "hashes": [record.hash for record in records],
                "exception_types": [record.exception_type for record in records],
                "embeddings": [record.embedding.to_bytes() for record in records],
                "keys": [key for record in records for key in record.keys],
            },
        )

    def _candidates(
        self, conn: Connection[TupleRow], keys: set[int]
    ) -> dict[int, list[_Candidate]]:
        """Read up to `candidate_limit` stored records per bucket key."""
        if not keys:
            return {}
        by_key: dict[int, list[_Candidate]] = defaultdict(list)
        with conn.cursor() as cursor:
            cursor.execute(self._candidates_query, (sorted(keys), self.candidate_limit))
            for project_id, record_hash, embedding, hit_keys in cursor:
                candidate = _Candidate(
                    project_id, record_hash, Embedding.from_bytes(embedding)
                )
                for key in hit_keys:
                    by_key[key].append(candidate)
        return by_key


def _nearest(
    record: NewRecord,
    pools: Iterable[Iterable[_Candidate]],
    max_distance: float,
    k: int,
) -> list[Neighbor]:
    """Return the `k` candidates nearest to `record` within `max_distance`.

    Skips candidates of another project and those with the record's own hash,
    as Seer's query does.
    """
    distances: dict[str, float] = {}
    for pool in pools:
        for candidate in pool:
            if candidate.project_id != record.project_id:
                continue
            if candidate.hash == record.hash or candidate.hash in distances:
                continue
            distances[candidate.hash] = cosine_distance(
                record.embedding, candidate.embedding
            )
    within = sorted(
        (distance, candidate_hash)
        for candidate_hash, distance in distances.items()
        if distance <= max_distance
    )
    return [Neighbor(hash=h, distance=distance) for distance, h in within[:k]]
